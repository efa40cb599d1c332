package yamltext

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// parse returns the root mapping of data and its Text.
func parse(t testing.TB, data string) (*yaml.Node, *Text) {
	t.Helper()
	doc, err := DecodeOne([]byte(data))
	if err != nil {
		t.Fatalf("%q: %v", data, err)
	}
	return Root(doc), NewText([]byte(data))
}

// apply applies the edit to t and returns the text.
func apply(t testing.TB, x *Text, edits ...Edit) string {
	t.Helper()
	out, err := x.Apply(edits...)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestLines(t *testing.T) {
	for _, tc := range []struct {
		data string
		want []string
		eol  string
	}{
		{"", nil, "\n"},
		{"a\nb", []string{"a\n", "b"}, "\n"},
		{"a\r\nb\r\nc\n", []string{"a\r\n", "b\r\n", "c\n"}, "\r\n"},
		{"a\r\nb\nc\n", []string{"a\r\n", "b\n", "c\n"}, "\n"},
	} {
		x := NewText([]byte(tc.data))
		if !reflect.DeepEqual(x.Lines, tc.want) || x.EOL != tc.eol {
			t.Errorf("%q: lines %q eol %q, want %q %q", tc.data, x.Lines, x.EOL, tc.want, tc.eol)
		}
		if strings.Join(x.Lines, "") != tc.data {
			t.Errorf("%q: the lines do not join to the text", tc.data)
		}
	}
	if b, e := CutEOL("x\r\n"); b != "x" || e != "\r\n" {
		t.Errorf("CutEOL: %q %q", b, e)
	}
	if n := Indent("   - a"); n != 3 {
		t.Errorf("Indent = %d", n)
	}
	// yaml.v3 counts columns in characters.
	if off := ByteOffset("é: ü", 4); off != 4 {
		t.Errorf("ByteOffset = %d, want 4", off)
	}
	if off := ByteOffset("ab", 4); off != -1 {
		t.Errorf("ByteOffset past the end = %d", off)
	}
}

// TestCheckBreaks: a line break yaml.v3 counts and Lines does not makes
// every position-based edit refuse the text (found by FuzzEdit: "0A:\r0B:"
// lost 0B).
func TestCheckBreaks(t *testing.T) {
	for _, in := range []string{"a: 1\rb: 2\n", "# x\na: 1\u2028b: 2\n", "a: 1\nb: \"x\u0085y\"\n", "a: 1\r\nb: {c: 1, d: \"\u2029\"}\r\n"} {
		root, x := parse(t, in)
		var ee *EditError
		if err := x.CheckBreaks(); !errors.As(err, &ee) || !strings.Contains(err.Error(), "a line break other than") {
			t.Errorf("%q: CheckBreaks = %v", in, err)
		}
		k, v := root.Content[0], root.Content[1]
		if _, err := x.SetValue(k, v, "2"); !errors.As(err, &ee) {
			t.Errorf("%q: SetValue = %v", in, err)
		}
		if _, err := x.ReplaceScalar(v, false, "2"); !errors.As(err, &ee) {
			t.Errorf("%q: ReplaceScalar = %v", in, err)
		}
	}
	if err := NewText([]byte("a: 1\r\nb: 2\n")).CheckBreaks(); err != nil {
		t.Errorf("CRLF and LF: %v", err)
	}
}

func TestApply(t *testing.T) {
	x := NewText([]byte("a: 1\nb: 2"))
	// Edits at one place apply in the order given; lines after a last
	// line without an ending get one.
	got := apply(t, x, x.InsertAfter(2, "c: 3"), x.InsertAfter(2, "d: 4"), x.InsertAfter(0, "# top"), x.SetLine(1, "a: 0"))
	if want := "# top\na: 0\nb: 2\nc: 3\nd: 4\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if _, err := x.Apply(Edit{0, 2, nil}, Edit{1, 1, []string{"x\n"}}); err == nil {
		t.Error("overlapping edits accepted")
	}
	// An insertion given after a replacement of the line it precedes
	// overlaps it.
	if _, err := x.Apply(x.SetLine(1, "a: 0"), x.InsertAfter(0, "# top")); err == nil {
		t.Error("an insertion inside a replaced range accepted")
	}
	if _, err := x.Apply(Edit{1, 3, nil}); err == nil {
		t.Error("an edit past the end accepted")
	}
	if got := apply(t, x); got != "a: 1\nb: 2" {
		t.Errorf("no edits: %q", got)
	}
	crlf := NewText([]byte("a: 1\r\n"))
	if got := apply(t, crlf, crlf.InsertAfter(1, "b: 2")); got != "a: 1\r\nb: 2\r\n" {
		t.Errorf("CRLF: %q", got)
	}
}

