package bundle_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/pypi"
	"github.com/paimirror/paimirror/bundle/pypi/pypitest"
	"github.com/paimirror/paimirror/manifests"
)

// pythonManifest has one image and a python section in its own group: a
// first install whose project has a transitive dependency and one behind
// a marker (Python < 3.7 only), and a second, pinned install the fake
// index generates.
const pythonManifest = `name: py
groups:
  - name: base
  - name: devbox-python
images:
  - ref: docker.io/library/busybox:1.31.1
    groups: [base]
python:
  groups: [devbox-python]
  targets:
    - {name: ubuntu-18.04, python: "3.6", python_full: "3.6.9", platform: manylinux_x86_64, glibc: "2.27"}
    - {name: ubuntu-20.04, python: "3.8", platform: manylinux_x86_64, glibc: "2.31"}
  installs:
    - name: first
      requirements: [alpha]
    - name: second
      requirements: ["plain-pkg==2.0"]
`

// pythonDists are the fake index's alpha (wheel, with dependencies), beta
// (its dependency, a cp36 and a pure wheel), and gamma (an sdist, needed on
// Python < 3.7).
func pythonDists(t *testing.T) []*pypitest.Dist {
	t.Helper()
	var out []*pypitest.Dist
	for _, d := range []struct {
		p   pypitest.Package
		tag string // "" for an sdist
	}{
		{pypitest.Package{Name: "alpha", Version: "1.0", Requires: []string{"beta>=1.0", `gamma; python_version < "3.7"`}}, "py3-none-any"},
		{pypitest.Package{Name: "beta", Version: "1.0"}, "cp36-cp36m-manylinux1_x86_64"},
		{pypitest.Package{Name: "beta", Version: "1.0"}, "py3-none-any"},
		{pypitest.Package{Name: "gamma", Version: "1.0"}, ""},
	} {
		var dist *pypitest.Dist
		var err error
		if d.tag == "" {
			dist, err = pypitest.Sdist(d.p, "")
		} else {
			dist, err = pypitest.Wheel(d.p, d.tag)
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, dist)
	}
	return out
}

