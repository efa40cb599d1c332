package pypi_test

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/pypi"
)

// dist is one distribution file the fake index holds.
type dist struct {
	project        string // normalised
	version        string
	filename       string
	data           []byte
	requiresPython string
	yanked         bool
	pep658         bool   // serve {file}.metadata and advertise it
	metadata       []byte // the METADATA for PEP 658
}

func (d *dist) sha() string {
	s := sha256.Sum256(d.data)
	return hex.EncodeToString(s[:])
}

// fakeIndex stands in for PyPI on loopback: the JSON API
// (/pypi/{p}/json, /pypi/{p}/{v}/json), the simple API (/simple/{p}/ as
// PEP 503 HTML, or PEP 691 JSON when json691 is set and asked for),
// files under /packages/ and PEP 658 metadata beside them.
type fakeIndex struct {
	t       *testing.T
	dists   []*dist
	json691 bool
	// fileHost, when set, replaces the server's own address in file URLs
	// ("https://files.pythonhosted.org"), as PyPI's JSON API does.
	fileHost string
	// relative makes simple pages link files with relative URLs.
	relative bool

	mu     sync.Mutex
	tamper map[string]bool // filename → serve altered bytes
	hits   map[string]int  // path → requests

	srv *httptest.Server
}

func newFakeIndex(t *testing.T, dists []*dist) *fakeIndex {
	t.Helper()
	fi := &fakeIndex{t: t, dists: dists, tamper: map[string]bool{}, hits: map[string]int{}}
	fi.srv = httptest.NewServer(http.HandlerFunc(fi.serve))
	t.Cleanup(fi.srv.Close)
	return fi
}

func (fi *fakeIndex) URL() string { return fi.srv.URL }

func (fi *fakeIndex) setTamper(filename string) {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	fi.tamper[filename] = true
}

func (fi *fakeIndex) hitCount(prefix string) int {
	fi.mu.Lock()
	defer fi.mu.Unlock()
	n := 0
	for p, c := range fi.hits {
		if strings.HasPrefix(p, prefix) {
			n += c
		}
	}
	return n
}

func (fi *fakeIndex) fileURL(d *dist) string {
	host := fi.srv.URL
	if fi.fileHost != "" {
		host = fi.fileHost
	}
	return host + "/packages/" + d.filename
}

func (fi *fakeIndex) project(name string) []*dist {
	var out []*dist
	for _, d := range fi.dists {
		if d.project == pypi.NormalizeName(name) {
			out = append(out, d)
		}
	}
	return out
}

var jsonRelease = regexp.MustCompile(`^/pypi/([^/]+)/(?:([^/]+)/)?json$`)

func (fi *fakeIndex) serve(w http.ResponseWriter, r *http.Request) {
	fi.mu.Lock()
	fi.hits[r.URL.Path]++
	fi.mu.Unlock()
	p := r.URL.Path
	switch {
	case jsonRelease.MatchString(p):
		m := jsonRelease.FindStringSubmatch(p)
		fi.serveJSON(w, r, m[1], m[2])
	case strings.HasPrefix(p, "/simple/"):
		name := strings.Trim(strings.TrimPrefix(p, "/simple/"), "/")
		if name != pypi.NormalizeName(name) {
			http.Redirect(w, r, "/simple/"+pypi.NormalizeName(name)+"/", http.StatusMovedPermanently)
			return
		}
		fi.serveSimple(w, r, name)
	case strings.HasPrefix(p, "/packages/"):
		fn := strings.TrimPrefix(p, "/packages/")
		for _, d := range fi.dists {
			switch {
			case d.filename == fn:
				data := d.data
				fi.mu.Lock()
				if fi.tamper[fn] {
					data = append(bytes.Clone(data), "tampered"...)
				}
				fi.mu.Unlock()
				w.Write(data)
				return
			case d.pep658 && d.filename+".metadata" == fn:
				w.Write(d.metadata)
				return
			}
		}
		http.NotFound(w, r)
	default:
		http.NotFound(w, r)
	}
}

