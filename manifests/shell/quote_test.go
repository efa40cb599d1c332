package shell

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestQuoteSh has the real /bin/sh print each quoted value back.
func TestQuoteSh(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"plain", "https://127.0.0.1:5000/a/b.yaml"},
		{"empty", ""},
		{"single quote", "it's"},
		{"only quotes", "''"},
		{"command substitution", "http://h/$(touch /tmp/paimirror-pwned)"},
		{"backticks", "http://h/`id`"},
		{"variable", "$HOME ${PATH}"},
		{"spaces and newline", " a  b\nc\t"},
		{"everything", `x'y"z\$(id)` + "`id`" + ` ;|&<> *?[] ~ # !`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, q := range []string{Quote(tc.in), Join(tc.in)} {
				out, err := exec.Command("/bin/sh", "-c", "printf %s "+q).Output()
				if err != nil {
					t.Fatalf("sh -c 'printf %%s %s': %v", q, err)
				}
				if string(out) != tc.in {
					t.Errorf("sh printed %q for %s, want %q", out, q, tc.in)
				}
			}
		})
	}
	out, err := exec.Command("/bin/sh", "-c", "printf '[%s]' "+Join("a b", "c'd", "")).Output()
	if err != nil || string(out) != "[a b][c'd][]" {
		t.Errorf("Join: sh printed %q, %v", out, err)
	}
}

// TestWordSh has the real /bin/sh, from a directory holding files that
// unquoted patterns would match, print each word back: plain words stay
// as they are, anything else comes back exactly as given.
func TestWordSh(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"f:5000", "x", "abc"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		in    string
		plain bool // Word returns it as it is
	}{
		{"http://10.0.0.1:5000/v2/", true},
		{"/etc/sudoers.d/robot_x.y-z+w=1@lab,2%3", true},
		{"", false},
		{"[fd00::9]:5000", false},
		{"http://[fd00::9]:5000/v2/", false},
		{"a*", false},
		{"?", false},
		{"~root", false},
		{"a b", false},
		{"10.0.0.1$(touch pwned):5000", false},
		{"`id`", false},
		{"it's", false},
		{"a{b,c}", false},
		{"#x", false},
		{"a\nb", false},
	} {
		w := Word(tc.in)
		if (w == tc.in) != tc.plain {
			t.Errorf("Word(%q) = %q; as it is: %v, want %v", tc.in, w, w == tc.in, tc.plain)
		}
		cmd := exec.Command("/bin/sh", "-c", "printf '[%s]' "+w)
		cmd.Dir = dir
		out, err := cmd.Output()
		if err != nil || string(out) != "["+tc.in+"]" {
			t.Errorf("sh printed %q for %s (%v), want [%s]", out, w, err, tc.in)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
		t.Error("a word ran a command")
	}
}
