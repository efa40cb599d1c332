package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/apt/apttest"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
)

// debianKeyring is the host's keyring holding Debian 12's archive key,
// which signs bookworm's InRelease.
const debianKeyring = "/usr/share/keyrings/debian-archive-bookworm-automatic.gpg"

// reachDebian skips the test under -short, and otherwise skips or fails
// it (as testenv.Need) when deb.debian.org cannot be reached.
func reachDebian(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("reaches deb.debian.org; skipped with -short")
	}
	testenv.Reach(t, "deb.debian.org:80")
}

// TestAptBookworm builds a partial mirror of Debian bookworm (a handful of
// small packages and their dependencies) from Debian's real archive, with
// the signature checked against the archive key, serves it with
// paimirror serve, and lets the real apt-get, with its own state, sources
// and keyring (the key fetched from the mirror), update from the mirror
// alone with signature checking on and download the packages with every
// dependency the host lacks.
func TestAptBookworm(t *testing.T) {
	aptGet := bundletest.Tool(t, "apt-get")
	bundletest.Tool(t, "gpgv")
	reachDebian(t)
	keyring, err := os.ReadFile(debianKeyring)
	if err != nil {
		testenv.Need(t, "no Debian archive keyring on this host: %v; install debian-archive-keyring", err)
	}
	// The key's publisher is not reachable from here: a local server
	// stands in for it, with the host's copy of the key.
	keySrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/keys/archive-key-12.gpg" {
			http.NotFound(w, r)
			return
		}
		w.Write(keyring)
	}))
	t.Cleanup(keySrv.Close)

	wanted := []string{"sshpass", "tree", "netcat-openbsd"}
	dir := t.TempDir()
	manifest := `name: bookworm-test
apt:
  - name: debian-bookworm
    target: debian-12
    url: http://deb.debian.org/debian
    suites: [bookworm]
    components: [main]
    key:
      url: https://ftp-master.debian.org/keys/archive-key-12.gpg
      fingerprint: B8B8 0B5B 623E AB6A D877  5C45 B7C5 D7D6 3509 47F8
    packages: [` + strings.Join(wanted, ", ") + `]
`
	mf := filepath.Join(dir, "m.yaml")
	os.WriteFile(mf, []byte(manifest), 0o644)
	out := filepath.Join(dir, "b.tar")
	build := paimirror(t, "build", "-q", "-f", mf, "-o", out, "--mirror", "https://ftp-master.debian.org/keys="+keySrv.URL+"/keys")
	build.Env = withoutProxy(build.Env)
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, msg)
	}
	b, err := bundle.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	lock := b.Lock
	b.Close()
	if lock.Apt == nil || len(lock.Apt.Resolutions) != 1 {
		t.Fatalf("lock has no apt resolution: %+v", lock.Apt)
	}
	var chosen []string
	for _, p := range lock.Apt.Resolutions[0].Packages {
		chosen = append(chosen, p.Name)
	}
	for _, w := range append(slices.Clone(wanted), "libbsd0") { // libbsd0: netcat-openbsd's dependency
		if !slices.Contains(chosen, w) {
			t.Errorf("resolution %v lacks %s", chosen, w)
		}
	}
	if msg, err := paimirror(t, "verify", out).CombinedOutput(); err != nil {
		t.Fatalf("verify: %v\n%s", err, msg)
	}

	addr := freeAddr(t)
	startServe(t, out, "--addr", addr)
	mirror := "http://" + addr

	// The node: apt-get with its own state, holding what this host has
	// installed.
	ag, err := apttest.NewAptGet(aptGet, t.TempDir(), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile("/var/lib/dpkg/status")
	if err != nil {
		testenv.Need(t, "no dpkg status on this host: %v", err)
	}
	os.WriteFile(filepath.Join(ag.Dir, "state/status"), status, 0o644)
	// What install's prepare writes on a node: no index targets the
	// mirror does not carry (this host's appstream asks for DEP-11).
	conf, err := os.OpenFile(filepath.Join(ag.Dir, "etc/apt.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	conf.WriteString("Acquire::IndexTargets::deb::DEP-11::DefaultEnabled \"false\";\n")
	conf.Close()
	// The key comes from the mirror, at the path its URL gives.
	resp, err := http.Get(mirror + "/ftp-master.debian.org/keys/archive-key-12.gpg")
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(kb) != string(keyring) {
		t.Fatalf("the mirror serves the key with HTTP %d and %d bytes, want the %d bytes of %s", resp.StatusCode, len(kb), len(keyring), debianKeyring)
	}
	// The mirror is the only source.
	if err := ag.AddSource(mirror+"/deb.debian.org/debian", "bookworm", []string{"main"}, kb); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := func(args ...string) string {
		t.Helper()
		msg, err := ag.RunClean(ctx, args...)
		if err != nil {
			t.Fatal(err)
		}
		return msg
	}
	run("update")
	msg := run(append([]string{"-y", "install", "--download-only"}, wanted...)...)
	t.Logf("apt-get install --download-only:\n%s", msg)
	got, err := ag.Downloaded()
	if err != nil || len(got) == 0 {
		t.Fatalf("apt downloaded nothing (%v):\n%s", err, msg)
	}
	for _, g := range got {
		name, _, _ := strings.Cut(g, "_")
		if !slices.Contains(chosen, name) {
			t.Errorf("apt downloaded %s, which the resolution %v does not hold", name, chosen)
		}
	}
	// A dependency this host may already have comes from the mirror too.
	run("download", "libbsd0")
	if got, _ := filepath.Glob(filepath.Join(ag.Dir, "out/libbsd0_*.deb")); len(got) != 1 {
		t.Errorf("apt-get download libbsd0 left %v", got)
	}
}

// withoutProxy returns env (os.Environ when nil) without proxy settings.
func withoutProxy(env []string) []string {
	if env == nil {
		env = os.Environ()
	}
	var out []string
	for _, e := range env {
		k, _, _ := strings.Cut(e, "=")
		switch strings.ToLower(k) {
		case "http_proxy", "https_proxy", "no_proxy", "all_proxy":
			continue
		}
		out = append(out, e)
	}
	return out
}
