package main

// BenchmarkAptMirror: paimirror build against apt-get itself, both taking
// the same partial Debian bookworm mirror from one local upstream.

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
)

// aptBenchPackages are the packages both sides mirror, with their
// dependencies.
var aptBenchPackages = []string{"sshpass", "tree", "netcat-openbsd", "nfs-common", "unzip"}

// aptBenchManifest is bookworm main for amd64, its key served by a local
// stand-in of ftp-master.debian.org.
func aptBenchManifest() string {
	return `name: bench-bookworm
apt:
  - name: debian-bookworm
    target: debian-12
    url: http://deb.debian.org/debian
    suites: [bookworm]
    components: [main]
    key:
      url: https://ftp-master.debian.org/keys/archive-key-12.gpg
      fingerprint: B8B8 0B5B 623E AB6A D877  5C45 B7C5 D7D6 3509 47F8
    packages: [` + strings.Join(aptBenchPackages, ", ") + `]
`
}

// aptBenchFixture returns a bundle of the partial bookworm mirror, built
// once from deb.debian.org into the cache: the upstream both sides of the
// benchmark read (from a local server) afterwards.
func aptBenchFixture(b *testing.B) string {
	b.Helper()
	out := filepath.Join(benchCacheDir(), "bench", "apt-bookworm-v1.tar")
	if _, err := os.Stat(out); err == nil {
		return out
	}
	keyring, err := os.ReadFile(debianKeyring)
	if err != nil {
		testenv.Need(b, "no Debian archive keyring on this host: %v; install debian-archive-keyring", err)
	}
	reachDebian(b)
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(keyring) }))
	defer keys.Close()
	dir := b.TempDir()
	mf := filepath.Join(dir, "m.yaml")
	os.WriteFile(mf, []byte(aptBenchManifest()), 0o644)
	os.MkdirAll(filepath.Dir(out), 0o755)
	cmd := paimirror(b, "build", "-q", "-f", mf, "-o", out, "--mirror", "https://ftp-master.debian.org/keys="+keys.URL+"/keys")
	cmd.Env = withoutProxy(cmd.Env)
	if msg, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building the apt fixture from deb.debian.org: %v\n%s", err, msg)
	}
	return out
}

