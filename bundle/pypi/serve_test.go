package pypi_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
	"github.com/paimirror/paimirror/bundle/pypi"
)

// store is a content-addressed file store standing in for a bundle.
type store map[string][]byte

func (s store) open(sum string) (io.ReadSeeker, int64, error) {
	b, ok := s[sum]
	if !ok {
		return nil, 0, fmt.Errorf("blob %s: %w", sum, fs.ErrNotExist)
	}
	return bytes.NewReader(b), int64(len(b)), nil
}

// served resolves the test packages for 3.5, 3.6 and 3.8 through the
// fake index, stores every chosen file as the index holds it, and serves
// them with a SimpleIndex under /pypi.
func served(t *testing.T) (*httptest.Server, *pypi.SimpleIndex, []pypi.File, store) {
	t.Helper()
	fi := newFakeIndex(t, testDists(t))
	idx := pypi.NewJSONAPI(fi.URL(), pypi.IndexOptions{Client: loopbackClient()})
	var rs []*pypi.Resolution
	for _, target := range []pypi.Target{py35, py36, py38} {
		res, err := pypi.Resolve(context.Background(), idx, groups(t, []string{"alpha"}, []string{"alpha==1.0", "Dotted.Name"}), target, pypi.ResolveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, res)
	}
	files := pypi.MergeFiles(rs...)
	held := map[string][]byte{} // sha256 → bytes, what the fake index serves
	for _, d := range fi.Dists() {
		held[d.SHA256()] = d.Data
	}
	st := store{}
	for _, f := range files {
		data, ok := held[f.SHA256]
		if !ok {
			t.Fatalf("%s: the index holds no file with sha256 %s", f.Filename, f.SHA256)
		}
		st[f.SHA256] = data
	}
	h, err := pypi.NewSimpleIndex(files, st.open, pypi.WithPrefix("/pypi"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/pypi/", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, h, files, st
}

func TestSimpleIndex(t *testing.T) {
	srv, h, files, st := served(t)
	noRedirect := &http.Client{
		Transport:     bundletest.LoopbackTransport(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	get := func(t *testing.T, method, path string) (*http.Response, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, nil)
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp, string(body)
	}
	var gamma pypi.File
	for _, f := range files {
		if f.Filename == "gamma-1.0.tar.gz" {
			gamma = f
		}
	}
	tests := []struct {
		name, method, path string
		status             int
		location           string
		has                []string
		direct             bool // to the handler, not through ServeMux's path cleaning
	}{
		{name: "project list", path: "/pypi/simple/", status: 200, has: []string{`<a href="alpha/">alpha</a>`, `<a href="dotted-name/">dotted-name</a>`, `<a href="setuptools/">`}},
		{name: "simple without slash", path: "/pypi/simple", status: 301, location: "simple/"},
		{name: "project page", path: "/pypi/simple/alpha/", status: 200, has: []string{
			`pypi:repository-version`,
			`<a href="../../packages/`,
			`/alpha-2.1-py3-none-any.whl#sha256=`,
			`data-requires-python="&gt;=3.7"`,
			`>alpha-1.1-py3-none-any.whl</a>`,
		}},
		{name: "sdist link", path: "/pypi/simple/gamma/", status: 200, has: []string{`href="../../packages/` + gamma.SHA256 + `/gamma-1.0.tar.gz#sha256=` + gamma.SHA256 + `"`}},
		{name: "non-normalised name redirects", path: "/pypi/simple/Dotted.Name/", status: 301, location: "../dotted-name/"},
		{name: "missing slash redirects", path: "/pypi/simple/Dotted_Name", status: 301, location: "dotted-name/"},
		{name: "unknown project", path: "/pypi/simple/nosuch/", status: 404},
		{name: "invalid name", path: "/pypi/simple/-x/", status: 404},
		{name: "traversal", path: "/pypi/simple/../packages/", status: 404, direct: true},
		{name: "dot dot name", path: "/pypi/simple/../", status: 404, direct: true},
		{name: "dot dot file", path: "/pypi/packages/../simple/x", status: 404, direct: true},
		{name: "file", path: "/pypi/packages/" + gamma.SHA256 + "/gamma-1.0.tar.gz", status: 200},
		{name: "file HEAD", method: "HEAD", path: "/pypi/packages/" + gamma.SHA256 + "/gamma-1.0.tar.gz", status: 200},
		{name: "file under the wrong digest", path: "/pypi/packages/" + strings.Repeat("0", 64) + "/gamma-1.0.tar.gz", status: 404},
		{name: "file under the wrong name", path: "/pypi/packages/" + gamma.SHA256 + "/other.tar.gz", status: 404},
		{name: "deeper path", path: "/pypi/packages/" + gamma.SHA256 + "/x/gamma-1.0.tar.gz", status: 404},
		{name: "outside the prefix", path: "/simple/", status: 404},
		{name: "prefix lookalike", path: "/pypix/simple/", status: 404},
		{name: "POST", method: "POST", path: "/pypi/simple/", status: 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			var resp *http.Response
			var body string
			if tc.direct {
				rec := httptest.NewRecorder()
				req := httptest.NewRequest(method, "/", nil)
				req.URL.Path = tc.path
				h.ServeHTTP(rec, req)
				resp, body = rec.Result(), rec.Body.String()
			} else {
				resp, body = get(t, method, tc.path)
			}
			if resp.StatusCode != tc.status {
				t.Fatalf("%s %s: %d, want %d", method, tc.path, resp.StatusCode, tc.status)
			}
			if tc.location != "" && resp.Header.Get("Location") != tc.location {
				t.Errorf("Location %q, want %q", resp.Header.Get("Location"), tc.location)
			}
			for _, s := range tc.has {
				if !strings.Contains(body, s) {
					t.Errorf("page lacks %q:\n%s", s, body)
				}
			}
		})
	}
	t.Run("file bytes and range", func(t *testing.T) {
		req, _ := http.NewRequest("GET", srv.URL+"/pypi/packages/"+gamma.SHA256+"/gamma-1.0.tar.gz", nil)
		req.Header.Set("Range", "bytes=0-9")
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 206 || !bytes.Equal(body, st[gamma.SHA256][:10]) {
			t.Errorf("range: %d %q", resp.StatusCode, body)
		}
		_, full := get(t, "GET", "/pypi/packages/"+gamma.SHA256+"/gamma-1.0.tar.gz")
		if sha([]byte(full)) != gamma.SHA256 {
			t.Error("served bytes do not hash to the sha256")
		}
	})
	t.Run("a stored file gone is a 404", func(t *testing.T) {
		h, err := pypi.NewSimpleIndex(files, store{}.open)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/packages/"+gamma.SHA256+"/gamma-1.0.tar.gz", nil))
		if rec.Code != 404 {
			t.Errorf("status %d", rec.Code)
		}
	})
	t.Run("the simple index reads back", func(t *testing.T) {
		// Our own client reads our own index: the same files, every one
		// verified.
		idx := pypi.NewSimpleAPI(srv.URL+"/pypi/simple/", pypi.IndexOptions{Client: loopbackClient()})
		got, err := idx.Files(context.Background(), "alpha")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range got {
			names = append(names, f.Filename)
			if !strings.HasPrefix(f.URL, srv.URL+"/pypi/packages/") || f.SHA256 == "" {
				t.Errorf("file %+v", f)
			}
		}
		slices.Sort(names)
		want := []string{"alpha-1.0-py3-none-any.whl", "alpha-1.1-py3-none-any.whl", "alpha-2.1-py3-none-any.whl"}
		if !slices.Equal(names, want) {
			t.Errorf("files %q, want %q", names, want)
		}
	})
}

func TestNewSimpleIndexRejects(t *testing.T) {
	good := pypi.File{Project: "x", Filename: "x-1.0.tar.gz", SHA256: strings.Repeat("a", 64)}
	tests := map[string]func(f *pypi.File){
		"bad project":   func(f *pypi.File) { f.Project = "../x" },
		"path filename": func(f *pypi.File) { f.Filename = "../x-1.0.tar.gz" },
		"dot dot":       func(f *pypi.File) { f.Filename = ".." },
		"control char":  func(f *pypi.File) { f.Filename = "x\n.tar.gz" },
		"bad sha256":    func(f *pypi.File) { f.SHA256 = strings.Repeat("A", 64) },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			f := good
			mutate(&f)
			if _, err := pypi.NewSimpleIndex([]pypi.File{f}, store{}.open); err == nil {
				t.Error("accepted")
			}
		})
	}
	t.Run("one name, two digests", func(t *testing.T) {
		other := good
		other.SHA256 = strings.Repeat("b", 64)
		if _, err := pypi.NewSimpleIndex([]pypi.File{good, other}, store{}.open); err == nil {
			t.Error("accepted")
		}
	})
	t.Run("a file listed twice is served once", func(t *testing.T) {
		h, err := pypi.NewSimpleIndex([]pypi.File{good, good}, store{}.open)
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/simple/x/", nil))
		if n := strings.Count(rec.Body.String(), "<a "); n != 1 {
			t.Errorf("%d links", n)
		}
	})
}

