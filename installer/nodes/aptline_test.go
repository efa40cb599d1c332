package nodes

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/apt"
	"github.com/paimirror/paimirror/bundle/bundletest"
)

// mustAptSources is renderAptSources for inputs that must render.
func mustAptSources(t *testing.T, a *Apt, target string, m Mirror) string {
	t.Helper()
	s, err := renderAptSources(a, target, m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// mustDockerScript is installDockerScript for inputs that must render.
func mustDockerScript(t *testing.T, m Mirror, r AptRepository, extra []string) string {
	t.Helper()
	s, err := installDockerScript(m, r, extra)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestAptSourcesPinned pins the sources list Prepare writes, byte for
// byte: repositories with and without architectures, several suites, a
// flat one, and one kubespray adds itself (left out).
func TestAptSourcesPinned(t *testing.T) {
	a := testApt("amd64")
	a.Repositories = append(a.Repositories,
		AptRepository{Name: "plain", Target: "ubuntu-18.04", Prefix: "/archive.ubuntu.com/ubuntu", Suites: []string{"bionic-security"},
			Components: []string{"main"}, Sources: true},
		AptRepository{Name: "nvidia", Target: "ubuntu-18.04", Prefix: "/nvidia.github.io/libnvidia-container/stable/ubuntu18.04/amd64",
			Suites: []string{FlatSuite}, Architectures: []string{"amd64", "arm64"}, Sources: true},
		AptRepository{Name: "nvidia-noarch", Target: "ubuntu-18.04", Prefix: "/nvidia.github.io/nvidia-docker/ubuntu18.04/amd64",
			Suites: []string{FlatSuite}, Sources: true})
	const want = `# Written by paimirror install: the apt repositories of the mirror 10.0.0.1:5000 for ubuntu-18.04.
# The original sources are kept in /etc/apt/paimirror-backup/; paimirror install --restore-apt puts them back.
deb [arch=amd64] https://10.0.0.1:5000/apt.test.example/ubuntu bionic main universe
deb [arch=amd64] https://10.0.0.1:5000/apt.test.example/ubuntu bionic-updates main universe
deb https://10.0.0.1:5000/archive.ubuntu.com/ubuntu bionic-security main
deb [arch=amd64,arm64] https://10.0.0.1:5000/nvidia.github.io/libnvidia-container/stable/ubuntu18.04/amd64 ./
deb https://10.0.0.1:5000/nvidia.github.io/nvidia-docker/ubuntu18.04/amd64 ./
`
	if got := mustAptSources(t, a, "ubuntu-18.04", Mirror{Addr: "10.0.0.1:5000", TLS: true}); got != want {
		t.Errorf("sources:\n%s\nwant\n%s", got, want)
	}
}

// TestInstallDockerScriptPinned pins the script that installs docker from
// the mirror, byte for byte, with its sources line: with architectures
// over http, and without over https with a CA.
func TestInstallDockerScriptPinned(t *testing.T) {
	r := AptRepository{Name: "docker-bionic", Target: "ubuntu-18.04", Prefix: "/download.docker.com/linux/ubuntu", Suites: []string{"bionic", "focal"},
		Components: []string{"stable"}, Architectures: []string{"amd64", "arm64"},
		Packages: []string{"containerd.io=1.2.6-3", "docker-ce=5:18.09.7~3-0~ubuntu-bionic"}, KeyPath: "/download.docker.com/linux/ubuntu/gpg"}
	const want1 = `set -e
if command -v docker >/dev/null 2>&1; then echo present; exit 0; fi
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
mkdir -p "$t/lists/partial" "$t/parts"
curl -fsS -o "$t/docker.asc" 'http://10.0.0.1:5000/download.docker.com/linux/ubuntu/gpg' 2>/dev/null || wget -q -O "$t/docker.asc" 'http://10.0.0.1:5000/download.docker.com/linux/ubuntu/gpg'
echo "deb [arch=amd64,arm64 signed-by=$t/docker.asc] http://10.0.0.1:5000/download.docker.com/linux/ubuntu bionic stable" > "$t/parts/docker.list"
if [ -e /etc/apt/sources.list.d/paimirror.list ]; then cp /etc/apt/sources.list.d/paimirror.list "$t/parts/"; fi
set -- -q -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$t/parts" -o Dir::State::Lists="$t/lists"
apt-get "$@" update
DEBIAN_FRONTEND=noninteractive apt-get "$@" -y  install 'containerd.io=1.2.6-3' 'docker-ce=5:18.09.7~3-0~ubuntu-bionic'
echo installed
`
	if got := mustDockerScript(t, Mirror{Addr: "10.0.0.1:5000"}, r, nil); got != want1 {
		t.Errorf("script:\n%s\nwant\n%s", got, want1)
	}
	r.Architectures = nil
	const want2 = `set -e
if command -v docker >/dev/null 2>&1; then echo present; exit 0; fi
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
mkdir -p "$t/lists/partial" "$t/parts"
curl -fsS --cacert /etc/apt/paimirror-ca.crt -o "$t/docker.asc" 'https://mirror.lab:8443/download.docker.com/linux/ubuntu/gpg' 2>/dev/null || wget -q --ca-certificate=/etc/apt/paimirror-ca.crt -O "$t/docker.asc" 'https://mirror.lab:8443/download.docker.com/linux/ubuntu/gpg'
echo "deb [signed-by=$t/docker.asc] https://mirror.lab:8443/download.docker.com/linux/ubuntu bionic stable" > "$t/parts/docker.list"
if [ -e /etc/apt/sources.list.d/paimirror.list ]; then cp /etc/apt/sources.list.d/paimirror.list "$t/parts/"; fi
set -- -q -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$t/parts" -o Dir::State::Lists="$t/lists"
apt-get "$@" update
DEBIAN_FRONTEND=noninteractive apt-get "$@" -y --download-only install 'containerd.io=1.2.6-3' 'docker-ce=5:18.09.7~3-0~ubuntu-bionic'
echo installed
`
	if got := mustDockerScript(t, Mirror{Addr: "mirror.lab:8443", TLS: true, CA: []byte("CA")}, r, []string{"--download-only"}); got != want2 {
		t.Errorf("script:\n%s\nwant\n%s", got, want2)
	}
}

// TestAptSourcesRefuseInjection: a word of a repository or the mirror's
// address (--mirror goes through net.SplitHostPort, which lets a tab or a
// newline through) that holds whitespace must not add a line, or shift
// the words of one, in the sources Prepare writes as root: it is an
// error naming the repository.
func TestAptSourcesRefuseInjection(t *testing.T) {
	const evil = "deb http://evil.example/ ./"
	for _, tc := range []struct {
		name string
		m    Mirror
		edit func(r *AptRepository)
		want string // what the error names
	}{
		{"newline in the mirror address", Mirror{Addr: "10.0.0.1\n" + evil + " #:5000"}, nil, "mirror address"},
		{"tab in the mirror address", Mirror{Addr: "10.0.0.1\t:5000"}, nil, "mirror address"},
		{"U+2028 in the mirror address", Mirror{Addr: "10.0.0.1\u2028:5000"}, nil, "test-bionic"},
		{"newline in a suite", Mirror{Addr: "10.0.0.1:5000"}, func(r *AptRepository) { r.Suites = []string{"bionic main\n" + evil} }, "test-bionic"},
		{"newline in a component", Mirror{Addr: "10.0.0.1:5000"}, func(r *AptRepository) { r.Components = []string{"main\n" + evil} }, "test-bionic"},
		{"space in an architecture", Mirror{Addr: "10.0.0.1:5000"}, func(r *AptRepository) { r.Architectures = []string{"amd64] http://evil.example/"} }, "test-bionic"},
		{"space in the prefix", Mirror{Addr: "10.0.0.1:5000"}, func(r *AptRepository) { r.Prefix = "/x ./" }, "test-bionic"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := testApt("amd64")
			if tc.edit != nil {
				tc.edit(&a.Repositories[0])
			}
			got, err := renderAptSources(a, "ubuntu-18.04", tc.m)
			if !errors.Is(err, apt.ErrSourcesLine) || !strings.Contains(err.Error(), tc.want) || got != "" {
				t.Errorf("got %q, %v; want an ErrSourcesLine naming the %s", got, err, tc.want)
			}
			got, err = installDockerScript(tc.m, a.Repositories[0], nil)
			if !errors.Is(err, apt.ErrSourcesLine) || got != "" {
				t.Errorf("docker's script: got %q, %v; want an ErrSourcesLine", got, err)
			}
		})
	}
}

// TestInstallDockerScriptQuotes runs the script that installs docker with
// the real sh, curl and apt-get standing aside as commands that record
// what they get: a mirror address or key path holding shell syntax
// (net.SplitHostPort lets "$(...)", backticks and quotes through) reaches
// curl and the sources line as it is, and runs nothing.
func TestInstallDockerScriptQuotes(t *testing.T) {
	sh := bundletest.Tool(t, "sh")
	r := AptRepository{Name: "docker-bionic", Target: "ubuntu-18.04", Prefix: "/download.docker.com/linux/ubuntu", Suites: []string{"bionic"},
		Components: []string{"stable"}, Architectures: []string{"amd64"}, Packages: []string{"docker-ce=5:18.09.7~3-0~ubuntu-bionic"},
		KeyPath: "/download.docker.com/linux/ubuntu/gpg"}
	for _, tc := range []struct {
		name    string
		addr    string
		keyPath string
		refused bool // by SourcesLine: there is no script
	}{
		{"plain", "10.0.0.1:5000", r.KeyPath, false},
		{"command substitution", "10.0.0.1$(id>pwned):5000", r.KeyPath, false},
		{"backticks", "10.0.0.1`id>pwned`:5000", r.KeyPath, false},
		{"single quotes", "10.0.0.1';id>pwned;':5000", r.KeyPath, false},
		{"backslashes", `10.0.0.1\$(id>pwned)\\:5000`, r.KeyPath, true},
		{"variable", "10.0.0.1${HOME}:5000", r.KeyPath, false},
		{"single quotes in the key path", "10.0.0.1:5000", "/k';id>pwned;'", false},
		{"double quote", `10.0.0.1";id>pwned;":5000`, r.KeyPath, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rr := r
			rr.KeyPath = tc.keyPath
			m := Mirror{Addr: tc.addr}
			script, err := installDockerScript(m, rr, nil)
			if tc.refused {
				if !errors.Is(err, apt.ErrSourcesLine) || script != "" {
					t.Errorf("got %q, %v; want an ErrSourcesLine", script, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			bin := filepath.Join(dir, "bin")
			for name, body := range map[string]string{
				"curl":    `for a; do printf '%s\n' "$a"; done > curl.args; : > "$3"`,
				"wget":    `echo wget >> ran`,
				"apt-get": `for a; do case "$a" in Dir::Etc::SourceParts=*) cat "${a#*=}/docker.list" >> lists;; esac; done`,
			} {
				if err := os.MkdirAll(bin, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body+"\n"), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			// No docker, whatever this machine has.
			cmd := exec.Command(sh, "-c", "command() { return 1; }\n"+script)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.HasSuffix(string(out), "installed\n") {
				t.Fatalf("the script: %v\n%s\n%s", err, out, script)
			}
			if _, err := os.Stat(filepath.Join(dir, "pwned")); err == nil {
				t.Errorf("the script ran the command the address holds:\n%s", script)
			}
			read := func(name string) string {
				data, err := os.ReadFile(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				return string(data)
			}
			if args := strings.Split(strings.TrimSuffix(read("curl.args"), "\n"), "\n"); args[len(args)-1] != "http://"+tc.addr+tc.keyPath {
				t.Errorf("curl got %q, want the key's URL %q", args, "http://"+tc.addr+tc.keyPath)
			}
			lists := strings.Split(strings.TrimSuffix(read("lists"), "\n"), "\n")
			if len(lists) != 2 || lists[0] != lists[1] {
				t.Fatalf("apt-get read the sources %q, want one line twice (update and install)", lists)
			}
			// The line as SourcesLine writes it, with the keyring where the
			// script put it.
			_, rest, _ := strings.Cut(lists[0], "signed-by=")
			keyring, _, _ := strings.Cut(rest, "]")
			want, err := apt.SourcesLine("http://"+tc.addr+rr.Prefix, "bionic", []string{"stable"},
				apt.SourceOption{Name: "arch", Value: "amd64"}, apt.SourceOption{Name: "signed-by", Value: keyring})
			if err != nil || lists[0] != want || !strings.HasSuffix(keyring, "/docker.asc") || strings.Contains(keyring, "$") {
				t.Errorf("the sources line reads %q, want %q (%v)", lists[0], want, err)
			}
		})
	}
}
