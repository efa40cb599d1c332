package fileserver

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle"
)

// hostile holds what a shell would act on inside double quotes or bare.
const hostile = "h'q $(echo INJECTED) `echo INJECTED` a b"

// runSnippet runs text with the real /bin/sh, with curl, sudo, tee,
// openssl and update-ca-certificates replaced by functions that print
// their arguments one per line, and returns what they printed.
func runSnippet(t *testing.T, text string) []string {
	t.Helper()
	stubs := `curl() { for a; do printf 'curl %s\n' "$a" >&2; done; }
sudo() { for a; do printf 'sudo %s\n' "$a" >&2; done; }
openssl() { :; }
`
	out, err := exec.Command("/bin/sh", "-c", stubs+text+"\n").CombinedOutput()
	if err != nil {
		t.Fatalf("sh: %v\n%s\n---\n%s", err, out, text)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

// TestSnippetsQuoteForSh checks that the pasted shell lines hand curl and
// sudo the mirror's URLs and paths verbatim, whatever they hold.
func TestSnippetsQuoteForSh(t *testing.T) {
	t.Run("device plugin", func(t *testing.T) {
		s := &Server{b: &bundle.Bundle{Lock: &bundle.Lock{Files: []bundle.File{
			{Name: "nvidia $(echo INJECTED)", Paths: []string{"/k8s-share/" + hostile + ".yaml"}},
		}}}}
		got := runSnippet(t, s.devicePluginLines("127.0.0.1:5000", "http"))
		want := "curl http://127.0.0.1:5000/k8s-share/" + hostile + ".yaml"
		if got[len(got)-1] != want {
			t.Errorf("curl was given %q, want %q", got, want)
		}
	})
	t.Run("CA", func(t *testing.T) {
		got := strings.Join(runSnippet(t, caLines(hostile+":5000", "/ca.crt")), "\n")
		if strings.Contains(got, "INJECTED") && !strings.Contains(got, "$(echo INJECTED)") {
			t.Errorf("the shell ran a command substitution:\n%s", got)
		}
		for _, want := range []string{
			"sudo /etc/docker/certs.d/" + hostile + ":5000",
			"curl https://" + hostile + ":5000/ca.crt",
			"sudo /etc/docker/certs.d/" + hostile + ":5000/ca.crt",
		} {
			if !strings.Contains(got+"\n", want+"\n") {
				t.Errorf("no line %q in what the commands were given:\n%s", want, got)
			}
		}
	})
}
