package apttest_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/paimirror/paimirror/bundle/apt"
	"github.com/paimirror/paimirror/bundle/apt/apttest"
	"github.com/paimirror/paimirror/bundle/bundletest"
)

// stable is a suite with two components and two architectures: a
// package with an epoch, alternatives, a virtual package and a package
// of every architecture.
func stable() apttest.Suite {
	app := apttest.Package{Name: "app", Version: "1.0", PreDepends: "base-helper",
		Depends: "libfoo (>= 1.2) | libbar, mail-transport-agent", Description: "the app\nIt needs things.\n\nMore."}
	appArm := app
	appArm.Architecture = "arm64"
	return apttest.Suite{Name: "stable", Architectures: []string{"amd64", "arm64"}, Components: []apttest.Component{
		{Name: "main", Packages: []apttest.Package{
			app, appArm,
			{Name: "libfoo", Version: "1.5", Architecture: "all"},
			{Name: "libfoo", Version: "1.0", Architecture: "all"},
			{Name: "libbar", Version: "2.0", Architecture: "all"},
			{Name: "base-helper", Version: "1:0.1-1", Architecture: "all", Priority: "important"},
			{Name: "postfix-lite", Version: "1.0", Architecture: "all", Provides: "mail-transport-agent",
				Files: map[string][]byte{"/usr/sbin/postfix-lite": []byte("#!/bin/sh\n"), "/etc/postfix-lite.conf": []byte("x=1\n")}},
			{Name: "coreutils-lite", Version: "9.1", Essential: true, Priority: "required",
				Extra: []apttest.Field{{Name: "Multi-Arch", Value: "foreign"}}},
		}},
		{Name: "contrib", Packages: []apttest.Package{
			{Name: "tool", Version: "2:3.0-1", Depends: "libfoo"},
		}},
	}}
}

// updates overrides app in the same codename, as a -updates suite does.
func updates() apttest.Suite {
	return apttest.Suite{Name: "stable-updates", Codename: "stable", Components: []apttest.Component{
		{Name: "main", Packages: []apttest.Package{
			{Name: "app", Version: "1.1", PreDepends: "base-helper", Depends: "libfoo (>= 1.5), mail-transport-agent"},
		}},
		{Name: "contrib"},
	}}
}

func newRepo(t *testing.T, opts apttest.Options, suites ...apttest.Suite) *apttest.Repo {
	t.Helper()
	r, err := apttest.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range suites {
		if err := r.AddSuite(s); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// recorder counts the paths a handler is asked for.
type recorder struct {
	h    http.Handler
	mu   sync.Mutex
	seen []string
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	rc.seen = append(rc.seen, r.URL.EscapedPath())
	rc.mu.Unlock()
	rc.h.ServeHTTP(w, r)
}

func (rc *recorder) paths() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.seen)
}

func serve(t *testing.T, r *apttest.Repo, prefix string) (*httptest.Server, *recorder) {
	t.Helper()
	rc := &recorder{h: http.StripPrefix(prefix, r.Handler())}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	return srv, rc
}