// serveJSON answers like PyPI: a release's info.requires_dist is that of
// its first file when that is a wheel with dependencies, else null.
func (fi *fakeIndex) serveJSON(w http.ResponseWriter, r *http.Request, name, version string) {
	ds := fi.project(name)
	if len(ds) == 0 || name != pypi.NormalizeName(name) {
		http.NotFound(w, r)
		return
	}
	type file struct {
		Filename       string            `json:"filename"`
		URL            string            `json:"url"`
		Digests        map[string]string `json:"digests"`
		Size           int               `json:"size"`
		RequiresPython *string           `json:"requires_python"`
		Yanked         bool              `json:"yanked"`
		PackageType    string            `json:"packagetype"`
	}
	releases := map[string][]file{}
	var requiresDist []string
	first := map[string]bool{}
	for _, d := range ds {
		var rp *string
		if d.requiresPython != "" {
			rp = &d.requiresPython
		}
		typ := "sdist"
		if strings.HasSuffix(d.filename, ".whl") {
			typ = "bdist_wheel"
		}
		releases[d.version] = append(releases[d.version], file{
			Filename: d.filename, URL: fi.fileURL(d), Digests: map[string]string{"sha256": d.sha(), "md5": "x"},
			Size: len(d.data), RequiresPython: rp, Yanked: d.yanked, PackageType: typ,
		})
		if d.version == version && !first[version] {
			first[version] = true
			if typ == "bdist_wheel" {
				m, err := pypi.WheelMetadata(bytes.NewReader(d.data), int64(len(d.data)), d.filename)
				if err != nil {
					fi.t.Errorf("fake index: %v", err)
				}
				for _, r := range m.RequiresDist {
					requiresDist = append(requiresDist, r.String())
				}
			}
		}
	}
	if version != "" && releases[version] == nil {
		http.NotFound(w, r)
		return
	}
	doc := map[string]any{
		"info":     map[string]any{"name": name, "version": version, "requires_dist": requiresDist},
		"releases": releases,
	}
	if version != "" {
		doc["urls"] = releases[version]
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(doc)
}

func (fi *fakeIndex) serveSimple(w http.ResponseWriter, r *http.Request, name string) {
	ds := fi.project(name)
	if len(ds) == 0 {
		http.NotFound(w, r)
		return
	}
	if fi.json691 && strings.Contains(r.Header.Get("Accept"), "application/vnd.pypi.simple.v1+json") {
		var files []map[string]any
		for _, d := range ds {
			f := map[string]any{
				"filename": d.filename, "url": fi.fileURL(d), "hashes": map[string]string{"sha256": d.sha()},
				"requires-python": d.requiresPython, "size": len(d.data),
			}
			if d.yanked {
				f["yanked"] = "broken"
			}
			if d.pep658 {
				f["core-metadata"] = map[string]string{"sha256": sha(d.metadata)}
			}
			files = append(files, f)
		}
		w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
		json.NewEncoder(w).Encode(map[string]any{"meta": map[string]string{"api-version": "1.0"}, "name": name, "files": files})
		return
	}
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><title>Links for " + name + "</title></head><body>\n")
	for _, d := range ds {
		href := fi.fileURL(d)
		if fi.relative {
			href = "../../packages/" + d.filename
		}
		href += "#sha256=" + d.sha()
		attrs := ""
		if d.requiresPython != "" {
			attrs += ` data-requires-python="` + html.EscapeString(d.requiresPython) + `"`
		}
		if d.yanked {
			attrs += ` data-yanked=""`
		}
		if d.pep658 {
			attrs += ` data-core-metadata="sha256=` + sha(d.metadata) + `" data-dist-info-metadata="sha256=` + sha(d.metadata) + `"`
		}
		fmt.Fprintf(&b, "<a href=\"%s\"%s>%s</a><br />\n", html.EscapeString(href), attrs, d.filename)
	}
	b.WriteString("</body></html>\n")
	w.Header().Set("Content-Type", "text/html")
	w.Write([]byte(b.String()))
}

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

func (p pkg) metadata() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Metadata-Version: 2.1\nName: %s\nVersion: %s\n", p.name, p.version)
	if p.requiresPython != "" {
		fmt.Fprintf(&b, "Requires-Python: %s\n", p.requiresPython)
	}
	for _, r := range p.requires {
		fmt.Fprintf(&b, "Requires-Dist: %s\n", r)
	}
	b.WriteString("\nThe long description,\nwhich the parser ignores: Not-A: header\n")
	return []byte(b.String())
}

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9.]+`)

// wheelFile writes a wheel as bdist_wheel would: the module, and the
// .dist-info METADATA, WHEEL and RECORD (with sha256 of each file).
func wheelFile(t testing.TB, p pkg, tag string) *dist {
	t.Helper()
	distName := nonIdent.ReplaceAllString(p.name, "_")
	modName := strings.ToLower(strings.ReplaceAll(distName, ".", "_"))
	info := distName + "-" + p.version + ".dist-info/"
	var wheelTags strings.Builder
	parts := strings.Split(tag, "-")
	for _, py := range strings.Split(parts[0], ".") {
		for _, abi := range strings.Split(parts[1], ".") {
			for _, plat := range strings.Split(parts[2], ".") {
				fmt.Fprintf(&wheelTags, "Tag: %s-%s-%s\n", py, abi, plat)
			}
		}
	}
	files := []struct{ name, body string }{
		{modName + "/__init__.py", fmt.Sprintf("VERSION = %q\nTAG = %q\n", p.version, tag)},
		{info + "METADATA", string(p.metadata())},
		{info + "WHEEL", "Wheel-Version: 1.0\nGenerator: paimirror-test\nRoot-Is-Purelib: " + fmt.Sprint(parts[2] == "any") + "\n" + wheelTags.String()},
		{info + "top_level.txt", modName + "\n"},
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var record strings.Builder
	stamp := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: stamp})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(f.body))
		s := sha256.Sum256([]byte(f.body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(s[:]), len(f.body))
	}
	record.WriteString(info + "RECORD,,\n")
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: info + "RECORD", Method: zip.Deflate, Modified: stamp})
	w.Write([]byte(record.String()))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return &dist{
		project: pypi.NormalizeName(p.name), version: p.version, data: buf.Bytes(),
		filename: distName + "-" + p.version + "-" + tag + ".whl", requiresPython: p.requiresPython,
	}
}

// sdistFile writes an sdist as setuptools' sdist command lays it out:
// PKG-INFO without Requires-Dist, and the egg-info requires.txt with
// marker and extra sections; pyproject, when set, adds a pyproject.toml.
func sdistFile(t testing.TB, p pkg, pyproject string) *dist {
	t.Helper()
	root := p.name + "-" + p.version + "/"
	egg := root + strings.ReplaceAll(p.name, "-", "_") + ".egg-info/"
	var reqs strings.Builder
	sections := map[string][]string{}
	var order []string
	for _, r := range p.requires {
		req, m, _ := strings.Cut(r, ";")
		sec := ""
		if m = strings.TrimSpace(m); m != "" {
			if e, ok := strings.CutPrefix(m, `extra == "`); ok {
				sec = strings.TrimSuffix(e, `"`)
			} else {
				sec = ":" + m
			}
		}
		if _, ok := sections[sec]; !ok {
			order = append(order, sec)
		}
		sections[sec] = append(sections[sec], strings.TrimSpace(req))
	}
	sort.SliceStable(order, func(i, j int) bool { return order[i] == "" && order[j] != "" })
	for _, sec := range order {
		if sec != "" {
			fmt.Fprintf(&reqs, "\n[%s]\n", sec)
		}
		for _, r := range sections[sec] {
			reqs.WriteString(r + "\n")
		}
	}
	pkgInfo := pkg{name: p.name, version: p.version, requiresPython: p.requiresPython}.metadata()
	files := []struct{ name, body string }{
		{root + "PKG-INFO", string(pkgInfo)},
		{root + "setup.py", fmt.Sprintf("from setuptools import setup\nsetup(name=%q, version=%q, py_modules=[])\n", p.name, p.version)},
		{egg + "PKG-INFO", string(pkgInfo)},
	}
	if len(p.requires) > 0 {
		files = append(files, struct{ name, body string }{egg + "requires.txt", reqs.String()})
	}
	if pyproject != "" {
		files = append(files, struct{ name, body string }{root + "pyproject.toml", pyproject})
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	stamp := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), ModTime: stamp, Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f.body))
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	gz.Close()
	return &dist{
		project: pypi.NormalizeName(p.name), version: p.version, data: buf.Bytes(),
		filename: p.name + "-" + p.version + ".tar.gz", requiresPython: p.requiresPython,
	}
}

func with658(t testing.TB, d *dist, p pkg) *dist {
	d.pep658, d.metadata = true, p.metadata()
	return d
}

func yank(d *dist) *dist {
	d.yanked = true
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
