package files

import (
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
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
	t.Run("environment.sh", func(t *testing.T) {
		bash := bundletest.Tool(t, "bash")
		for _, scheme := range []string{"http", "https"} {
			text := environmentSh(hostile+":5000", scheme, "/github.com/"+hostile+".tar.gz", true)
			lines := strings.Split(strings.TrimSpace(text), "\n")
			if len(lines) != 4 {
				t.Fatalf("want a comment, the kubespray line, a comment and pip's options:\n%s", text)
			}
			// The kubespray line as environment.sh (bash) runs it, and
			// pip's options as they follow `pip install`.
			script := `mkdir() { for a; do printf 'mkdir %s\n' "$a" >&2; done; }
curl() { for a; do printf 'curl %s\n' "$a" >&2; done; }
tar() { for a; do printf 'tar %s\n' "$a" >&2; done; }
pip() { for a; do printf 'pip %s\n' "$a" >&2; done; }
` + lines[1] + "\npip install " + lines[3] + "\n"
			cmd := exec.Command(bash, "--norc", "--noprofile", "-c", script)
			cmd.Env = []string{"HOME=/home/h'q $(echo INJECTED)", "PATH=/usr/bin:/bin"}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("bash: %v\n%s\n---\n%s", err, out, script)
			}
			got := strings.Split(strings.TrimSpace(string(out)), "\n")
			home := "/home/h'q $(echo INJECTED)/pai-deploy/kubespray"
			want := []string{"mkdir -p", "mkdir " + home,
				"curl -fsSL", "curl " + scheme + "://" + hostile + ":5000/github.com/" + hostile + ".tar.gz",
				"tar -xz", "tar --strip-components=1", "tar -C", "tar " + home,
				"pip install", "pip --index-url", "pip " + scheme + "://" + hostile + ":5000/pypi/simple/"}
			if scheme == "https" {
				want = append(want, "pip --cert", "pip /etc/ssl/certs/ca-certificates.crt")
			} else {
				want = append(want, "pip --trusted-host", "pip "+hostile)
			}
			// The stubs run in a pipeline: curl's and tar's lines may interleave.
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("%s: the commands were given\n%s\nwant\n%s", scheme, strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		}
	})
}