func TestBuildPython(t *testing.T) {
	m := parse(t, pythonManifest)
	u := startUpstream(t, m, bundletest.Options{PythonDists: pythonDists(t)})
	opts := buildOpts(t, u)
	var stored []string
	opts.Progress = func(e bundle.Event) {
		if e.Kind == bundle.EventDone && strings.HasPrefix(e.Item, "python file ") {
			stored = append(stored, e.Item)
		}
	}
	res, err := bundle.Build(context.Background(), u.Manifest, opts)
	if err != nil {
		t.Fatal(err)
	}
	b := openVerified(t, res.Path)
	py := b.Lock.Python
	if py == nil {
		t.Fatal("the lock has no python section")
	}
	if py.Index != manifests.DefaultPythonIndex || len(py.Targets) != 2 || py.Targets[0].Name != "ubuntu-18.04" || py.Targets[0].PythonFull != "3.6.9" {
		t.Errorf("lock python index %q, targets %+v", py.Index, py.Targets)
	}
	want := []string{"alpha-1.0-py3-none-any.whl", "beta-1.0-cp36-cp36m-manylinux1_x86_64.whl", "gamma-1.0.tar.gz",
		"plain_pkg-2.0-py2.py3-none-any.whl", "beta-1.0-py3-none-any.whl"}
	var got []string
	byName := map[string]*pypitest.Dist{}
	for _, d := range u.PyPI.Dists() {
		byName[d.Filename] = d
	}
	for _, f := range py.Files {
		got = append(got, f.Filename)
		d := byName[f.Filename]
		if d == nil {
			t.Errorf("%s is not on the index", f.Filename)
			continue
		}
		if f.SHA256 != d.SHA256() || f.Size != int64(len(d.Data)) || f.Project != d.Project || f.Version != d.Version {
			t.Errorf("lock file %+v does not describe %s", f, d.Filename)
		}
		if f.URL != bundletest.PythonFileHost+"/packages/"+f.Filename || !strings.HasPrefix(f.Source, u.Files.URL+"/files.pythonhosted.org/") {
			t.Errorf("%s: url %s, source %s; want the index's URL and the mirror", f.Filename, f.URL, f.Source)
		}
		r, err := b.Blob(f.Digest())
		if err != nil || r.Size() != f.Size {
			t.Errorf("%s: blob %v", f.Filename, err)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("python files %q, want %q", got, want)
	}
	if len(stored) != len(want) {
		t.Errorf("progress reported %d python files stored: %q", len(stored), stored)
	}
	// Each file crossed the network once, though resolution read some of
	// them (gamma's sdist, the wheels the JSON API gives no dependencies
	// for) before the build stored them.
	reqs := u.Requests()
	for _, name := range want {
		if n := reqs["GET /files.pythonhosted.org/packages/"+name]; n != 1 {
			t.Errorf("%s downloaded %d times", name, n)
		}
	}

	// What each install chose, per target.
	if len(py.Resolutions) != 2 {
		t.Fatalf("%d resolutions", len(py.Resolutions))
	}
	chosen := func(r bundle.PythonResolution) []string {
		var out []string
		for _, g := range r.Groups {
			for _, p := range g.Packages {
				out = append(out, g.Name+": "+p.Filename)
			}
		}
		return out
	}
	if got, want := chosen(py.Resolutions[0]), []string{"first: alpha-1.0-py3-none-any.whl", "first: beta-1.0-cp36-cp36m-manylinux1_x86_64.whl",
		"first: gamma-1.0.tar.gz", "second: plain_pkg-2.0-py2.py3-none-any.whl"}; py.Resolutions[0].Target != "ubuntu-18.04" || !slices.Equal(got, want) {
		t.Errorf("%s chose %q, want %q", py.Resolutions[0].Target, got, want)
	}
	if got, want := chosen(py.Resolutions[1]), []string{"first: alpha-1.0-py3-none-any.whl", "first: beta-1.0-py3-none-any.whl",
		"second: plain_pkg-2.0-py2.py3-none-any.whl"}; !slices.Equal(got, want) {
		t.Errorf("ubuntu-20.04 chose %q, want %q", got, want)
	}

	// inspect's summary counts and lists them.
	s := b.Summary()
	if s.Totals.PythonFiles != 5 || s.Totals.PythonProjects != 4 || len(s.PythonFiles) != 5 {
		t.Errorf("summary: %d python files, %d projects", s.Totals.PythonFiles, s.Totals.PythonProjects)
	}
	if pf := s.PythonFiles[0]; pf.Filename != "alpha-1.0-py3-none-any.whl" || !slices.Equal(pf.Targets, []string{"ubuntu-18.04", "ubuntu-20.04"}) {
		t.Errorf("summary of alpha: %+v", pf)
	}
	if pf := s.PythonFiles[2]; !slices.Equal(pf.Targets, []string{"ubuntu-18.04"}) {
		t.Errorf("summary of gamma: %+v", pf)
	}

	// Verify names a damaged python file by its filename.
	gamma := py.Files[2]
	r, _ := b.Blob(gamma.Digest())
	_, off, _ := r.Outer()
	damaged := copyFile(t, res.Path)
	flipByte(t, damaged, off+r.Size()/2)
	db, err := bundle.Open(damaged)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rep, err := db.Verify(context.Background(), bundle.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || !strings.Contains(rep.Problems[0].String(), "needed by python file gamma-1.0.tar.gz") {
		t.Errorf("verify of a damaged python file: %v", rep.Problems)
	}
}

func copyFile(t *testing.T, src string) string {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	return writeTemp(t, data)
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 1)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	b[0] ^= 0xff
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

// TestBuildPythonMismatchAndResume serves alpha's wheel with a byte flipped:
// the build refuses it, naming the file and both digests, and keeps the
// rest; once the index serves the right bytes, the rerun fetches only
// alpha, and asks the index nothing it already knows.
func TestBuildPythonMismatchAndResume(t *testing.T) {
	m := parse(t, pythonManifest)
	var tamper atomic.Bool
	tamper.Store(true)
	const alpha = "alpha-1.0-py3-none-any.whl"
	u := startUpstream(t, m, bundletest.Options{PythonDists: pythonDists(t), Tamper: func(r *http.Request) bool {
		return tamper.Load() && strings.HasSuffix(r.URL.Path, "/"+alpha)
	}})
	opts := buildOpts(t, u)
	opts.Retries = 1
	_, err := bundle.Build(context.Background(), u.Manifest, opts)
	if !errors.Is(err, bundle.ErrDigestMismatch) {
		t.Fatalf("want a digest mismatch, got %v", err)
	}
	var ie *bundle.ItemError
	if !errors.As(err, &ie) || ie.Item != "python file "+alpha {
		t.Errorf("the failed item is not named: %v", err)
	}
	var de *bundle.DigestError
	if !errors.As(err, &de) || de.Want == de.Got || !strings.Contains(de.Source, "/files.pythonhosted.org/packages/"+alpha) {
		t.Errorf("error does not name the source and digests: %v", err)
	}
	for _, want := range []string{alpha, "not stored", "rerun"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
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
	b := openVerified(t, res.Path)
	if len(b.Lock.PythonFiles()) != 5 {
		t.Fatalf("%d python files", len(b.Lock.PythonFiles()))
	}
	for p, n := range u.Requests() {
		if n == before[p] {
			continue
		}
		switch {
		case strings.HasSuffix(p, "/"+alpha) && n == before[p]+1:
		case strings.Contains(p, "/pypi/") || strings.Contains(p, "/packages/"):
			t.Errorf("the resumed build asked for %s again (%d times before, %d now)", p, before[p], n)
		}
	}
	for _, f := range b.Lock.PythonFiles() {
		if !strings.HasPrefix(f.Source, u.Files.URL) {
			t.Errorf("%s: source %q after resuming", f.Filename, f.Source)
		}
	}
}

func TestBuildPythonExcluded(t *testing.T) {
	m := parse(t, pythonManifest)
	u := startUpstream(t, m, bundletest.Options{PythonDists: pythonDists(t)})
	opts := buildOpts(t, u)
	opts.Exclude = []string{"devbox-python"}
	res, err := bundle.Build(context.Background(), u.Manifest, opts)
	if err != nil {
		t.Fatal(err)
	}
	b := openVerified(t, res.Path)
	if b.Lock.Python != nil || len(b.Lock.Images) != 1 {
		t.Errorf("lock python %+v, %d images", b.Lock.Python, len(b.Lock.Images))
	}
	if n := u.PyPI.Hits("/"); n != 0 {
		t.Errorf("the package index was asked %d times", n)
	}
}

func TestBuildPythonMirrors(t *testing.T) {
	closed, err := bundletest.ClosedAddr()
	if err != nil {
		t.Fatal(err)
	}
	m := parse(t, pythonManifest)
	u := startUpstream(t, m, bundletest.Options{PythonDists: pythonDists(t)})

	t.Run("a dead mirror, then a live one", func(t *testing.T) {
		opts := buildOpts(t, u)
		opts.Exclude = []string{"base"}
		opts.Mirrors = append([]bundle.Mirror{
			{From: "https://pypi.org", To: "http://" + closed + "/pypi"},
			{From: "https://files.pythonhosted.org", To: "http://" + closed + "/files"},
		}, opts.Mirrors...)
		res, err := bundle.Build(context.Background(), u.Manifest, opts)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(openVerified(t, res.Path).Lock.PythonFiles()); n != 5 {
			t.Errorf("%d python files", n)
		}
	})
	t.Run("pypi.org unreachable", func(t *testing.T) {
		_, err := bundle.Build(context.Background(), u.Manifest, bundle.BuildOptions{
			Output: filepath.Join(t.TempDir(), "b.tar"), Transport: bundletest.LoopbackTransport(), Exclude: []string{"base"},
		})
		if !errors.Is(err, bundle.ErrUnreachable) {
			t.Fatalf("want ErrUnreachable, got %v", err)
		}
		for _, want := range []string{"python target ubuntu-18.04 (test.yaml:11)", "python target ubuntu-20.04", `group "first"`, "--mirror https://pypi.org=<"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error does not mention %q:\n%v", want, err)
			}
		}
	})
	t.Run("files.pythonhosted.org unreachable", func(t *testing.T) {
		opts := buildOpts(t, u)
		opts.Exclude = []string{"base"}
		opts.Mirrors = []bundle.Mirror{{From: "https://pypi.org", To: u.Files.URL + "/pypi.org"}}
		_, err := bundle.Build(context.Background(), u.Manifest, opts)
		if !errors.Is(err, bundle.ErrUnreachable) || !strings.Contains(err.Error(), "--mirror https://files.pythonhosted.org=<") {
			t.Fatalf("want a hint at mirroring files.pythonhosted.org, got %v", err)
		}
	})
}

func TestBuildPythonBadRequirement(t *testing.T) {
	m := parse(t, strings.Replace(pythonManifest, `"plain-pkg==2.0"`, `"plain-pkg ==="`, 1))
	_, err := bundle.Build(context.Background(), m, bundle.BuildOptions{
		Output: filepath.Join(t.TempDir(), "b.tar"), Transport: bundletest.LoopbackTransport(), Exclude: []string{"base"},
	})
	if !errors.Is(err, pypi.ErrSyntax) || !strings.Contains(err.Error(), `test.yaml:16: python.installs[1].requirements[0] (install "second")`) {
		t.Fatalf("want a syntax error naming the manifest entry, got %v", err)
	}
}

// TestDefaultManifestPython checks that bundle/pypi reads the default
// manifest's python section (OpenPAI v1.8.0's dev box; the manifest's own
// tests pin its content) as written: every requirement parses and prints
// back unchanged, and each target installs the wheels of its CPython and
// glibc first.
func TestDefaultManifestPython(t *testing.T) {
	py := manifests.Default().Python
	if len(py.Installs) == 0 {
		t.Fatal("the default manifest has no pip installs")
	}
	for _, in := range py.Installs {
		for _, s := range in.Requirements {
			r, err := pypi.ParseRequirement(s)
			if err != nil || r.String() != s {
				t.Errorf("install %s: requirement %q reads as %v, %v", in.Name, s, r, err)
			}
		}
	}
	wantFirst := map[string]string{
		"ubuntu-16.04": "cp35-cp35m-manylinux_2_23_x86_64",
		"ubuntu-18.04": "cp36-cp36m-manylinux_2_27_x86_64",
		"ubuntu-20.04": "cp38-cp38-manylinux_2_31_x86_64",
	}
	if len(py.Targets) != len(wantFirst) {
		t.Errorf("%d targets, want %d", len(py.Targets), len(wantFirst))
	}
	for _, tg := range py.Targets {
		pt := pypi.Target{Name: tg.Name, Python: tg.Python, PythonFull: tg.PythonFull, Platform: tg.Platform, Glibc: tg.Glibc}
		tags, err := pt.Tags()
		if err != nil {
			t.Fatalf("target %s: %v", tg.Name, err)
		}
		if tags[0] != wantFirst[tg.Name] {
			t.Errorf("target %s: first tag %s, want %s", tg.Name, tags[0], wantFirst[tg.Name])
		}
	}
}
