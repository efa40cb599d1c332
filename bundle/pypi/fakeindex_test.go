package pypi_test

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/pypi/pypitest"
)

// dist is one distribution file the fake index holds.
type dist = pypitest.Dist

// fakeIndex stands in for PyPI on loopback: pypitest's index behind an
// httptest server.
type fakeIndex struct {
	*pypitest.Index
	srv *httptest.Server
}

func newFakeIndex(t *testing.T, dists []*dist) *fakeIndex {
	t.Helper()
	fi := &fakeIndex{Index: pypitest.NewIndex(dists)}
	fi.srv = httptest.NewServer(fi.Index)
	t.Cleanup(fi.srv.Close)
	return fi
}

func (fi *fakeIndex) URL() string { return fi.srv.URL }

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// pkg describes a test release; wheel and sdist build its files.
type pkg struct {
	name           string
	version        string
	requires       []string
	requiresPython string
}

func (p pkg) pypitest() pypitest.Package {
	return pypitest.Package{Name: p.name, Version: p.version, Requires: p.requires, RequiresPython: p.requiresPython}
}

func (p pkg) metadata() []byte { return p.pypitest().Metadata() }

// wheelFile writes a wheel as bdist_wheel would (see pypitest.Wheel).
func wheelFile(t testing.TB, p pkg, tag string) *dist {
	t.Helper()
	d, err := pypitest.Wheel(p.pypitest(), tag)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// sdistFile writes an sdist as setuptools' sdist command lays it out (see
// pypitest.Sdist).
func sdistFile(t testing.TB, p pkg, pyproject string) *dist {
	t.Helper()
	d, err := pypitest.Sdist(p.pypitest(), pyproject)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func with658(t testing.TB, d *dist, p pkg) *dist {
	d.PEP658, d.Metadata = true, p.metadata()
	return d
}

func yank(d *dist) *dist {
	d.Yanked = true
	return d
}

// testDists is the fake index's content:
//   - alpha: 1.0; 1.1 with markers (gamma below 3.7, winonly on win32, an
//     extra); 2.0 yanked; 2.1 for Python >= 3.7; 3.0rc1, a pre-release.
//   - beta 1.0 (alpha's transitive dependency on delta): cp36 and cp38
//     manylinux wheels, a Windows wheel and an sdist.
//   - gamma 1.0: only a pyproject.toml sdist (built with setuptools and
//     wheel, which the index also has).
//   - delta 0.9, 1.0 (pure and abi3 wheels), 1.1rc1.
//   - conflicta and conflictb want delta below and from 1.0; mid wants
//     lowdelta, which wants delta below 1.0.
//   - winpkg has only a Windows wheel; oldpy only Python 2 files;
//     brokendep needs a project the index lacks.
func testDists(t testing.TB) []*dist {
	alpha11 := pkg{name: "alpha", version: "1.1", requires: []string{
		"beta>=1.0", `gamma; python_version < "3.7"`, `winonly; sys_platform == "win32"`, `fancy-dep; extra == "fancy"`,
	}}
	return []*dist{
		wheelFile(t, pkg{name: "alpha", version: "1.0", requires: []string{"beta"}}, "py3-none-any"),
		sdistFile(t, pkg{name: "alpha", version: "1.0", requires: []string{"beta"}}, ""),
		with658(t, wheelFile(t, alpha11, "py3-none-any"), alpha11),
		sdistFile(t, alpha11, ""),
		yank(wheelFile(t, pkg{name: "alpha", version: "2.0", requires: []string{"beta"}}, "py3-none-any")),
		wheelFile(t, pkg{name: "alpha", version: "2.1", requiresPython: ">=3.7", requires: []string{"beta>=1.0", `gamma; python_version < "3.7"`}}, "py3-none-any"),
		wheelFile(t, pkg{name: "alpha", version: "3.0rc1", requires: []string{"beta"}}, "py3-none-any"),

		wheelFile(t, pkg{name: "beta", version: "1.0", requires: []string{"delta"}}, "cp36-cp36m-manylinux1_x86_64"),
		wheelFile(t, pkg{name: "beta", version: "1.0", requires: []string{"delta"}}, "cp38-cp38-manylinux_2_17_x86_64.manylinux2014_x86_64"),
		wheelFile(t, pkg{name: "beta", version: "1.0", requires: []string{"delta"}}, "cp38-cp38-win_amd64"),
		sdistFile(t, pkg{name: "beta", version: "1.0", requires: []string{"delta", `winonly; sys_platform == "win32"`}}, ""),

		sdistFile(t, pkg{name: "gamma", version: "1.0"}, "[build-system]\nrequires = [\n  \"setuptools>=40.8.0\",  # comment\n  'wheel',\n]\nbuild-backend = \"setuptools.build_meta\"\n"),
		wheelFile(t, pkg{name: "setuptools", version: "44.0.0"}, "py2.py3-none-any"),
		wheelFile(t, pkg{name: "wheel", version: "0.34.2"}, "py2.py3-none-any"),

		wheelFile(t, pkg{name: "delta", version: "0.9"}, "py2.py3-none-any"),
		wheelFile(t, pkg{name: "delta", version: "1.0"}, "py2.py3-none-any"),
		wheelFile(t, pkg{name: "delta", version: "1.0"}, "cp36-abi3-manylinux2014_x86_64"),
		wheelFile(t, pkg{name: "delta", version: "1.1rc1"}, "py2.py3-none-any"),

		wheelFile(t, pkg{name: "fancy-dep", version: "1.0"}, "py3-none-any"),
		wheelFile(t, pkg{name: "conflicta", version: "1.0", requires: []string{"delta<1.0"}}, "py3-none-any"),
		wheelFile(t, pkg{name: "conflictb", version: "1.0", requires: []string{"delta>=1.0"}}, "py3-none-any"),
		wheelFile(t, pkg{name: "mid", version: "1.0", requires: []string{"lowdelta"}}, "py3-none-any"),
		wheelFile(t, pkg{name: "lowdelta", version: "1.0", requires: []string{"delta<1.0"}}, "py3-none-any"),
		wheelFile(t, pkg{name: "winpkg", version: "1.0"}, "cp36-cp36m-win_amd64"),
		wheelFile(t, pkg{name: "oldpy", version: "1.0", requiresPython: "<3"}, "py2-none-any"),
		wheelFile(t, pkg{name: "brokendep", version: "1.0", requires: []string{"nosuchpkg>=1"}}, "py3-none-any"),
		wheelFile(t, pkg{name: "Dotted.Name", version: "1.0"}, "py3-none-any"),
	}
}

// loopbackClient reaches only 127.0.0.1: nothing a test does leaves the
// machine.
func loopbackClient() *http.Client {
	return &http.Client{Transport: bundletest.LoopbackTransport()}
}
