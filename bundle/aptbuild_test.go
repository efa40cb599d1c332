package bundle_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/apt"
	"github.com/paimirror/paimirror/bundle/apt/apttest"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/fileserver"
)

// aptManifest has two repositories of one target, one of them with two
// suites; the fake upstream makes their keys and packages.
const aptManifest = `name: apt-test
apt:
  - name: ubuntu-bionic
    target: ubuntu-18.04
    url: http://archive.ubuntu.com/ubuntu
    suites: [bionic, bionic-updates]
    components: [main]
    key:
      url: http://archive.ubuntu.com/ubuntu/project/ubuntu-archive-keyring.gpg
      fingerprint: 790B C727 7767 219C 42C8 6F93 3B4F E6AC C0B2 1F32
    packages: [curl, nfs-common]
  - name: docker-bionic
    target: ubuntu-18.04
    url: https://download.docker.com/linux/ubuntu
    suites: [bionic]
    components: [stable]
    key:
      url: https://download.docker.com/linux/ubuntu/gpg
      fingerprint: 9DC8 5822 9FC7 DD38 854A E2D8 8D81 803C 0EBF CD88
    packages: ["docker-ce=5:18.09.7~3-0~ubuntu-bionic"]
    sources: false
`

func TestBuildAptLock(t *testing.T) {
	u := startUpstream(t, parse(t, aptManifest), bundletest.Options{})
	res, err := bundle.Build(context.Background(), u.Manifest, buildOpts(t, u))
	if err != nil {
		t.Fatal(err)
	}
	b := openVerified(t, res.Path)
	la := b.Lock.Apt
	if la == nil || len(la.Repositories) != 2 || len(la.Keys) != 2 || len(la.Resolutions) != 1 {
		t.Fatalf("lock apt = %+v", la)
	}
	r := la.Repositories[0]
	if r.Prefix != "/archive.ubuntu.com/ubuntu" || !r.Sources || la.Repositories[1].Sources {
		t.Errorf("repositories: prefix %q, sources %v %v", r.Prefix, r.Sources, la.Repositories[1].Sources)
	}
	var paths []string
	for _, f := range r.Files {
		paths = append(paths, f.Path)
		if !strings.HasPrefix(f.Source, u.Files.URL+"/archive.ubuntu.com/ubuntu/") {
			t.Errorf("%s: source %q", f.Path, f.Source)
		}
	}
	for _, want := range []string{"dists/bionic/InRelease", "dists/bionic-updates/InRelease", "dists/bionic/main/binary-amd64/Packages.xz"} {
		if !slices.Contains(paths, want) {
			t.Errorf("repository files %v lack %s", paths, want)
		}
	}
	if got := la.Resolutions[0].Wanted; !slices.Equal(got, []string{"curl", "nfs-common", "docker-ce=5:18.09.7~3-0~ubuntu-bionic"}) {
		t.Errorf("wanted = %v", got)
	}
	byName := map[string]bundle.AptPackage{}
	for _, p := range la.Resolutions[0].Packages {
		byName[p.Name] = p
	}
	if p := byName["docker-ce"]; p.Repository != "docker-bionic" || p.Version != "5:18.09.7~3-0~ubuntu-bionic" {
		t.Errorf("docker-ce = %+v", p)
	}
	if p := byName[bundletest.AptLibrary]; len(p.RequiredBy) == 0 {
		t.Errorf("%s has no chain: %+v", bundletest.AptLibrary, p)
	}
	if k := la.Keys[1]; k.Path != "/download.docker.com/linux/ubuntu/gpg" || len(k.Fingerprints) != 1 {
		t.Errorf("docker key = %+v", k)
	}
	// Every served path opens, the by-hash names included.
	served := b.Lock.AptServed()
	byHash := 0
	for _, f := range served {
		for _, p := range f.Paths {
			if strings.Contains(p, "/by-hash/SHA256/") {
				byHash++
				if !strings.HasSuffix(p, "/"+f.SHA256) {
					t.Errorf("%s served at %s", f.URL, p)
				}
			}
		}
		if _, err := b.Blob(f.Digest()); err != nil {
			t.Errorf("%s: %v", f.URL, err)
		}
	}
	if byHash == 0 {
		t.Error("no index is served by hash")
	}
	if s := b.Summary(); s.Totals.AptRepositories != 2 || s.Totals.AptPackages != b.Lock.AptDebs() || s.Totals.AptPackages == 0 {
		t.Errorf("summary totals %+v", s.Totals)
	}
}