// aptUpstream serves the apt files of the bundle at path (and its keys)
// as deb.debian.org and ftp-master.debian.org would: a plain file server
// of their upstream-shaped paths.
func aptUpstream(b *testing.B, path string) *httptest.Server {
	b.Helper()
	bn, err := bundle.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { bn.Close() })
	files := map[string]bundle.File{}
	for _, f := range bn.Lock.AptServed() {
		for _, p := range f.Paths {
			files[p] = f
		}
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		sr, err := bn.Blob(f.Digest())
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		http.ServeContent(w, r, "", time.Time{}, sr)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// BenchmarkAptMirror mirrors bookworm main's signed metadata and the
// closure of aptBenchPackages from a local upstream: paimirror build (keys,
// InRelease, every index variant verified and stored, resolution, .debs
// verified into a bundle) against apt-get update and apt-get install
// --download-only (InRelease, one index variant, its package cache and
// resolver, the .debs this host lacks), each a fresh process with fresh
// state per iteration. Reported: ns/op and the processes' peak RSS.
func BenchmarkAptMirror(b *testing.B) {
	aptGet := bundletest.Tool(b, "apt-get")
	bundletest.Tool(b, "gpgv")
	fixture := aptBenchFixture(b)
	up := aptUpstream(b, fixture)
	keyring, err := os.ReadFile(debianKeyring)
	if err != nil {
		testenv.Need(b, "no Debian archive keyring: %v; install debian-archive-keyring", err)
	}
	status, err := os.ReadFile("/var/lib/dpkg/status")
	if err != nil {
		testenv.Need(b, "no dpkg status on this host: %v", err)
	}
	dir := b.TempDir()
	mf := filepath.Join(dir, "m.yaml")
	os.WriteFile(mf, []byte(aptBenchManifest()), 0o644)
	key := filepath.Join(dir, "debian.gpg")
	os.WriteFile(key, keyring, 0o644)

	sides := []struct {
		name string
		run  func(work string) (*exec.Cmd, []*exec.Cmd)
	}{
		{"paimirror", func(work string) (*exec.Cmd, []*exec.Cmd) {
			c := paimirror(b, "build", "-q", "-f", mf, "-o", filepath.Join(work, "b.tar"),
				"--mirror", "http://deb.debian.org/debian="+up.URL+"/deb.debian.org/debian",
				"--mirror", "https://ftp-master.debian.org/keys="+up.URL+"/ftp-master.debian.org/keys")
			c.Env = withoutProxy(c.Env)
			return c, nil
		}},
		{"apt-get", func(work string) (*exec.Cmd, []*exec.Cmd) {
			for _, d := range []string{"state/lists/partial", "cache/archives/partial", "etc/apt.conf.d", "etc/sources.list.d", "etc/preferences.d", "log"} {
				os.MkdirAll(filepath.Join(work, d), 0o755)
			}
			// The machine: this host's installed packages (apt must not
			// fetch the whole base system, which paimirror takes as
			// installed).
			os.WriteFile(filepath.Join(work, "state/status"), status, 0o644)
			os.WriteFile(filepath.Join(work, "etc/sources.list"),
				[]byte("deb [arch=amd64 signed-by="+key+"] "+up.URL+"/deb.debian.org/debian bookworm main\n"), 0o644)
			conf := fmt.Sprintf("Dir::State %q;\nDir::State::status %q;\nDir::Cache %q;\nDir::Etc %q;\nDir::Etc::main \"apt.conf\";\nDir::Etc::parts \"apt.conf.d\";\nDir::Log %q;\n"+
				"Debug::NoLocking \"true\";\nAPT::Architecture \"amd64\";\nAPT::Architectures { \"amd64\"; };\nAPT::Install-Recommends \"false\";\nAcquire::Languages \"none\";\nAPT::Sandbox::User \"root\";\n",
				work+"/state/", work+"/state/status", work+"/cache/", work+"/etc/", work+"/log/")
			os.WriteFile(filepath.Join(work, "etc/apt.conf"), []byte(conf), 0o644)
			mk := func(args ...string) *exec.Cmd {
				c := exec.Command(aptGet, args...)
				c.Env = append(withoutProxy(nil), "APT_CONFIG="+work+"/etc/apt.conf", "LC_ALL=C")
				return c
			}
			return mk("-q", "update"), []*exec.Cmd{mk(append([]string{"-q", "-y", "install", "--download-only"}, aptBenchPackages...)...)}
		}},
	}
	rounds := benchRounds()
	for r := 0; r < rounds; r++ {
		for _, side := range inTurn(sides, r) {
			name := side.name
			if rounds > 1 {
				name = fmt.Sprintf("%s#%02d", name, r+1)
			}
			b.Run(name, func(b *testing.B) {
				var peak int64
				for b.Loop() {
					b.StopTimer()
					work, err := os.MkdirTemp(dir, "run-")
					if err != nil {
						b.Fatal(err)
					}
					first, rest := side.run(work)
					b.StartTimer()
					for _, c := range append([]*exec.Cmd{first}, rest...) {
						var out bytes.Buffer
						c.Stdout, c.Stderr = &out, &out
						if err := c.Run(); err != nil {
							b.Fatalf("%s: %v\n%s", strings.Join(c.Args, " "), err, out.String())
						}
						if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss*1024 > peak {
							peak = ru.Maxrss * 1024
						}
					}
					b.StopTimer()
					os.RemoveAll(work)
					b.StartTimer()
				}
				b.ReportMetric(float64(peak)/1e6, "peak-RSS-MB")
			})
		}
	}
}
