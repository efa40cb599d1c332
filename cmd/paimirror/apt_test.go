package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
)

// debianKeyring is the host's keyring holding Debian 12's archive key,
// which signs bookworm's InRelease.
const debianKeyring = "/usr/share/keyrings/debian-archive-bookworm-automatic.gpg"

// reachDebian skips the test (or fails it under PAIMIRROR_REQUIRE_TOOLS=1)
// when deb.debian.org cannot be reached.
func reachDebian(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("reaches deb.debian.org; skipped with -short")
	}
	c, err := net.DialTimeout("tcp", "deb.debian.org:80", 10*time.Second)
	if err == nil {
		c.Close()
		return
	}
	if os.Getenv("PAIMIRROR_REQUIRE_TOOLS") == "1" {
		t.Fatalf("deb.debian.org is unreachable (%v), and PAIMIRROR_REQUIRE_TOOLS=1", err)
	}
	t.Skipf("deb.debian.org is unreachable: %v", err)
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
		t.Skipf("no Debian archive keyring on this host: %v", err)
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

	root := t.TempDir()
	for _, d := range []string{"state/lists/partial", "cache/archives/partial", "trusted", "etc/sources.list.d", "etc/preferences.d", "etc/apt.conf.d", "out"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	// The node: what this host has installed.
	status, err := os.ReadFile("/var/lib/dpkg/status")
	if err != nil {
		t.Skipf("no dpkg status on this host: %v", err)
	}
	os.WriteFile(filepath.Join(root, "state/status"), status, 0o644)
	// The key comes from the mirror, at the path its URL gives.
	key := filepath.Join(root, "debian-archive-key.gpg")
	resp, err := http.Get(mirror + "/ftp-master.debian.org/keys/archive-key-12.gpg")
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(kb) != string(keyring) {
		t.Fatalf("the mirror serves the key with HTTP %d and %d bytes, want the %d bytes of %s", resp.StatusCode, len(kb), len(keyring), debianKeyring)
	}
	os.WriteFile(key, kb, 0o644)
	// What install's prepare writes on a node: no index targets the
	// mirror does not carry (this host's appstream asks for DEP-11).
	os.WriteFile(filepath.Join(root, "etc/apt.conf"), []byte("Acquire::IndexTargets::deb::DEP-11::DefaultEnabled \"false\";\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/sources.list"),
		[]byte("deb [arch=amd64 signed-by="+key+"] "+mirror+"/deb.debian.org/debian bookworm main\n"), 0o644)
	opts := []string{
		"-o", "Dir::State=" + root + "/state",
		"-o", "Dir::State::status=" + root + "/state/status",
		"-o", "Dir::Cache=" + root + "/cache",
		"-o", "Dir::Etc::SourceList=" + root + "/etc/sources.list",
		"-o", "Dir::Etc::SourceParts=" + root + "/etc/sources.list.d",
		"-o", "Dir::Etc::Trusted=" + root + "/etc/trusted.gpg",
		"-o", "Dir::Etc::TrustedParts=" + root + "/trusted",
		"-o", "Dir::Etc::Preferences=" + root + "/etc/preferences",
		"-o", "Dir::Etc::PreferencesParts=" + root + "/etc/preferences.d",
		"-o", "Dir::Etc::Parts=" + root + "/etc/apt.conf.d", // not the host's drop-ins
		"-o", "Dir::Log=" + root,
		"-o", "Debug::NoLocking=1",
		"-o", "APT::Architecture=amd64",
		"-o", "APT::Architectures=amd64",
		"-o", "APT::Sandbox::User=root",
		"-o", "Acquire::AllowInsecureRepositories=false",
		"-o", "APT::Get::AllowUnauthenticated=false",
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, aptGet, append(slices.Clone(opts), args...)...)
		cmd.Dir = filepath.Join(root, "out")
		// Only the mirror: any other address goes to a closed port.
		cmd.Env = append(os.Environ(), "APT_CONFIG="+root+"/etc/apt.conf", "LC_ALL=C",
			"http_proxy=http://127.0.0.1:9", "no_proxy="+strings.Split(addr, ":")[0])
		msg, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("apt-get %s: %v\n%s", strings.Join(args, " "), err, msg)
		}
		return string(msg)
	}
	msg := run("update")
	if strings.Contains(msg, "W: ") || strings.Contains(msg, "Err:") || strings.Contains(msg, "NO_PUBKEY") {
		t.Fatalf("apt-get update warned:\n%s", msg)
	}
	msg = run(append([]string{"-y", "--no-install-recommends", "install", "--download-only"}, wanted...)...)
	t.Logf("apt-get install --download-only:\n%s", msg)
	got, _ := filepath.Glob(filepath.Join(root, "cache/archives/*.deb"))
	if len(got) == 0 {
		t.Fatalf("apt downloaded nothing:\n%s", msg)
	}
	for _, g := range got {
		name, _, _ := strings.Cut(filepath.Base(g), "_")
		if !slices.Contains(chosen, name) {
			t.Errorf("apt downloaded %s, which the resolution %v does not hold", name, chosen)
		}
	}
	// A dependency this host may already have comes from the mirror too.
	run("download", "libbsd0")
	if got, _ := filepath.Glob(filepath.Join(root, "out/libbsd0_*.deb")); len(got) != 1 {
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
