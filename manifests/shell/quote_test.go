package shell

import (
	"os/exec"
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
