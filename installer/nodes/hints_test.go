package nodes

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/bundletest"
)

// backticked finds the commands a hint asks a person to run.
var backticked = regexp.MustCompile("`([^`]*)`")

// TestHintCommandsQuote pastes, into the real sh, the commands the
// preflight checks' fixes ask a person to run on a node, built from
// values from outside (config.yaml's user, --mirror, --registry and the
// probe image, which their checks let "$(...)" and brackets through),
// with curl, docker and visudo recording what they get, from a directory
// holding a file a bracket pattern would match: each value reaches its
// program as one literal word and runs nothing. For plain values the
// hints read as they always have.
func TestHintCommandsQuote(t *testing.T) {
	sh := bundletest.Tool(t, "sh")
	const evil = "$(touch${IFS}pwned)"
	reg := &Registry{Host: "a" + evil + "b:5000", Probe: "a" + evil + "b:5000/openpai/pause-amd64:3.1"}
	if err := reg.validate(); err != nil {
		t.Fatalf("the registry check refuses %s (then this hint is safe upstream): %v", reg.Host, err)
	}
	if err := checkMirrorAddr("10.0.0.1" + evil + ":5000"); err != nil {
		t.Fatalf("the mirror check refuses it (then this hint is safe upstream): %v", err)
	}
	for _, tc := range []struct {
		name string
		hint string
		want map[string][]string // program: the arguments it must get
	}{
		{"sudo, plain user", sudoFix("pai", "worker1"),
			map[string][]string{"visudo": {"-f", "/etc/sudoers.d/pai"}}},
		{"sudo, user with shell syntax", sudoFix("u"+evil, "worker1"),
			map[string][]string{"visudo": {"-f", "/etc/sudoers.d/u" + evil}}},
		{"mirror, plain", mirrorFix(Mirror{Addr: "10.0.0.1:5000"}, "worker1"),
			map[string][]string{"curl": {"http://10.0.0.1:5000/v2/"}}},
		{"mirror with shell syntax", mirrorFix(Mirror{Addr: "10.0.0.1" + evil + ":5000", TLS: true}, "worker1"),
			map[string][]string{"curl": {"https://10.0.0.1" + evil + ":5000/v2/"}}},
		{"mirror at an IPv6 address", mirrorFix(Mirror{Addr: "[f::1]:5000"}, "worker1"),
			map[string][]string{"curl": {"http://[f::1]:5000/v2/"}}},
		{"registry, plain", curlTry(&Registry{Host: "harbor.lab"}) + " " + pullTry(&Registry{Host: "harbor.lab", Probe: "harbor.lab/openpai/pause-amd64:3.1"}),
			map[string][]string{"curl": {"-v", "https://harbor.lab/v2/"}, "docker": {"pull", "harbor.lab/openpai/pause-amd64:3.1"}}},
		{"registry with shell syntax", curlTry(reg) + " " + pullTry(reg),
			map[string][]string{"curl": {"-v", "https://" + reg.Host + "/v2/"}, "docker": {"pull", reg.Probe}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "bin")
			if err := os.MkdirAll(filepath.Join(dir, "http:", "f:5000", "v2"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(bin, 0o755); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"curl", "docker", "visudo"} {
				body := "#!/bin/sh\nfor a; do printf '%s\\n' \"$a\"; done > \"$0.args\"\n"
				if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			ran := 0
			for _, m := range backticked.FindAllStringSubmatch(tc.hint, -1) {
				name, _, _ := strings.Cut(m[1], " ")
				if tc.want[name] == nil {
					continue // not a command (a sudoers line)
				}
				ran++
				cmd := exec.Command(sh, "-c", m[1])
				cmd.Dir = dir
				cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("sh -c %q: %v\n%s", m[1], err, out)
				}
				data, err := os.ReadFile(filepath.Join(bin, name+".args"))
				if err != nil {
					t.Fatal(err)
				}
				if got, want := strings.TrimSuffix(string(data), "\n"), strings.Join(tc.want[name], "\n"); got != want {
					t.Errorf("%s got\n%s\nwant\n%s\n(the hint: %s)", name, got, want, tc.hint)
				}
			}
			if ran != len(tc.want) {
				t.Errorf("the hint has %d of the %d commands: %s", ran, len(tc.want), tc.hint)
			}
			if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
				t.Errorf("pasting the hint ran the command a value holds: %s", tc.hint)
			}
		})
	}
	// Plain values: the hints read as before.
	for got, want := range map[string]string{
		sudoFix("pai", "worker1"):                           "let pai sudo with its password on worker1: as root run `visudo -f /etc/sudoers.d/pai` and add `pai ALL=(ALL) ALL`",
		mirrorFix(Mirror{Addr: "10.0.0.1:5000"}, "worker1"): "make 10.0.0.1:5000 reachable from worker1: is paimirror serve running there, is that the address the nodes use, does a firewall block port 5000? (try `curl http://10.0.0.1:5000/v2/` on the node)",
		curlTry(&Registry{Host: "harbor.lab:8443"}):         "(try `curl -v https://harbor.lab:8443/v2/` on the node)",
		pullTry(&Registry{Host: "harbor.lab"}):              "`docker pull harbor.lab/IMAGE:TAG`",
	} {
		if got != want {
			t.Errorf("hint %q, want %q", got, want)
		}
	}
}