func TestSetValue(t *testing.T) {
	for _, tc := range []struct {
		name, in, key, text, want string
		err                       string
	}{
		{name: "in place, comment kept", in: "a: 1  # one\nb: 2\n", key: "a", text: `"x"`, want: "a: \"x\"  # one\nb: 2\n"},
		{name: "quoted", in: "a: 'it''s' # c\n", key: "a", text: `"x"`, want: "a: \"x\" # c\n"},
		{name: "nested key", in: "top:\n  a: v\n  b: w\n", key: "top.b", text: "z", want: "top:\n  a: v\n  b: z\n"},
		{name: "empty value", in: "a:\nb: 2\n", key: "a", text: `"x"`, want: "a: \"x\"\nb: 2\n"},
		{name: "block mapping value", in: "a:\n  x: 1\n  y: 2\n# after\nb: 2\n", key: "a", text: `"x"`, want: "a: \"x\"\n# after\nb: 2\n"},
		{name: "list value at the same indentation", in: "a:\n- 1\n- 2\nb: 2\n", key: "a", text: "[]", want: "a: []\nb: 2\n"},
		{name: "literal", in: "a: |\n  text\nb: 2\n", key: "a", text: "v", want: "a: v\nb: 2\n"},
		{name: "anchored", in: "a: &x 1\nb: *x\n", key: "a", text: "2", want: "a: 2\nb: *x\n"},
		{name: "CRLF", in: "a: 1\r\nb:\r\n  c: 2\r\n", key: "b", text: "3", want: "a: 1\r\nb: 3\r\n"},
		{name: "last line without an ending", in: "a:\n  b: 1", key: "a", text: "2", want: "a: 2\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, x := parse(t, tc.in)
			m := root
			path := strings.Split(tc.key, ".")
			var k, v *yaml.Node
			for i, p := range path {
				k, v = Lookup(m, p)
				if k == nil {
					t.Fatalf("no key %s", p)
				}
				if i < len(path)-1 {
					m = v
				}
			}
			e, err := x.SetValue(k, v, tc.text)
			if err != nil {
				t.Fatal(err)
			}
			if got := apply(t, x, e); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}

	// A key not where the parser put it is an EditError.
	root, x := parse(t, "a: 1\n")
	k, v := Lookup(root, "a")
	moved := *k
	moved.Column = 3
	var ee *EditError
	if _, err := x.SetValue(&moved, v, "2"); !errors.As(err, &ee) || ee.Line != 1 || !strings.Contains(err.Error(), "line 1: key a is not where the parser put it") {
		t.Errorf("moved key: %v", err)
	}
	moved.Line = 5
	if _, err := x.SetValue(&moved, v, "2"); !errors.As(err, &ee) {
		t.Errorf("key past the end: %v", err)
	}
}

func TestReplaceScalar(t *testing.T) {
	for _, tc := range []struct {
		name, in, key string
		flow          bool
		want, err     string
	}{
		{name: "block", in: "a: old # c\n", key: "a", want: "a: NEW # c\n"},
		{name: "flow", in: "m: {a: old, b: 1}\n", key: "m.a", flow: true, want: "m: {a: NEW, b: 1}\n"},
		{name: "flow, last", in: "m: {b: 1, a: 'o''ld'}\n", key: "m.a", flow: true, want: "m: {b: 1, a: NEW}\n"},
		{name: "boolean kept apart from the string", in: "a: true\n", key: "a", want: "a: NEW\n"},
		{name: "literal", in: "a: |\n  x\n", key: "a", err: "line 1: the value is not a simple scalar"},
		{name: "tagged", in: "a: !!str 1\n", key: "a", err: "line 1: the value is not a simple scalar"},
		{name: "two lines", in: "a: one\n  two\n", key: "a", err: "line 1: the value does not fit on its line"},
		{name: "open quote", in: "a: \"one\n  two\"\n", key: "a", err: "line 1: the value does not fit on its line"},
		{name: "a mapping", in: "a:\n  b: 1\n", key: "a", err: "line 2: the value is not a simple scalar"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root, x := parse(t, tc.in)
			var v *yaml.Node
			m := root
			for _, p := range strings.Split(tc.key, ".") {
				_, v = Lookup(m, p)
				m = v
			}
			e, err := x.ReplaceScalar(v, tc.flow, "NEW")
			if tc.err != "" {
				var ee *EditError
				if !errors.As(err, &ee) || err.Error() != tc.err {
					t.Fatalf("error %v, want EditError %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := apply(t, x, e); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestAddToFlowMapping(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"m: {}\n", "m: {k: v}\n"},
		{"m: {a: 1}\n", "m: {a: 1, k: v}\n"},
		{"m: {a: 1,}\n", "m: {a: 1, k: v}\n"},
		{"m: {a: '}', b: \"{\"} # {}\n", "m: {a: '}', b: \"{\", k: v} # {}\n"},
		{"m: {a: 1, # c}\n  b: [1, 2]\n  }\n", "m: {a: 1, # c}\n  b: [1, 2], k: v\n  }\n"},
		{"- {a: 1}\r\n- {b: 2}\r\n", "- {a: 1, k: v}\r\n- {b: 2}\r\n"},
	} {
		doc, err := DecodeOne([]byte(tc.in))
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		m := Root(doc)
		if m.Kind == yaml.SequenceNode {
			m = m.Content[0]
		} else {
			_, m = Lookup(m, "m")
		}
		x := NewText([]byte(tc.in))
		e, err := x.AddToFlowMapping(m, "k: v")
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		if got := apply(t, x, e); got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.in, got, tc.want)
		}
	}
	root, x := parse(t, "m: {a: 1}\n")
	_, m := Lookup(root, "m")
	moved := *m
	moved.Column = 1
	if _, err := x.AddToFlowMapping(&moved, "k: v"); err == nil || err.Error() != "line 1: the flow mapping is not where the parser put it" {
		t.Errorf("moved mapping: %v", err)
	}
}

func TestEntryEnd(t *testing.T) {
	x := NewText([]byte("a:\n  b: 1\n\n  # c\n  d: 2\n# tail\ne:\n- 1\n- 2\nf: 3\n"))
	if end := x.EntryEnd(0, 0, false); end != 4 {
		t.Errorf("a ends at line index %d, want 4", end)
	}
	if end := x.EntryEnd(6, 0, true); end != 8 {
		t.Errorf("e ends at line index %d, want 8", end)
	}
	if end := x.EntryEnd(9, 0, false); end != 9 {
		t.Errorf("f ends at line index %d, want 9", end)
	}
}

func TestErrorLine(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		// A parser error: yaml.v3 reports the line before.
		{"a:\n  b: [1,\n  c: 2\n", "f.yaml:2: yaml: did not find expected ',' or ']' in the list or mapping that starts here"},
		// A scanner error: the line as reported.
		{"a: 1\nb: \"x\n", "f.yaml:2: yaml: found unexpected end of stream"},
		{"a: 1\n---\nb: 2\n", "f.yaml:2: yaml: a second YAML document; this file holds one"},
	} {
		_, err := DecodeOne([]byte(tc.in))
		if err == nil {
			t.Fatalf("%q parsed", tc.in)
		}
		if got := FileError("f.yaml", err).Error(); got != tc.want {
			t.Errorf("%q: %s, want %s", tc.in, got, tc.want)
		}
	}
	if got := FileError("f.yaml", errors.New("yaml: other")).Error(); got != "f.yaml: yaml: other" {
		t.Errorf("no line: %s", got)
	}
}

func TestNodes(t *testing.T) {
	root, _ := parse(t, "a: &x {b: 1}\nc: *x\nd: 'true'\ne: true\nf: [1]\ng:\n")
	_, c := Lookup(root, "c")
	if r := Resolve(c); r == nil || r.Kind != yaml.MappingNode {
		t.Errorf("Resolve: %v", r)
	}
	_, d := Lookup(root, "d")
	_, e := Lookup(root, "e")
	if !IsString(d, "true") || IsString(e, "true") {
		t.Error("IsString does not tell the string from the boolean")
	}
	_, a := Lookup(root, "a")
	if !IsFlow(a) || IsFlow(root) {
		t.Error("IsFlow")
	}
	_, f := Lookup(root, "f")
	_, g := Lookup(root, "g")
	for n, want := range map[*yaml.Node]string{a: "a mapping", f: "a list", c: "an alias", g: "empty", d: `"true"`} {
		if got := Describe(n); got != want {
			t.Errorf("Describe = %s, want %s", got, want)
		}
	}
	if k, v := Lookup(f, "x"); k != nil || v != nil {
		t.Error("Lookup in a list")
	}
	if v, err := DecodeAny([]byte("a: [1, b]\n")); err != nil || !reflect.DeepEqual(v, map[string]any{"a": []any{1, "b"}}) {
		t.Errorf("DecodeAny: %v %v", v, err)
	}
}

// FuzzEdit: on any YAML, setting a top-level entry with SetValue, or its
// scalar with ReplaceScalar, either is refused or gives a text that, when
// it parses (callers check that), means the original with that one value
// changed.
func FuzzEdit(f *testing.F) {
	for _, s := range []string{
		"a: 1  # one\nb: 2\n",
		"a:\n  x: 1\n# c\nb: [1,\n  2]\n",
		"a: |\n  text\nb: 'q''q'\nc: \"d\\\"q\"\n",
		"a:\n- 1\n- 2\nb: {c: 1}\r\n",
		"a: &x 1\nb: *x\nc: !!str 2\n",
		"é: ü # x\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := DecodeOne(data)
		root := Root(doc)
		if err != nil || root == nil || root.Kind != yaml.MappingNode || IsFlow(root) {
			return
		}
		before, err := DecodeAny(data)
		m, ok := before.(map[string]any)
		if err != nil || !ok {
			return
		}
		x := NewText(data)
		for i := 0; i+1 < len(root.Content); i += 2 {
			k, v := root.Content[i], root.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.Style != 0 || k.Tag != "!!str" {
				continue
			}
			check := func(op string, e Edit, err error) {
				if err != nil {
					return
				}
				out, err := x.Apply(e)
				if err != nil {
					t.Fatalf("%s of %s: the edit does not apply: %v", op, k.Value, err)
				}
				after, err := DecodeAny(out)
				if err != nil {
					return
				}
				want := map[string]any{}
				for key, val := range m {
					want[key] = val
				}
				want[k.Value] = "NEW"
				if !reflect.DeepEqual(after, want) {
					t.Fatalf("%s of %s changed more than its value:\n%q\nbecame\n%q", op, k.Value, data, out)
				}
			}
			e, err := x.SetValue(k, v, `"NEW"`)
			check("SetValue", e, err)
			if v.Kind == yaml.ScalarNode {
				e, err = x.ReplaceScalar(v, false, `"NEW"`)
				check("ReplaceScalar", e, err)
			}
		}
	})
}
