package yamltext

import (
	"strings"
	"testing"
)

func TestScalarEnd(t *testing.T) {
	for _, tc := range []struct {
		line string
		off  int
		flow bool
		want string // the token, or "" for -1
	}{
		{`key: value`, 5, false, "value"},
		{`key: value  # comment`, 5, false, "value"},
		{`key: "a \" b" # c`, 5, false, `"a \" b"`},
		{`key: 'it''s' # c`, 5, false, `'it''s'`},
		{`key: "open`, 5, false, ""},
		{`{a: b, c: d}`, 4, true, "b"},
		{`{a: b, c: d}`, 4, false, "b, c: d}"},
		{`key: a#b`, 5, false, "a#b"},
	} {
		got := ScalarEnd(tc.line, tc.off, tc.flow)
		if tc.want == "" {
			if got != -1 {
				t.Errorf("%q at %d: got %d, want -1", tc.line, tc.off, got)
			}
			continue
		}
		if got < 0 || tc.line[tc.off:got] != tc.want {
			t.Errorf("%q at %d: got %d, want token %q", tc.line, tc.off, got, tc.want)
		}
	}
}

func TestDecodeOne(t *testing.T) {
	if doc, err := DecodeOne(nil); doc != nil || err != nil {
		t.Errorf("empty: %v %v", doc, err)
	}
	if doc, err := DecodeOne([]byte("a: 1\n")); err != nil || doc == nil {
		t.Errorf("one document: %v", err)
	}
	if _, err := DecodeOne([]byte("a: 1\n---\nb: 2\n")); err == nil || !strings.Contains(err.Error(), "line 2: a second YAML document") {
		t.Errorf("two documents: %v", err)
	}
	if _, err := DecodeOne([]byte("a: [1\n")); err == nil {
		t.Error("malformed YAML accepted")
	}
}