// pipEnv is the environment for a real pip that may reach only the index
// it is given: no config file, no cache, no proxy, no other index.
func pipEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch up := strings.ToUpper(k); {
		case strings.HasPrefix(up, "PIP_"), strings.HasSuffix(up, "_PROXY"), up == "PYTHONPATH", up == "PYTHONUSERBASE":
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PIP_CONFIG_FILE=/dev/null", "PIP_NO_CACHE_DIR=1", "PIP_DISABLE_PIP_VERSION_CHECK=1",
		"PIP_NO_INPUT=1", "NO_PROXY=*", "no_proxy=*", "PYTHONDONTWRITEBYTECODE=1")
}

func pip(t *testing.T, python string, args ...string) string {
	t.Helper()
	cmd := exec.Command(python, append([]string{"-m", "pip"}, args...)...)
	cmd.Env = pipEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// requirePip fails or skips like bundletest.Tool when python3 has no pip.
func requirePip(t *testing.T, python string) {
	t.Helper()
	testenv.PythonModule(t, python, "pip")
}

func TestRealPip(t *testing.T) {
	python := bundletest.Tool(t, "python3")
	requirePip(t, python)
	srv, _, files, st := served(t)
	index := srv.URL + "/pypi/simple/"
	byName := map[string]pypi.File{}
	for _, f := range files {
		byName[f.Filename] = f
	}

	t.Run("pip download", func(t *testing.T) {
		dest := t.TempDir()
		pip(t, python, "download", "--no-deps", "--index-url", index, "--dest", dest, "alpha==1.0")
		// (Not an sdist: pip would build it for its metadata, installing
		// setuptools and wheel from this index, where the test's are
		// stand-ins without code. TestSimpleIndex checks sdist bytes.)
		pip(t, python, "download", "--no-deps", "--index-url", index, "--dest", dest, "DOTTED_NAME==1.0")
		got, _ := os.ReadDir(dest)
		var names []string
		for _, e := range got {
			names = append(names, e.Name())
			data, err := os.ReadFile(filepath.Join(dest, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, st[byName[e.Name()].SHA256]) {
				t.Errorf("%s: pip got other bytes than stored", e.Name())
			}
		}
		want := []string{"Dotted.Name-1.0-py3-none-any.whl", "alpha-1.0-py3-none-any.whl"}
		if !slices.Equal(names, want) {
			t.Errorf("downloaded %q, want %q", names, want)
		}
	})
	t.Run("pip install --no-deps --target", func(t *testing.T) {
		target := t.TempDir()
		pip(t, python, "install", "--no-deps", "--target", target, "--index-url", index, "alpha")
		// pip chose the newest release the index offers this Python.
		mod, err := os.ReadFile(filepath.Join(target, "alpha", "__init__.py"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(mod), `VERSION = "2.1"`) {
			t.Errorf("installed module: %s", mod)
		}
		meta, err := os.ReadFile(filepath.Join(target, "alpha-2.1.dist-info", "METADATA"))
		if err != nil || !strings.Contains(string(meta), "Version: 2.1") {
			t.Errorf("installed METADATA: %s, %v", meta, err)
		}
		// The installed files are the stored wheel's.
		r := bytes.NewReader(st[byName["alpha-2.1-py3-none-any.whl"].SHA256])
		m, err := pypi.WheelMetadata(r, r.Size(), "alpha-2.1-py3-none-any.whl")
		if err != nil || m.Version != "2.1" {
			t.Fatalf("stored wheel: %+v %v", m, err)
		}
	})
	t.Run("pip sees an unknown project as missing", func(t *testing.T) {
		cmd := exec.Command(python, "-m", "pip", "download", "--no-deps", "--index-url", index, "--dest", t.TempDir(), "nosuchpkg")
		cmd.Env = pipEnv()
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "No matching distribution found for nosuchpkg") {
			t.Errorf("pip: %v\n%s", err, out)
		}
	})
}

// TestRealSdist builds an sdist with the real setuptools and reads its
// dependencies, markers and extras included, as the resolver does.
func TestRealSdist(t *testing.T) {
	python := bundletest.Tool(t, "python3")
	testenv.PythonModule(t, python, "setuptools")
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "realpkg"), 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"setup.py": `from setuptools import setup
setup(
    name="realpkg", version="1.2.3", packages=["realpkg"], python_requires=">=3.5",
    install_requires=["delta>=0.9", 'gamma; python_version < "3.7"'],
    extras_require={"fancy": ["fancy-dep"], ':sys_platform == "win32"': ["winonly"]},
)
`,
		"realpkg/__init__.py": "VERSION = '1.2.3'\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(src, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	out := t.TempDir()
	cmd := exec.Command(python, "setup.py", "-q", "sdist", "-d", out)
	cmd.Dir = src
	cmd.Env = append(pipEnv(), "SETUPTOOLS_USE_DISTUTILS=local")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("setup.py sdist: %v\n%s", err, msg)
	}
	data, err := os.ReadFile(filepath.Join(out, "realpkg-1.2.3.tar.gz"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := pypi.SdistMetadata(bytes.NewReader(data), int64(len(data)), "realpkg-1.2.3.tar.gz")
	if err != nil {
		t.Fatal(err)
	}
	var reqs []string
	for _, r := range m.RequiresDist {
		reqs = append(reqs, r.String())
	}
	slices.Sort(reqs)
	want := []string{"delta>=0.9", `fancy-dep; extra == "fancy"`, `gamma; python_version < "3.7"`, `winonly; sys_platform == "win32"`}
	if !slices.Equal(reqs, want) || m.RequiresPython != ">=3.5" || m.Name != "realpkg" {
		t.Errorf("metadata %+v\nrequires %q\nwant %q", m, reqs, want)
	}

	// Resolved from an index holding it: the markers decide per target.
	real := &dist{Project: "realpkg", Version: "1.2.3", Filename: "realpkg-1.2.3.tar.gz", Data: data, RequiresPython: ">=3.5"}
	fi := newFakeIndex(t, append(testDists(t), real))
	idx := pypi.NewSimpleAPI(fi.URL(), pypi.IndexOptions{Client: loopbackClient()})
	for _, tc := range []struct {
		target pypi.Target
		want   []string
	}{
		{py36, []string{"realpkg 1.2.3 realpkg-1.2.3.tar.gz", "delta 1.0 delta-1.0-cp36-abi3-manylinux2014_x86_64.whl", "gamma 1.0 gamma-1.0.tar.gz",
			"build:setuptools 44.0.0 setuptools-44.0.0-py2.py3-none-any.whl", "build:wheel 0.34.2 wheel-0.34.2-py2.py3-none-any.whl"}},
		{py38, []string{"realpkg 1.2.3 realpkg-1.2.3.tar.gz", "delta 1.0 delta-1.0-cp36-abi3-manylinux2014_x86_64.whl"}},
	} {
		target, want := tc.target, tc.want
		res, err := pypi.Resolve(context.Background(), idx, groups(t, []string{"realpkg"}), target, pypi.ResolveOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := chosen(res); !slices.Equal(got, want) {
			t.Errorf("%s: chose %q, want %q", target, got, want)
		}
		if src := res.Groups[0].Packages[0].DependencySource; src != "sdist egg-info requires.txt" {
			t.Errorf("dependency source %q", src)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "realpkg-1.2.3.tar.gz")); errors.Is(err, fs.ErrNotExist) {
		t.Error("sdist vanished")
	}
}
