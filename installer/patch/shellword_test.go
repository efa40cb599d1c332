package patch

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
	"github.com/paimirror/paimirror/installer/pai"
	"github.com/paimirror/paimirror/manifests/shell"
	"go.yaml.in/yaml/v3"
)

// recorder writes, into dir/bin, a program for each name that appends
// its name and then its arguments, one a line, to dir/NAME.args and
// succeeds; it returns the PATH that finds them first.
func recorder(t *testing.T, dir string, names ...string) string {
	t.Helper()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		body := "#!/bin/sh\nfor a; do printf '%s\\n' \"$a\"; done >> " + shell.Quote(filepath.Join(dir, name+".args")) + "\n"
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return bin + string(os.PathListSeparator) + os.Getenv("PATH")
}

// globBait makes, in dir, the directories that the unquoted URL
// SCHEME://[fd00::9]:5000/PATH/ would match as a shell pattern (the
// bracket expression matching the one character "f"): an unquoted URL
// then reaches its program as SCHEME://f:5000/PATH/, another host.
func globBait(t *testing.T, dir, scheme string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if err := os.MkdirAll(filepath.Join(dir, scheme+":", "f:5000", filepath.FromSlash(p)), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPatchedShellKeepsMirrorOneWord runs the shell commands Plan writes
// with the mirror's address in them, with the real sh (the requirement
// checks' raw tasks: Ansible's raw runs them with the login shell, sh on
// Ubuntu) and bash (environment.sh), from a directory holding what a
// bracketed IPv6 mirror address would match as a file pattern, with
// curl, wget and sudo recording what they get: each URL and pip option
// reaches them as written, never as a name found on disk.
func TestPatchedShellKeepsMirrorOneWord(t *testing.T) {
	sh := testenv.Tool(t, "sh")
	bash := testenv.Tool(t, "bash")
	for _, tc := range []struct {
		mirror, scheme string
		trusted        string // pip's --trusted-host; "" for https
	}{
		{"10.0.0.9:5000", "http", "10.0.0.9"},
		{"[fd00::9]:5000", "http", "fd00::9"},
		{"[fd00::9]:5000", "https", ""},
		{"mirror.lab", "http", "mirror.lab"},
	} {
		t.Run(tc.scheme+"://"+tc.mirror, func(t *testing.T) {
			tree := fixture(t)
			r, err := Plan(tree, Options{Mirror: tc.mirror, Scheme: tc.scheme, PipIndex: "/pypi/simple/"})
			if err != nil {
				t.Fatal(err)
			}
			if err := Apply(r); err != nil {
				t.Fatal(err)
			}
			again, err := Plan(tree, Options{Mirror: tc.mirror, Scheme: tc.scheme, PipIndex: "/pypi/simple/"})
			if err != nil || len(again.Changes) != 0 {
				t.Errorf("a second Plan: %v, %d changes:\n%s", err, len(again.Changes), again.Diff())
			}
			base := tc.scheme + "://" + tc.mirror

			// The requirement checks.
			var tasks []map[string]any
			req := readFile(t, filepath.Join(tree, filepath.FromSlash(pai.RequirementFiles[2])))
			if err := yaml.Unmarshal(req, &tasks); err != nil || len(tasks) == 0 {
				t.Fatalf("%s: %v\n%s", pai.RequirementFiles[2], err, req)
			}
			raw, _ := tasks[0]["raw"].(string)
			dir := t.TempDir()
			globBait(t, dir, tc.scheme, "v2")
			cmd := exec.Command(sh, "-c", raw)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "PATH="+recorder(t, dir, "curl", "wget"))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("sh -c %q: %v\n%s", raw, err, out)
			}
			args := strings.Split(strings.TrimSuffix(string(readFile(t, filepath.Join(dir, "curl.args"))), "\n"), "\n")
			if got := args[len(args)-1]; got != base+"/v2/" {
				t.Errorf("the requirement check's curl got the URL %q, want %q (raw: %s)", got, base+"/v2/", raw)
			}

			// environment.sh's pip installs.
			env := string(readFile(t, filepath.Join(tree, filepath.FromSlash(pai.EnvironmentFile))))
			var line string
			for l := range strings.Lines(env) {
				if strings.Contains(l, "pip install") {
					line = l
					break
				}
			}
			dir = t.TempDir()
			globBait(t, dir, tc.scheme, "pypi/simple")
			cmd = exec.Command(bash, "-c", line)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "PATH="+recorder(t, dir, "sudo"))
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("bash -c %q: %v\n%s", line, err, out)
			}
			want := []string{"python3", "-m", "pip", "install", "--index-url", base + "/pypi/simple/"}
			if tc.trusted != "" {
				want = append(want, "--trusted-host", tc.trusted)
			} else {
				want = append(want, "--cert", SystemCABundle)
			}
			want = append(want, "pip==20.3.4")
			if got := strings.TrimSuffix(string(readFile(t, filepath.Join(dir, "sudo.args"))), "\n"); got != strings.Join(want, "\n") {
				t.Errorf("pip got\n%s\nwant\n%s\n(the line: %s)", got, strings.Join(want, "\n"), line)
			}
		})
	}
}

// TestRegistryRefusesIPv6 is why a registry at a bracketed IPv6 address
// is refused: pai v1.8.0 writes docker_registry_domain unquoted into
// services-configuration.yaml (domain: [fd00::5]:5000, which PyYAML
// reads as a list and fails on), names its images DOMAIN/NAMESPACE/NAME
// with the same value and runs `docker login -u USER -p PASSWORD DOMAIN`
// through the shell with it unquoted (its cluster.py), so no quoting in
// config.yaml keeps the address one literal word everywhere; and docker
// 18.09/19.03 cannot parse an image name on an IPv6 host. That login
// command, run with the real sh from a directory holding a file the
// bracket expression matches, goes to another host, f:5000, with the
// credentials. Registry.check, and so Plan, refuses the address with an
// error saying to give the registry's host name.
func TestRegistryRefusesIPv6(t *testing.T) {
	const prefix = "[fd00::5]:5000/openpai"
	for _, p := range []string{prefix, "[fd00::5]:5000", "[::1]:5000/a/b"} {
		err := (&Registry{Prefix: p}).check()
		if !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), "IPv6") || !strings.Contains(err.Error(), "host name") {
			t.Errorf("registry %q: %v; want an ErrInvalidOptions about IPv6 saying to give a host name", p, err)
		}
	}
	if _, err := Plan(fixture(t), Options{Mirror: testMirror, Registry: &Registry{Prefix: prefix}}); !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("Plan with registry %s: %v, want ErrInvalidOptions", prefix, err)
	}

	// pai's login command (paiRender's), as its shell reads it.
	sh := testenv.Tool(t, "sh")
	login := fmt.Sprintf("docker login -u %s -p %s %s", "robot", "s3cret", "[fd00::5]:5000")
	cwd := t.TempDir()
	writeFile(t, filepath.Join(cwd, "f:5000"), "")
	cmd := exec.Command(sh, "-c", `docker() { printf '%s\n' "$@"; }; eval "$1"`, "sh", login)
	cmd.Dir = cwd
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("%q: %v", login, err)
	}
	if want := "login\n-u\nrobot\n-p\ns3cret\nf:5000\n"; string(got) != want {
		t.Errorf("sh gives %q the words %q; this test expects the shell to expand the address to f:5000 (%q)", login, got, want)
	}
}