// TestDebDpkgDeb checks a generated .deb with dpkg-deb itself: the
// control fields, the file list and the files' bytes.
func TestDebDpkgDeb(t *testing.T) {
	dpkgDeb := bundletest.Tool(t, "dpkg-deb")
	p := apttest.Package{Name: "docker-ce", Version: "5:18.09.7~3-0~ubuntu-bionic", PreDepends: "init-system-helpers (>= 1.18~)",
		Depends: "containerd.io (>= 1.2.2-3), iptables", Provides: "docker-engine", Essential: true, Priority: "required",
		Files: map[string][]byte{"/usr/bin/dockerd": []byte("not really dockerd\n"), "usr/share/doc/docker-ce/copyright": bytes.Repeat([]byte("c"), 3000)}}
	deb, err := apttest.Deb(p, apttest.DefaultDate)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := apttest.Deb(p, apttest.DefaultDate)
	if !bytes.Equal(deb, again) {
		t.Error("the same package gave two different .debs")
	}
	dir := t.TempDir()
	file := filepath.Join(dir, "p.deb")
	os.WriteFile(file, deb, 0o644)
	run := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(dpkgDeb, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg-deb %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	if out := run("--info", file); strings.Contains(out, "warning") {
		t.Errorf("dpkg-deb --info warns:\n%s", out)
	}
	fields := run("--field", file, "Package", "Version", "Architecture", "Pre-Depends", "Depends", "Provides", "Essential", "Priority", "Installed-Size")
	want := "Package: docker-ce\nVersion: 5:18.09.7~3-0~ubuntu-bionic\nArchitecture: amd64\nPre-Depends: init-system-helpers (>= 1.18~)\n" +
		"Depends: containerd.io (>= 1.2.2-3), iptables\nProvides: docker-engine\nEssential: yes\nPriority: required\nInstalled-Size: 4\n"
	if fields != want {
		t.Errorf("dpkg-deb --field:\n%s\nwant\n%s", fields, want)
	}
	var paths []string
	for l := range strings.SplitSeq(strings.TrimSpace(run("--contents", file)), "\n") {
		f := strings.Fields(l)
		if f[1] != "root/root" {
			t.Errorf("%s is not owned by root: %s", f[len(f)-1], l)
		}
		paths = append(paths, f[len(f)-1])
	}
	wantPaths := []string{"./", "./usr/", "./usr/bin/", "./usr/bin/dockerd", "./usr/share/", "./usr/share/doc/", "./usr/share/doc/docker-ce/", "./usr/share/doc/docker-ce/copyright"}
	if !slices.Equal(paths, wantPaths) {
		t.Errorf("dpkg-deb --contents: %v, want %v", paths, wantPaths)
	}
	run("--extract", file, filepath.Join(dir, "x"))
	if b, _ := os.ReadFile(filepath.Join(dir, "x/usr/bin/dockerd")); string(b) != "not really dockerd\n" {
		t.Errorf("extracted dockerd: %q", b)
	}
	run("--control", file, filepath.Join(dir, "c"))
	if b, _ := os.ReadFile(filepath.Join(dir, "c/md5sums")); !strings.Contains(string(b), "  usr/bin/dockerd\n") {
		t.Errorf("md5sums: %q", b)
	}
}

// TestPackagesMatchDpkgScanpackages checks every index stanza against
// what dpkg-scanpackages writes for the same pool.
func TestPackagesMatchDpkgScanpackages(t *testing.T) {
	scan := bundletest.Tool(t, "dpkg-scanpackages")
	r := newRepo(t, apttest.Options{EpochInFilename: true, Compressions: []string{"", ".xz"}}, stable())
	dir := t.TempDir()
	if err := r.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(scan, "--multiversion", "pool", "/dev/null")
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("dpkg-scanpackages: %v\n%s", err, stderr.Bytes())
	}
	theirs := stanzas(t, out)
	ours := map[string]apt.Paragraph{}
	for _, p := range r.Paths() {
		if strings.HasSuffix(p, "/Packages") && !strings.Contains(p, "by-hash") {
			data, _ := r.File(p)
			for k, v := range stanzas(t, data) {
				ours[k] = v
			}
		}
	}
	if len(ours) != len(theirs) || len(ours) != 9 {
		t.Fatalf("%d stanzas in our indexes, %d from dpkg-scanpackages, want 9", len(ours), len(theirs))
	}
	for k, want := range theirs {
		got := ours[k]
		for _, f := range []string{"Package", "Version", "Architecture", "Maintainer", "Installed-Size", "Pre-Depends", "Depends", "Provides",
			"Essential", "Priority", "Section", "Multi-Arch", "Filename", "Size", "MD5sum", "SHA256", "Description"} {
			if got.Get(f) != want.Get(f) {
				t.Errorf("%s: %s is %q, dpkg-scanpackages says %q", k, f, got.Get(f), want.Get(f))
			}
		}
	}
}

func stanzas(t *testing.T, data []byte) map[string]apt.Paragraph {
	t.Helper()
	ps, err := apt.ParseControl(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]apt.Paragraph{}
	for _, p := range ps {
		out[p.Get("Package")+"_"+p.Get("Version")+"_"+p.Get("Architecture")] = p
	}
	return out
}