// TestBuildAptMismatchAndResume corrupts one .deb on the wire: the build
// names it and both digests and stores nothing of it; the rerun takes the
// keys, metadata and resolution from the journal and fetches only that
// .deb again.
func TestBuildAptMismatchAndResume(t *testing.T) {
	var tamper atomic.Bool
	tamper.Store(true)
	isCurl := func(p string) bool { return strings.Contains(p, "/pool/") && strings.Contains(p, "/curl_") }
	u := startUpstream(t, parse(t, aptManifest), bundletest.Options{Tamper: func(r *http.Request) bool {
		return tamper.Load() && isCurl(r.URL.Path)
	}})
	opts := buildOpts(t, u)
	opts.Retries = 1
	_, err := bundle.Build(context.Background(), u.Manifest, opts)
	if !errors.Is(err, bundle.ErrDigestMismatch) {
		t.Fatalf("want a digest mismatch, got %v", err)
	}
	var ie *bundle.ItemError
	if !errors.As(err, &ie) || !strings.HasPrefix(ie.Item, "apt package curl=") {
		t.Errorf("the failed item is not named: %v", err)
	}
	var de *bundle.DigestError
	if !errors.As(err, &de) || de.Want == de.Got {
		t.Fatalf("no digests in %v", err)
	}
	for _, n := range tarBlobNames(t, opts.Output+".partial") {
		if "sha256:"+n == string(de.Got) {
			t.Error("the bad bytes were stored")
		}
	}

	before := u.Requests()
	tamper.Store(false)
	res, err := bundle.Build(context.Background(), u.Manifest, opts)
	if err != nil {
		t.Fatal(err)
	}
	openVerified(t, res.Path)
	for p, n := range u.Requests() {
		if n == before[p] {
			continue
		}
		if !isCurl(p) {
			t.Errorf("the resumed build asked for %s again (%d times before, %d now)", p, before[p], n)
		}
	}
}

func TestBuildAptFailures(t *testing.T) {
	m := parse(t, aptManifest)
	u := startUpstream(t, m, bundletest.Options{})

	t.Run("a key without the pinned fingerprint", func(t *testing.T) {
		bad := u.Pin(m)
		bad.Apt[1].Key.Fingerprint = "0000 0000 0000 0000 0000  0000 0000 0000 0000 0000"
		_, err := bundle.Build(context.Background(), bad, buildOpts(t, u))
		if !errors.Is(err, apt.ErrKey) {
			t.Fatalf("want ErrKey, got %v", err)
		}
		for _, want := range []string{"apt repository docker-bionic", "https://download.docker.com/linux/ubuntu/gpg", "0000000000000000000000000000000000000000", "holds"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not mention %q:\n%v", want, err)
			}
		}
	})
	t.Run("metadata signed by another key", func(t *testing.T) {
		swapped := u.Pin(m)
		swapped.Apt[0].Key, swapped.Apt[1].Key = swapped.Apt[1].Key, swapped.Apt[0].Key
		_, err := bundle.Build(context.Background(), swapped, buildOpts(t, u))
		if !errors.Is(err, apt.ErrSignature) {
			t.Fatalf("want ErrSignature, got %v", err)
		}
		if !strings.Contains(err.Error(), "apt repository ubuntu-bionic suite bionic") {
			t.Errorf("error does not name the suite:\n%v", err)
		}
	})
	t.Run("a tampered InRelease", func(t *testing.T) {
		ut := startUpstream(t, m, bundletest.Options{Tamper: func(r *http.Request) bool {
			return strings.HasSuffix(r.URL.Path, "/dists/bionic-updates/InRelease")
		}})
		_, err := bundle.Build(context.Background(), ut.Manifest, buildOpts(t, ut))
		if err == nil || !strings.Contains(err.Error(), "suite bionic-updates") {
			t.Fatalf("want an error naming bionic-updates, got %v", err)
		}
	})
	t.Run("a package no repository has", func(t *testing.T) {
		missing := u.Pin(m)
		missing.Apt[0].Packages = append(missing.Apt[0].Packages, "no-such-package")
		_, err := bundle.Build(context.Background(), missing, buildOpts(t, u))
		var me *apt.MissingError
		if !errors.As(err, &me) || me.Package != "no-such-package" || !strings.Contains(err.Error(), "apt target ubuntu-18.04 (amd64)") {
			t.Fatalf("want a MissingError for no-such-package naming the target, got %v", err)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		opts := buildOpts(t, u)
		opts.Mirrors = nil
		_, err := bundle.Build(context.Background(), u.Manifest, opts)
		if !errors.Is(err, bundle.ErrUnreachable) || !strings.Contains(err.Error(), "--mirror http://archive.ubuntu.com=<") {
			t.Fatalf("want ErrUnreachable with a --mirror hint, got %v", err)
		}
	})
	t.Run("a dead mirror, then a live one", func(t *testing.T) {
		closed, err := bundletest.ClosedAddr()
		if err != nil {
			t.Fatal(err)
		}
		opts := buildOpts(t, u)
		opts.Mirrors = append([]bundle.Mirror{{From: "http://archive.ubuntu.com/ubuntu", To: "http://" + closed + "/ubuntu"}}, opts.Mirrors...)
		res, err := bundle.Build(context.Background(), u.Manifest, opts)
		if err != nil {
			t.Fatal(err)
		}
		if n := res.Lock.AptDebs(); n == 0 {
			t.Error("no .debs")
		}
	})
}

