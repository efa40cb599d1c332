package apt_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/paimirror/paimirror/bundle/apt"
	"github.com/paimirror/paimirror/bundle/apt/apttest"
	"github.com/paimirror/paimirror/bundle/bundletest"
)

// testPackages are the control stanzas of the test repository's .debs.
var testPackages = []string{
	"Package: app\nVersion: 1.0\nArchitecture: amd64\nPre-Depends: base-helper\nDepends: libfoo (>= 1.2) | libbar, mail-transport-agent, libvirt-x (>= 2)\n",
	"Package: libfoo\nVersion: 1.0\nArchitecture: amd64\n",
	"Package: libfoo\nVersion: 1.5\nArchitecture: amd64\n",
	"Package: libbar\nVersion: 2.0\nArchitecture: all\n",
	"Package: postfix-lite\nVersion: 1.0\nArchitecture: amd64\nProvides: mail-transport-agent\n",
	"Package: base-helper\nVersion: 1:0.1-1\nArchitecture: all\n",
	"Package: virt-impl\nVersion: 3.0\nArchitecture: amd64\nProvides: libvirt-x (= 3)\n",
	"Package: broken\nVersion: 1.0\nArchitecture: amd64\nDepends: libfoo (>= 1.0), nonexistent-lib (>= 2)\n",
}

const suite = "test"

type testRepo struct {
	dir    string // the upstream tree: dists/ and pool/
	signer *openpgp.Entity
	key    []byte // armored public key
	fpr    string
}

var (
	repoOnce sync.Once
	repo     *testRepo
	repoErr  error
	repoDir  string
)

func TestMain(m *testing.M) {
	code := m.Run()
	if repoDir != "" {
		os.RemoveAll(repoDir)
	}
	os.Exit(code)
}