// TestFetchMetadata reads the repository with paimirror's own apt code:
// the signatures verify against Key and Fingerprint, every index
// variant checks against the Release, by-hash names serve the same bytes.
func TestFetchMetadata(t *testing.T) {
	r := newRepo(t, apttest.Options{EpochInFilename: true}, stable(), updates())
	srv, _ := serve(t, r, "/debian")
	key, err := apt.NewKey(r.Key(), r.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	var indexes []*apt.Index
	for _, suite := range []string{"stable", "stable-updates"} {
		md, err := apt.FetchMetadata(context.Background(), apt.Source{URL: srv.URL + "/debian", Suite: suite, Key: key}, apt.FetchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rel := md.Release
		if rel.Suite != suite || rel.Codename != "stable" || !rel.AcquireByHash || !slices.Equal(rel.Components, []string{"main", "contrib"}) || rel.Origin != "apttest" {
			t.Errorf("%s: Release %+v", suite, rel)
		}
		for _, f := range md.Files {
			if strings.HasSuffix(f.Path, "Release") || strings.HasSuffix(f.Path, ".gpg") {
				continue
			}
			dir, _ := filepath.Split(f.Path)
			if b, ok := r.File(dir + "by-hash/SHA256/" + f.SHA256); !ok || !bytes.Equal(b, f.Data) {
				t.Errorf("%s: no by-hash copy", f.Path)
			}
		}
		for _, want := range []string{"InRelease", "Release", "Release.gpg", "main/binary-amd64/Packages.gz", "main/binary-amd64/Packages.xz", "contrib/i18n/Translation-en.xz"} {
			if !slices.ContainsFunc(md.Files, func(f apt.MetaFile) bool { return f.Path == "dists/"+suite+"/"+want }) {
				t.Errorf("%s: %s was not kept", suite, want)
			}
		}
		indexes = append(indexes, md.Indexes...)
	}
	res, err := apt.Resolve(indexes, []string{"app", "tool"}, apt.ResolveOptions{Architecture: "amd64"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range res.Packages {
		got = append(got, p.Filename)
		if b, ok := r.File(p.Filename); !ok || int64(len(b)) != p.Size || sha256Hex(b) != p.SHA256 {
			t.Errorf("%s: the pool file is not the one the index lists (size %d, sha256 %s)", p.Filename, p.Size, p.SHA256)
		}
	}
	want := []string{"pool/main/a/app/app_1.1_amd64.deb", "pool/main/b/base-helper/base-helper_1%3a0.1-1_all.deb",
		"pool/main/libf/libfoo/libfoo_1.5_all.deb", "pool/main/p/postfix-lite/postfix-lite_1.0_all.deb", "pool/contrib/t/tool/tool_2%3a3.0-1_amd64.deb"}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("resolved %v, want %v", got, want)
	}
}

// TestAptGet lets the real apt-get update from generated repositories,
// with signature checking on and the key given by signed-by, and
// download the closure of two packages.
func TestAptGet(t *testing.T) {
	aptGet := bundletest.Tool(t, "apt-get")
	bundletest.Tool(t, "gpgv")
	tests := []struct {
		name   string
		opts   apttest.Options
		edit   func(r *apttest.Repo)
		binary bool // the key as a binary .gpg file
		want   []string
		index  string // the index variant apt fetches
	}{
		{name: "default", opts: apttest.Options{},
			want:  []string{"app_1.1_amd64.deb", "base-helper_1%3a0.1-1_all.deb", "libfoo_1.5_all.deb", "postfix-lite_1.0_all.deb", "tool_2%3a3.0-1_amd64.deb"},
			index: "Packages.xz"},
		{name: "epochs in file names; gzip only; no InRelease; binary key", opts: apttest.Options{EpochInFilename: true, Compressions: []string{".gz"}},
			edit: func(r *apttest.Repo) {
				r.Remove("dists/stable/InRelease")
				r.Remove("dists/stable-updates/InRelease")
			},
			binary: true,
			want:   []string{"app_1.1_amd64.deb", "base-helper_1%3a0.1-1_all.deb", "libfoo_1.5_all.deb", "postfix-lite_1.0_all.deb", "tool_2%3a3.0-1_amd64.deb"},
			index:  "Packages.gz"},
		{name: "uncompressed only", opts: apttest.Options{Compressions: []string{""}},
			want:  []string{"app_1.1_amd64.deb", "base-helper_1%3a0.1-1_all.deb", "libfoo_1.5_all.deb", "postfix-lite_1.0_all.deb", "tool_2%3a3.0-1_amd64.deb"},
			index: "Packages"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRepo(t, tc.opts, stable(), updates())
			if tc.edit != nil {
				tc.edit(r)
			}
			srv, rec := serve(t, r, "/debian")
			key := r.Key()
			if tc.binary {
				var b bytes.Buffer
				if err := r.Entity().Serialize(&b); err != nil {
					t.Fatal(err)
				}
				key = b.Bytes()
			}
			ag, err := apttest.NewAptGet(aptGet, t.TempDir(), "amd64")
			if err != nil {
				t.Fatal(err)
			}
			for _, suite := range []string{"stable", "stable-updates"} {
				if err := ag.AddSource(srv.URL+"/debian", suite, []string{"main", "contrib"}, key); err != nil {
					t.Fatal(err)
				}
			}
			ctx := context.Background()
			out, err := ag.Run(ctx, "update")
			if err != nil {
				t.Fatal(err)
			}
			c := slices.DeleteFunc(apttest.Complaints(out), func(l string) bool {
				return tc.edit != nil && strings.HasPrefix(l, "Ign:") && strings.HasSuffix(l, " InRelease")
			})
			if len(c) > 0 {
				t.Fatalf("apt-get update complains: %q\n%s", c, out)
			}
			t.Logf("apt-get update:\n%s", out)
			out, err = ag.Run(ctx, "install", "-y", "--download-only", "app", "tool")
			if err != nil {
				t.Fatal(err)
			}
			if c := apttest.Complaints(out); len(c) > 0 {
				t.Errorf("apt-get install complains: %q\n%s", c, out)
			}
			got, err := ag.Downloaded()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("apt-get downloaded %v, want %v\n%s", got, tc.want, out)
			}
			t.Logf("asked for %q", rec.paths())
			byHash := 0
			for _, p := range rec.paths() {
				if strings.Contains(p, "/by-hash/SHA256/") {
					byHash++
				}
				if strings.Contains(p, "/binary-amd64/Packages") && !strings.HasSuffix(p, tc.index) {
					t.Errorf("apt asked for %s, want only %s", p, tc.index)
				}
			}
			if byHash == 0 {
				t.Errorf("apt asked for nothing by hash: %v", rec.paths())
			}
			if _, err := ag.Run(ctx, "download", "libfoo=1.0"); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(filepath.Join(ag.Dir, "out/libfoo_1.0_all.deb")); err != nil {
				t.Errorf("apt-get download libfoo=1.0: %v", err)
			}
		})
	}
}

// TestAptGetRejects checks that apt-get refuses a repository signed by
// another key than the one given.
func TestAptGetRejects(t *testing.T) {
	aptGet := bundletest.Tool(t, "apt-get")
	bundletest.Tool(t, "gpgv")
	r := newRepo(t, apttest.Options{}, stable())
	other := newRepo(t, apttest.Options{})
	srv, _ := serve(t, r, "")
	ag, err := apttest.NewAptGet(aptGet, t.TempDir(), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := ag.AddSource(srv.URL, "stable", []string{"main"}, other.Key()); err != nil {
		t.Fatal(err)
	}
	out, _ := ag.Run(context.Background(), "update")
	if !strings.Contains(out, "NO_PUBKEY") && !strings.Contains(out, "not signed") {
		t.Errorf("apt-get update accepted a repository signed by another key:\n%s", out)
	}
}

func TestHandler(t *testing.T) {
	r := newRepo(t, apttest.Options{EpochInFilename: true}, stable())
	srv, _ := serve(t, r, "")
	deb, ok := r.File("pool/main/b/base-helper/base-helper_1%3a0.1-1_all.deb")
	if !ok {
		t.Fatalf("no base-helper in %v", r.Paths())
	}
	tests := []struct {
		method, path string
		code         int
		body         []byte
	}{
		{"GET", "/pool/main/b/base-helper/base-helper_1%253a0.1-1_all.deb", 200, deb},
		{"GET", "/pool/main/b/base-helper/base-helper_1%3a0.1-1_all.deb", 200, deb},
		{"HEAD", "/dists/stable/InRelease", 200, nil},
		{"GET", "/dists/stable/main/binary-amd64/Packages.bz2", 404, nil},
		{"POST", "/dists/stable/InRelease", 405, nil},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body bytes.Buffer
			body.ReadFrom(resp.Body)
			if resp.StatusCode != tc.code || (tc.body != nil && !bytes.Equal(body.Bytes(), tc.body)) {
				t.Errorf("%d, %d bytes; want %d", resp.StatusCode, body.Len(), tc.code)
			}
		})
	}
}