// TestBuildAptFlat builds a flat repository (NVIDIA's layout) through
// --mirror, serves the bundle with the file server, and lets the real
// apt-get update from it ("deb URL ./", which apt asks for as
// "URL/./InRelease") and download a package with its dependency.
func TestBuildAptFlat(t *testing.T) {
	flat, err := apttest.New(apttest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := flat.AddFlat([]apttest.Package{
		{Name: "nvidia-container-runtime", Version: "3.1.4-1", Depends: "nvidia-container-toolkit (>= 1.0.2)"},
		{Name: "nvidia-container-toolkit", Version: "1.0.5-1"},
	}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/nvidia/", http.StripPrefix("/nvidia", flat.Handler()))
	mux.HandleFunc("/gpgkey", func(w http.ResponseWriter, r *http.Request) { w.Write(flat.Key()) })
	up := httptest.NewServer(mux)
	defer up.Close()
	const url = "https://nvidia.github.io/libnvidia-container/stable/ubuntu18.04/amd64"
	m := parse(t, `name: flat
apt:
  - name: nvidia
    target: ubuntu-18.04
    url: `+url+`
    flat: true
    key:
      url: https://nvidia.github.io/libnvidia-container/gpgkey
      fingerprint: `+flat.Fingerprint()+`
    packages: [nvidia-container-runtime]
`)
	res, err := bundle.Build(context.Background(), m, bundle.BuildOptions{
		Output: filepath.Join(t.TempDir(), "b.tar"), Transport: bundletest.LoopbackTransport(),
		Mirrors: []bundle.Mirror{{From: url, To: up.URL + "/nvidia"}, {From: "https://nvidia.github.io/libnvidia-container/gpgkey", To: up.URL + "/gpgkey"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	b := openVerified(t, res.Path)
	r := b.Lock.Apt.Repositories[0]
	var paths []string
	for _, f := range r.Files {
		paths = append(paths, f.Path)
	}
	if !r.Flat || !slices.Contains(paths, "InRelease") || !slices.Contains(paths, "nvidia-container-toolkit_1.0.5-1_amd64.deb") {
		t.Fatalf("flat repository in the lock: %+v", r)
	}

	srv := httptest.NewServer(fileserver.New(b).Handler(http.NotFoundHandler()))
	defer srv.Close()
	aptGet := bundletest.Tool(t, "apt-get")
	bundletest.Tool(t, "gpgv")
	ag, err := apttest.NewAptGet(aptGet, t.TempDir(), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	key := get(t, srv.URL+"/nvidia.github.io/libnvidia-container/gpgkey")
	if err := ag.AddSource(srv.URL+r.Prefix, "./", nil, key); err != nil {
		t.Fatal(err)
	}
	if _, err := ag.RunClean(context.Background(), "update"); err != nil {
		t.Fatal(err)
	}
	if out, err := ag.Run(context.Background(), "install", "-y", "--download-only", "nvidia-container-runtime"); err != nil {
		t.Fatalf("apt-get install: %v\n%s", err, out)
	}
	got, err := ag.Downloaded()
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"nvidia-container-runtime_3.1.4-1_amd64.deb", "nvidia-container-toolkit_1.0.5-1_amd64.deb"}; !slices.Equal(got, want) {
		t.Errorf("apt-get downloaded %v, want %v", got, want)
	}
}

func get(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", u, resp.Status)
	}
	return data
}
