package files_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
	"github.com/paimirror/paimirror/fileserver/files"
)

// pythonFile returns the bundle's python file of a project and version.
func pythonFile(t *testing.T, project, version string) bundle.PythonFile {
	t.Helper()
	for _, f := range defaultBundle(t).b.Lock.PythonFiles() {
		if f.Project == project && f.Version == version {
			return f
		}
	}
	t.Fatalf("the bundle has no python file of %s %s", project, version)
	return bundle.PythonFile{}
}

func blobBytes(t *testing.T, d digest.Digest) []byte {
	t.Helper()
	r, err := defaultBundle(t).b.Blob(d)
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// pipEnv is the environment for a real pip that may reach only the index
// it is given: no config file, no cache, no proxy.
func pipEnv() []string {
	var env []string
	for _, kv := range cleanEnv() {
		k, _, _ := strings.Cut(kv, "=")
		if up := strings.ToUpper(k); strings.HasPrefix(up, "PIP_") || up == "PYTHONPATH" || up == "PYTHONUSERBASE" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "PIP_CONFIG_FILE=/dev/null", "PIP_NO_CACHE_DIR=1", "PIP_DISABLE_PIP_VERSION_CHECK=1",
		"PIP_NO_INPUT=1", "NO_PROXY=*", "no_proxy=*", "PYTHONDONTWRITEBYTECODE=1")
}

// pip runs python3 -m pip with args and returns its output.
func pip(t *testing.T, args ...string) string {
	t.Helper()
	python := bundletest.Tool(t, "python3")
	testenv.PythonModule(t, python, "pip")
	cmd := exec.Command(python, append([]string{"-m", "pip"}, args...)...)
	cmd.Env = pipEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("pip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestPyPIRealPip has the real pip download and install the bundle's
// Python packages from the served index, and checks it got the stored
// bytes.
func TestPyPIRealPip(t *testing.T) {
	_, addr := start(t, files.Options{})
	index := url(addr, "/pypi/simple/")

	t.Run("pip download", func(t *testing.T) {
		dest := t.TempDir()
		// ruamel.yaml: a dotted name, which pip asks for normalised.
		for _, req := range []string{"jinja2==2.10.1", "ruamel.yaml==0.15.96", "ansible==2.9.7"} {
			pip(t, "download", "--no-deps", "--index-url", index, "--dest", dest, req)
		}
		for _, want := range []bundle.PythonFile{pythonFile(t, "jinja2", "2.10.1"), pythonFile(t, "ruamel-yaml", "0.15.96"), pythonFile(t, "ansible", "2.9.7")} {
			got, err := os.ReadFile(filepath.Join(dest, want.Filename))
			if err != nil {
				t.Errorf("pip did not download %s: %v", want.Filename, err)
				continue
			}
			if !bytes.Equal(got, blobBytes(t, want.Digest())) {
				t.Errorf("%s: pip got other bytes than stored", want.Filename)
			}
		}
	})
	t.Run("pip install --no-deps --target", func(t *testing.T) {
		target := t.TempDir()
		pip(t, "install", "--no-deps", "--target", target, "--index-url", index, "kubernetes==12.0.0")
		mod, err := os.ReadFile(filepath.Join(target, "kubernetes", "__init__.py"))
		if err != nil || !strings.Contains(string(mod), `VERSION = "12.0.0"`) {
			t.Errorf("installed module: %s, %v", mod, err)
		}
	})
	t.Run("a version the bundle lacks", func(t *testing.T) {
		cmd := exec.Command(bundletest.Tool(t, "python3"), "-m", "pip", "download", "--no-deps", "--index-url", index, "--dest", t.TempDir(), "jinja2==3.0.0")
		cmd.Env = pipEnv()
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "from versions: 2.10.1, 2.11.2") {
			t.Errorf("pip: %v\n%s", err, out)
		}
	})
}

// TestPyPIRoutes checks the index's pages and that nothing under /pypi
// reaches a file, whatever the path holds.
func TestPyPIRoutes(t *testing.T) {
	_, addr := start(t, files.Options{})
	jinja := pythonFile(t, "jinja2", "2.10.1")
	noRedirect := &http.Client{
		Transport:     bundletest.LoopbackTransport(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	get := func(method, p string) (int, http.Header, string) {
		req, err := http.NewRequestWithContext(context.Background(), method, url(addr, p), nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header, string(body)
	}

	code, _, body := get("GET", "/pypi/simple/")
	var projects []string
	for _, f := range defaultBundle(t).b.Lock.PythonFiles() {
		if !slices.Contains(projects, f.Project) {
			projects = append(projects, f.Project)
		}
	}
	if code != http.StatusOK || strings.Count(body, "<a ") != len(projects) || !strings.Contains(body, `href="ruamel-yaml/"`) {
		t.Errorf("project list: %d\n%s", code, body)
	}
	code, _, body = get("GET", "/pypi/simple/jinja2/")
	if code != http.StatusOK || strings.Count(body, "<a ") != 2 || !strings.Contains(body, "../../packages/"+jinja.SHA256+"/"+jinja.Filename+"#sha256="+jinja.SHA256) {
		t.Errorf("jinja2's page: %d\n%s", code, body)
	}
	if code, h, _ := get("GET", "/pypi/simple/Ruamel.YAML/"); code != http.StatusMovedPermanently || h.Get("Location") != "../ruamel-yaml/" {
		t.Errorf("a project name not normalised: %d, Location %q", code, h.Get("Location"))
	}
	code, _, body = get("GET", "/pypi/packages/"+jinja.SHA256+"/"+jinja.Filename)
	if code != http.StatusOK || body != string(blobBytes(t, jinja.Digest())) {
		t.Errorf("the wheel: %d, %d bytes", code, len(body))
	}
	if code, h, _ := get("POST", "/pypi/simple/"); code != http.StatusMethodNotAllowed || h.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d, Allow %q", code, h.Get("Allow"))
	}

	// Traversal out of /pypi never reaches a file or the lock.
	for _, p := range []string{
		"/pypi/../k8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm",
		"/pypi/packages/" + jinja.SHA256 + "/../../../paimirror.json",
		"/pypi/%2e%2e/paimirror.json",
		"/pypi" + kubeadm,
		"/pypi",
	} {
		r := curl(t, "--path-as-is", url(addr, p))
		checkRefused(t, r.code, r.header, r.body, http.StatusNotFound)
	}
}

// TestPyPIConfig checks the pip config on the index page and in
// /config.txt, with the mirror's address filled in.
func TestPyPIConfig(t *testing.T) {
	_, addr := start(t, files.Options{Advertise: "10.0.0.10:5000"})
	want := "[global]\nindex-url = http://10.0.0.10:5000/pypi/simple/\ntrusted-host = 10.0.0.10\n"
	if r := curl(t, url(addr, "/config.txt")); !strings.Contains(string(r.body), "# ==> /etc/pip.conf\n") || !strings.Contains(string(r.body), want) {
		t.Errorf("/config.txt has no pip config:\n%s", r.body)
	}
	page := string(curl(t, url(addr, "/")).body)
	projects := map[string]bool{}
	for _, f := range defaultBundle(t).b.Lock.PythonFiles() {
		projects[f.Project] = true
	}
	for _, s := range []string{
		`<section id="pip-conf">`, "index-url = http://10.0.0.10:5000/pypi/simple/", "trusted-host = 10.0.0.10",
		"<b>" + strconv.Itoa(len(projects)) + "</b><span>Python packages", `<h2 id="python">`, "ruamel.yaml-0.15.96-py2.py3-none-any.whl",
	} {
		if !strings.Contains(page, s) {
			t.Errorf("the index page lacks %q", s)
		}
	}
}

// httptestRecorder answers a GET of p from s.
func httptestRecorder(s *files.Server, p string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, p, nil))
	return rec
}

// TestPyPIAbsent serves a bundle without Python packages: /pypi is a plain
// 404, and no page offers a pip config.
func TestPyPIAbsent(t *testing.T) {
	b := bundletest.SmallBundle(t).Bundle
	s := files.New(b, files.Options{Logger: testLogger(t)})
	for _, p := range []string{"/pypi/simple/", "/pypi/simple/jinja2/", "/pypi"} {
		rec := httptestRecorder(s, p)
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "no Python packages") {
			t.Errorf("%s: %d %s", p, rec.Code, rec.Body)
		}
	}
	for _, p := range []string{"/", "/config.txt"} {
		if body := httptestRecorder(s, p).Body.String(); strings.Contains(body, "pip.conf") || strings.Contains(body, "/pypi/simple/") {
			t.Errorf("%s offers a pip config for a bundle without Python packages", p)
		}
	}
}