func TestAddSuiteErrors(t *testing.T) {
	ok := apttest.Package{Name: "ok", Version: "1.0"}
	tests := []struct {
		name  string
		suite apttest.Suite
		want  string
	}{
		{"no components", apttest.Suite{Name: "s"}, "no components"},
		{"bad suite", apttest.Suite{Name: "../s", Components: []apttest.Component{{Name: "main"}}}, "clean"},
		{"component twice", apttest.Suite{Name: "s", Components: []apttest.Component{{Name: "main"}, {Name: "main"}}}, "twice"},
		{"bad name", apttest.Suite{Name: "s", Components: []apttest.Component{{Name: "main", Packages: []apttest.Package{{Name: "Bad", Version: "1"}}}}}, "package name"},
		{"bad version", apttest.Suite{Name: "s", Components: []apttest.Component{{Name: "main", Packages: []apttest.Package{{Name: "ok", Version: "v1"}}}}}, "version"},
		{"other arch", apttest.Suite{Name: "s", Components: []apttest.Component{{Name: "main", Packages: []apttest.Package{{Name: "ok", Version: "1", Architecture: "arm64"}}}}}, "arm64"},
		{"pool clash", apttest.Suite{Name: "s", Components: []apttest.Component{{Name: "main", Packages: []apttest.Package{{Name: "ok2", Version: "1.0"}, {Name: "ok2", Version: "1.0", Depends: "x"}}}}}, "twice"},
		{"suite twice", apttest.Suite{Name: "first", Components: []apttest.Component{{Name: "main"}}}, "added before"},
		{"pool clash across suites", apttest.Suite{Name: "other", Components: []apttest.Component{{Name: "main", Packages: []apttest.Package{{Name: "ok", Version: "1.0", Depends: "x"}}}}}, "another package"},
	}
	r := newRepo(t, apttest.Options{}, apttest.Suite{Name: "first", Components: []apttest.Component{{Name: "main", Packages: []apttest.Package{ok}}}})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := r.AddSuite(tc.suite)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
	if _, err := apttest.New(apttest.Options{Compressions: []string{".bz2"}}); err == nil {
		t.Error("New accepted .bz2")
	}
}

func TestMirror(t *testing.T) {
	files := map[string][]byte{
		"InRelease":                     []byte("flat release"),
		"dists/s/InRelease":             []byte("suite release"),
		"pool/main/a/a/a_1%3a1_all.deb": []byte("deb"),
	}
	srv := httptest.NewServer(apttest.Mirror(files))
	defer srv.Close()
	for _, tc := range []struct {
		method, path string
		code         int
		body         string
	}{
		{"GET", "/InRelease", 200, "flat release"},
		{"GET", "/./InRelease", 200, "flat release"},
		{"GET", "/dists/./s/./InRelease", 200, "suite release"},
		{"GET", "/pool/main/a/a/a_1%253a1_all.deb", 200, "deb"},
		{"HEAD", "/dists/s/InRelease", 200, ""},
		{"GET", "/dists/x/../s/InRelease", 404, ""},
		{"GET", "/Release", 404, ""},
		{"PUT", "/InRelease", 405, ""},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
			req.URL.Opaque = tc.path // sent as written, dot segments included
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.code || (tc.code == 200 && string(body) != tc.body) {
				t.Errorf("%d %q; want %d %q", resp.StatusCode, body, tc.code, tc.body)
			}
		})
	}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