// newKey makes a throwaway signing key.
func newKey(t *testing.T) (*openpgp.Entity, []byte, string) {
	t.Helper()
	e, err := openpgp.NewEntity("paimirror test", "", "test@example.invalid", &packet.Config{RSABits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Serialize(w); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return e, buf.Bytes(), strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
}

// getRepo builds the test repository once: real .debs from dpkg-deb,
// Packages, Packages.gz, Release, InRelease and Release.gpg.
func getRepo(t *testing.T) *testRepo {
	t.Helper()
	dpkgDeb := bundletest.Tool(t, "dpkg-deb")
	repoOnce.Do(func() {
		repoDir, repoErr = os.MkdirTemp("", "apt-repo-*")
		if repoErr != nil {
			return
		}
		repo, repoErr = buildRepo(t, dpkgDeb, repoDir)
	})
	if repoErr != nil {
		t.Fatal(repoErr)
	}
	return repo
}

func buildRepo(t *testing.T, dpkgDeb, dir string) (*testRepo, error) {
	signer, key, fpr := newKey(t)
	var packages bytes.Buffer
	for _, ctl := range testPackages {
		ps, err := apt.ParseControl(strings.NewReader(ctl))
		if err != nil {
			return nil, err
		}
		p := ps[0]
		name, ver, arch := p.Get("Package"), p.Get("Version"), p.Get("Architecture")
		fileVer := ver
		if _, v, ok := strings.Cut(ver, ":"); ok {
			fileVer = v
		}
		src := filepath.Join(dir, "build", name+"_"+fileVer)
		if err := os.MkdirAll(filepath.Join(src, "DEBIAN"), 0o755); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Join(src, "usr/share/doc", name), 0o755); err != nil {
			return nil, err
		}
		full := ctl + "Maintainer: Test <test@example.invalid>\nDescription: test package " + name + "\n a package for tests\n"
		if err := os.WriteFile(filepath.Join(src, "DEBIAN/control"), []byte(full), 0o644); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(src, "usr/share/doc", name, "README"), []byte(name+" "+ver+"\n"), 0o644); err != nil {
			return nil, err
		}
		rel := fmt.Sprintf("pool/main/%c/%s/%s_%s_%s.deb", name[0], name, name, fileVer, arch)
		deb := filepath.Join(dir, rel)
		os.MkdirAll(filepath.Dir(deb), 0o755)
		if out, err := exec.Command(dpkgDeb, "--root-owner-group", "-Zgzip", "--build", src, deb).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("dpkg-deb: %v: %s", err, out)
		}
		data, err := os.ReadFile(deb)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(&packages, "%sMaintainer: Test <test@example.invalid>\nFilename: %s\nSize: %d\nSHA256: %s\nDescription: test package %s\n\n", ctl, rel, len(data), sum(data), name)
	}
	os.RemoveAll(filepath.Join(dir, "build"))
	// Packages as Debian lists it: uncompressed (listed, not served), gz
	// and xz; Translation-en likewise in xz.
	var translation bytes.Buffer
	for _, ctl := range testPackages {
		name, _, _ := strings.Cut(strings.TrimPrefix(ctl, "Package: "), "\n")
		fmt.Fprintf(&translation, "Package: %s\nDescription-md5: %s\nDescription-en: test package %s\n a package for tests\n\n", name, sum([]byte(name))[:32], name)
	}
	indexes := map[string][]byte{
		"main/binary-amd64/Packages":    packages.Bytes(),
		"main/binary-amd64/Packages.gz": gzipped(t, packages.Bytes()),
		"main/binary-amd64/Packages.xz": xzed(t, packages.Bytes()),
		"main/i18n/Translation-en":      translation.Bytes(),
		"main/i18n/Translation-en.xz":   xzed(t, translation.Bytes()),
	}
	dists := filepath.Join(dir, "dists", suite)
	for p, b := range indexes {
		if !strings.HasSuffix(p, ".gz") && !strings.HasSuffix(p, ".xz") {
			continue
		}
		os.MkdirAll(filepath.Dir(filepath.Join(dists, p)), 0o755)
		if err := os.WriteFile(filepath.Join(dists, p), b, 0o644); err != nil {
			return nil, err
		}
	}
	release := fmt.Sprintf("Origin: paimirror\nLabel: paimirror\nSuite: %s\nCodename: %s\nDate: Sat, 01 Jan 2022 00:00:00 UTC\nAcquire-By-Hash: yes\nArchitectures: amd64\nComponents: main\nSHA256:\n", suite, suite)
	for _, p := range slices.Sorted(maps.Keys(indexes)) {
		release += fmt.Sprintf(" %s %d %s\n", sum(indexes[p]), len(indexes[p]), p)
	}
	os.WriteFile(filepath.Join(dists, "Release"), []byte(release), 0o644)
	var sig bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&sig, signer, strings.NewReader(release), nil); err != nil {
		return nil, err
	}
	os.WriteFile(filepath.Join(dists, "Release.gpg"), sig.Bytes(), 0o644)
	var in bytes.Buffer
	w, err := clearsign.Encode(&in, signer.PrivateKey, nil)
	if err != nil {
		return nil, err
	}
	io.WriteString(w, release)
	w.Close()
	os.WriteFile(filepath.Join(dists, "InRelease"), in.Bytes(), 0o644)
	return &testRepo{dir: dir, signer: signer, key: key, fpr: fpr}, nil
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// upstream serves a copy of the repository, after edit changes it.
func upstream(t *testing.T, r *testRepo, edit func(dir string)) *httptest.Server {
	t.Helper()
	dir := r.dir
	if edit != nil {
		dir = t.TempDir()
		if err := os.CopyFS(dir, os.DirFS(r.dir)); err != nil {
			t.Fatal(err)
		}
		edit(dir)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	t.Cleanup(srv.Close)
	return srv
}

func fetchIndexes(t *testing.T, r *testRepo, url string) (*apt.Metadata, error) {
	t.Helper()
	key, err := apt.NewKey(r.key, r.fpr)
	if err != nil {
		t.Fatal(err)
	}
	return apt.FetchMetadata(context.Background(), apt.Source{URL: url, Suite: suite, Key: key}, apt.FetchOptions{})
}

func names(res *apt.Resolution) []string {
	var out []string
	for _, p := range res.Packages {
		out = append(out, p.Name+"="+p.Version)
	}
	return out
}

func TestRepositoryResolve(t *testing.T) {
	r := getRepo(t)
	srv := upstream(t, r, nil)
	md, err := fetchIndexes(t, r, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, f := range md.Files {
		kept = append(kept, f.Path)
	}
	wantKept := []string{"dists/test/InRelease", "dists/test/Release", "dists/test/Release.gpg",
		"dists/test/main/binary-amd64/Packages.gz", "dists/test/main/binary-amd64/Packages.xz", "dists/test/main/i18n/Translation-en.xz"}
	if md.Release.Suite != suite || len(md.Indexes) != 1 || !slices.Equal(kept, wantKept) {
		t.Fatalf("metadata: suite %q, %d indexes, files %v, want %v", md.Release.Suite, len(md.Indexes), kept, wantKept)
	}
	tests := []struct {
		name      string
		wanted    []string
		opts      apt.ResolveOptions
		want      []string
		missing   string
		wantChain []string
	}{
		{name: "closure", wanted: []string{"app"},
			want: []string{"app=1.0", "base-helper=1:0.1-1", "libfoo=1.5", "postfix-lite=1.0", "virt-impl=3.0"}},
		{name: "alternative already chosen", wanted: []string{"libbar", "app"},
			want: []string{"app=1.0", "base-helper=1:0.1-1", "libbar=2.0", "postfix-lite=1.0", "virt-impl=3.0"}},
		{name: "pinned version", wanted: []string{"libfoo=1.0"}, want: []string{"libfoo=1.0"}},
		{name: "installed skipped", wanted: []string{"app"}, opts: apt.ResolveOptions{Installed: []string{"base-helper", "mail-transport-agent"}},
			want: []string{"app=1.0", "libfoo=1.5", "virt-impl=3.0"}},
		{name: "missing dependency", wanted: []string{"broken"}, missing: "nonexistent-lib", wantChain: []string{"broken 1.0"}},
		{name: "missing wanted", wanted: []string{"nothing"}, missing: "nothing"},
		{name: "no such version", wanted: []string{"libfoo (>= 2)"}, missing: "libfoo"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := apt.Resolve(md.Indexes, tc.wanted, tc.opts)
			if tc.missing != "" {
				var me *apt.MissingError
				if !errors.As(err, &me) || me.Package != tc.missing || !slices.Equal(me.Chain, tc.wantChain) {
					t.Fatalf("err = %v, want a MissingError for %s by %v", err, tc.missing, tc.wantChain)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := names(res); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
			for _, p := range res.Packages {
				if p.Filename == "" || p.Size == 0 || len(p.SHA256) != 64 || p.Repository != srv.URL+" "+suite {
					t.Errorf("%s: incomplete: %+v", p, p)
				}
			}
		})
	}
}

func TestRepositorySignatures(t *testing.T) {
	r := getRepo(t)
	tampered := func(name string) func(string) {
		return func(dir string) {
			p := filepath.Join(dir, "dists", suite, name)
			b, _ := os.ReadFile(p)
			os.WriteFile(p, bytes.Replace(b, []byte("Origin: paimirror"), []byte("Origin: evil"), 1), 0o644)
		}
	}
	tests := []struct {
		name  string
		edit  func(string)
		key   bool // use another key
		file  string
		found bool // the error names the real signer
	}{
		{name: "tampered InRelease", edit: tampered("InRelease"), file: "InRelease", found: true},
		{name: "tampered Release", edit: func(dir string) { os.Remove(filepath.Join(dir, "dists", suite, "InRelease")); tampered("Release")(dir) }, file: "Release.gpg", found: true},
		{name: "no signature", edit: func(dir string) {
			os.Remove(filepath.Join(dir, "dists", suite, "InRelease"))
			os.Remove(filepath.Join(dir, "dists", suite, "Release.gpg"))
		}, file: "Release.gpg"},
		{name: "wrong key", key: true, file: "InRelease", found: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := upstream(t, r, tc.edit)
			keyData, fpr := r.key, r.fpr
			if tc.key {
				_, keyData, fpr = newKey(t)
			}
			key, err := apt.NewKey(keyData, fpr)
			if err != nil {
				t.Fatal(err)
			}
			_, err = apt.FetchMetadata(context.Background(), apt.Source{URL: srv.URL, Suite: suite, Key: key}, apt.FetchOptions{})
			var se *apt.SignatureError
			if !errors.As(err, &se) || !errors.Is(err, apt.ErrSignature) {
				t.Fatalf("err = %v, want a SignatureError", err)
			}
			if se.File != tc.file || se.Want != fpr || se.Repository != srv.URL+" "+suite {
				t.Errorf("err = %+v", se)
			}
			if tc.found && !slices.ContainsFunc(se.Found, func(f string) bool { return strings.HasSuffix(r.fpr, f) }) {
				t.Errorf("Found = %v, want %s", se.Found, r.fpr)
			}
			if !strings.Contains(err.Error(), fpr) {
				t.Errorf("%q does not name the wanted fingerprint", err)
			}
		})
	}
	t.Run("key without the fingerprint", func(t *testing.T) {
		if _, err := apt.NewKey(r.key, strings.Repeat("AB", 20)); !errors.Is(err, apt.ErrKey) {
			t.Errorf("err = %v, want ErrKey", err)
		}
	})
	t.Run("tampered index", func(t *testing.T) {
		srv := upstream(t, r, func(dir string) {
			p := filepath.Join(dir, "dists", suite, "main/binary-amd64/Packages.gz")
			b, _ := os.ReadFile(p)
			b[len(b)-1] ^= 1
			os.WriteFile(p, b, 0o644)
		})
		_, err := fetchIndexes(t, r, srv.URL)
		var ce *apt.ChecksumError
		if !errors.As(err, &ce) || ce.Path != "main/binary-amd64/Packages.gz" || ce.GotSHA256 == ce.WantSHA256 {
			t.Fatalf("err = %v, want a ChecksumError", err)
		}
	})
}

// addMirrored puts data at p among a mirror's files and, where apt may
// ask for it by hash, at its by-hash name too, as paimirror serve does.
func addMirrored(files map[string][]byte, p string, data []byte) {
	files[p] = data
	if h, ok := apt.ByHashPath(p, sum(data)); ok {
		files[h] = data
	}
}

// TestAptGet mirrors the test repository as paimirror does (what
// FetchMetadata keeps, with the by-hash names ByHashPath gives, and the
// .debs Resolve chose), serves the copy and lets the real apt-get update
// (signature checking on) and download the closure of app from it.
func TestAptGet(t *testing.T) {
	aptGet := bundletest.Tool(t, "apt-get")
	bundletest.Tool(t, "gpgv")
	r := getRepo(t)
	up := upstream(t, r, nil)
	md, err := fetchIndexes(t, r, up.URL)
	if err != nil {
		t.Fatal(err)
	}
	res, err := apt.Resolve(md.Indexes, []string{"app"}, apt.ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, f := range md.Files {
		addMirrored(files, f.Path, f.Data)
	}
	for _, p := range res.Packages {
		b, err := os.ReadFile(filepath.Join(r.dir, filepath.FromSlash(p.Filename)))
		if err != nil {
			t.Fatal(err)
		}
		addMirrored(files, p.Filename, b)
	}
	h := http.StripPrefix("/debian", apttest.Mirror(files))
	up.Close() // from here on, only the mirror
	var mu sync.Mutex
	var asked []string // "status path"
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, req)
		mu.Lock()
		asked = append(asked, fmt.Sprintf("%d %s", rec.status, req.URL.Path))
		mu.Unlock()
	}))
	t.Cleanup(mirror.Close)

	root := t.TempDir()
	for _, d := range []string{"state/lists/partial", "cache/archives/partial", "trusted", "etc/sources.list.d", "etc/preferences.d", "out"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "state/status"), nil, 0o644)
	os.WriteFile(filepath.Join(root, "etc/apt.conf"), nil, 0o644)
	os.WriteFile(filepath.Join(root, "etc/sources.list"), []byte("deb "+mirror.URL+"/debian "+suite+" main\n"), 0o644)
	var bin bytes.Buffer
	if err := r.signer.Serialize(&bin); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "trusted/test.gpg"), bin.Bytes(), 0o644)
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
		"-o", "Dir::Log=" + root,
		"-o", "Debug::NoLocking=1",
		"-o", "APT::Architecture=amd64",
		"-o", "APT::Architectures=amd64",
		"-o", "APT::Sandbox::User=root",
		"-o", "Acquire::Languages=en",
		"-o", "Acquire::Check-Valid-Until=false",
		"-o", "Acquire::AllowInsecureRepositories=false",
		"-o", "APT::Get::AllowUnauthenticated=false",
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(aptGet, append(slices.Clone(opts), args...)...)
		cmd.Dir = filepath.Join(root, "out")
		cmd.Env = append(os.Environ(), "APT_CONFIG="+root+"/etc/apt.conf", "LC_ALL=C")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("apt-get %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	out := run("update")
	if strings.Contains(out, "W: ") || strings.Contains(out, "NO_PUBKEY") || strings.Contains(out, "not signed") {
		t.Fatalf("apt-get update warned:\n%s", out)
	}
	// apt took the xz indexes by hash, translations too, and asked for
	// nothing the mirror lacks.
	mu.Lock()
	updateAsked := slices.Clone(asked)
	mu.Unlock()
	t.Logf("apt-get update asked:\n%s", strings.Join(updateAsked, "\n"))
	for _, want := range []string{
		"200 /debian/dists/test/InRelease",
		"200 /debian/dists/test/main/binary-amd64/by-hash/SHA256/" + sum(mdFile(t, md, "dists/test/main/binary-amd64/Packages.xz")),
		"200 /debian/dists/test/main/i18n/by-hash/SHA256/" + sum(mdFile(t, md, "dists/test/main/i18n/Translation-en.xz")),
	} {
		if !slices.Contains(updateAsked, want) {
			t.Errorf("apt-get update did not ask for %s", want)
		}
	}
	for _, a := range updateAsked {
		if !strings.HasPrefix(a, "200 ") {
			t.Errorf("apt-get update: %s", a)
		}
	}
	out = run("-y", "--no-install-recommends", "install", "--download-only", "app")
	t.Logf("apt-get install --download-only:\n%s", out)
	got, _ := filepath.Glob(filepath.Join(root, "cache/archives/*.deb"))
	for i := range got {
		got[i], _, _ = strings.Cut(filepath.Base(got[i]), "_") // apt names them name_epoch%3aversion_arch.deb
	}
	var want []string
	for _, p := range res.Packages {
		want = append(want, p.Name)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("apt downloaded %v, we resolved %v", got, want)
	}
	run("download", "libfoo")
	if _, err := os.Stat(filepath.Join(root, "out/libfoo_1.5_amd64.deb")); err != nil {
		t.Errorf("apt-get download libfoo: %v", err)
	}
}

// mdFile returns the bytes FetchMetadata kept at path.
func mdFile(t *testing.T, md *apt.Metadata, path string) []byte {
	t.Helper()
	for _, f := range md.Files {
		if f.Path == path {
			return f.Data
		}
	}
	t.Fatalf("%s not kept", path)
	return nil
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}
