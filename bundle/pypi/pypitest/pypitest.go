// Package pypitest stands in for PyPI in tests and demos: it writes small
// but well-formed Python distributions (wheels laid out as bdist_wheel
// writes them, sdists as setuptools' sdist command does) and serves them as
// a package index on loopback.
//
// An Index answers like PyPI:
//
//	/pypi/{project}/json              the JSON API: every release's files
//	/pypi/{project}/{version}/json    one release, with info.requires_dist
//	/simple/{project}/                PEP 503 HTML, or PEP 691 JSON when JSON691
//	                                  is set and the client asks for it
//	/packages/{filename}              the files (Range requests answered)
//	/packages/{filename}.metadata     PEP 658 metadata of a Dist with PEP658
//
// It is test support, never part of an install. An Index is safe for
// concurrent use once its fields are set.
package pypitest

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
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/paimirror/paimirror/bundle/pypi"
)

// Package describes a release to write files for.
type Package struct {
	// Name is the project name as its author spells it ("Dotted.Name").
	Name string
	// Version is the release version.
	Version string
	// Requires are its Requires-Dist lines (PEP 508, markers allowed).
	Requires []string
	// RequiresPython is its Requires-Python, "" for none.
	RequiresPython string
	// Files are further files the distribution holds, by path inside
	// it: under a wheel's root (its RECORD lists them) or an sdist's
	// top directory. A large one makes a large file.
	Files map[string][]byte
}

// Metadata returns the package's core metadata (METADATA / PKG-INFO).
func (p Package) Metadata() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "Metadata-Version: 2.1\nName: %s\nVersion: %s\n", p.Name, p.Version)
	if p.RequiresPython != "" {
		fmt.Fprintf(&b, "Requires-Python: %s\n", p.RequiresPython)
	}
	for _, r := range p.Requires {
		fmt.Fprintf(&b, "Requires-Dist: %s\n", r)
	}
	b.WriteString("\nThe long description,\nwhich the parser ignores: Not-A: header\n")
	return []byte(b.String())
}

// Dist is one distribution file an Index holds.
type Dist struct {
	// Project is the normalised project name.
	Project string
	// Version is the release version.
	Version string
	// Filename is the file's name.
	Filename string
	// Data is the file's content.
	Data []byte
	// RequiresPython is the index's Requires-Python for the file.
	RequiresPython string
	// Yanked withdraws the file (PEP 592).
	Yanked bool
	// PEP658 serves Metadata at {file}.metadata and advertises it.
	PEP658   bool
	Metadata []byte
}

// SHA256 returns the lowercase hex sha256 of the file.
func (d *Dist) SHA256() string { return sha256Hex(d.Data) }

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

var nonIdent = regexp.MustCompile(`[^A-Za-z0-9.]+`)

// stamp is the time written into every archive, so files are reproducible.
var stamp = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

// Wheel writes a wheel of p for tag ("py3-none-any",
// "cp36-cp36m-manylinux1_x86_64", compressed tag sets allowed) as
// bdist_wheel would: the module, and the .dist-info METADATA, WHEEL,
// top_level.txt and RECORD (with the sha256 of each file). The module's
// __init__.py sets VERSION and TAG.
func Wheel(p Package, tag string) (*Dist, error) {
	parts := strings.Split(tag, "-")
	if len(parts) != 3 {
		return nil, fmt.Errorf("wheel tag %q: want python-abi-platform", tag)
	}
	distName := nonIdent.ReplaceAllString(p.Name, "_")
	modName := strings.ToLower(strings.ReplaceAll(distName, ".", "_"))
	info := distName + "-" + p.Version + ".dist-info/"
	var wheelTags strings.Builder
	for _, py := range strings.Split(parts[0], ".") {
		for _, abi := range strings.Split(parts[1], ".") {
			for _, plat := range strings.Split(parts[2], ".") {
				fmt.Fprintf(&wheelTags, "Tag: %s-%s-%s\n", py, abi, plat)
			}
		}
	}
	files := []struct{ name, body string }{
		{modName + "/__init__.py", fmt.Sprintf("VERSION = %q\nTAG = %q\n", p.Version, tag)},
		{info + "METADATA", string(p.Metadata())},
		{info + "WHEEL", "Wheel-Version: 1.0\nGenerator: paimirror-test\nRoot-Is-Purelib: " + fmt.Sprint(parts[2] == "any") + "\n" + wheelTags.String()},
		{info + "top_level.txt", modName + "\n"},
	}
	for _, name := range sortedKeys(p.Files) {
		files = append(files, struct{ name, body string }{name, string(p.Files[name])})
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	var record strings.Builder
	for _, f := range files {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: stamp})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write([]byte(f.body)); err != nil {
			return nil, err
		}
		s := sha256.Sum256([]byte(f.body))
		fmt.Fprintf(&record, "%s,sha256=%s,%d\n", f.name, base64.RawURLEncoding.EncodeToString(s[:]), len(f.body))
	}
	record.WriteString(info + "RECORD,,\n")
	w, err := zw.CreateHeader(&zip.FileHeader{Name: info + "RECORD", Method: zip.Deflate, Modified: stamp})
	if err != nil {
		return nil, err
	}
	if _, err := w.Write([]byte(record.String())); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return &Dist{
		Project: pypi.NormalizeName(p.Name), Version: p.Version, Data: buf.Bytes(),
		Filename: distName + "-" + p.Version + "-" + tag + ".whl", RequiresPython: p.RequiresPython,
	}, nil
}

// Sdist writes an sdist of p as setuptools' sdist command lays it out:
// PKG-INFO without Requires-Dist, setup.py, and the egg-info requires.txt
// with marker and extra sections; a non-empty pyproject adds a
// pyproject.toml with that text.
func Sdist(p Package, pyproject string) (*Dist, error) {
	root := p.Name + "-" + p.Version + "/"
	egg := root + strings.ReplaceAll(p.Name, "-", "_") + ".egg-info/"
	var reqs strings.Builder
	sections := map[string][]string{}
	var order []string
	for _, r := range p.Requires {
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
	pkgInfo := Package{Name: p.Name, Version: p.Version, RequiresPython: p.RequiresPython}.Metadata()
	files := []struct{ name, body string }{
		{root + "PKG-INFO", string(pkgInfo)},
		{root + "setup.py", fmt.Sprintf("from setuptools import setup\nsetup(name=%q, version=%q, py_modules=[])\n", p.Name, p.Version)},
		{egg + "PKG-INFO", string(pkgInfo)},
	}
	if len(p.Requires) > 0 {
		files = append(files, struct{ name, body string }{egg + "requires.txt", reqs.String()})
	}
	if pyproject != "" {
		files = append(files, struct{ name, body string }{root + "pyproject.toml", pyproject})
	}
	for _, name := range sortedKeys(p.Files) {
		files = append(files, struct{ name, body string }{root + name, string(p.Files[name])})
	}
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), ModTime: stamp, Typeflag: tar.TypeReg}); err != nil {
			return nil, err
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return &Dist{
		Project: pypi.NormalizeName(p.Name), Version: p.Version, Data: buf.Bytes(),
		Filename: p.Name + "-" + p.Version + ".tar.gz", RequiresPython: p.RequiresPython,
	}, nil
}

func sortedKeys(m map[string][]byte) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Index is a package index over a fixed set of files (see the package
// documentation for its routes). Set its exported fields before serving.
type Index struct {
	// JSON691 makes /simple/ pages answer PEP 691 JSON to clients that
	// ask for it; default: PEP 503 HTML only.
	JSON691 bool
	// FileBase is the URL prefix of file URLs in answers, e.g.
	// "https://files.pythonhosted.org" as PyPI's JSON API gives them;
	// default: "http://" and the request's Host.
	FileBase string
	// Relative makes simple pages link files with relative URLs.
	Relative bool

	dists  []*Dist
	mu     sync.Mutex
	tamper map[string]bool // filename → serve altered bytes
	hits   map[string]int  // path → requests
}

// NewIndex returns an index holding dists.
func NewIndex(dists []*Dist) *Index {
	return &Index{dists: dists, tamper: map[string]bool{}, hits: map[string]int{}}
}

// Dists returns the files the index holds.
func (x *Index) Dists() []*Dist { return x.dists }

// Tamper makes the index serve filename with bytes appended, so they no
// longer match the sha256 it advertises.
func (x *Index) Tamper(filename string) {
	x.mu.Lock()
	defer x.mu.Unlock()
	x.tamper[filename] = true
}

// Hits returns how many requests paths starting with prefix received.
func (x *Index) Hits(prefix string) int {
	x.mu.Lock()
	defer x.mu.Unlock()
	n := 0
	for p, c := range x.hits {
		if strings.HasPrefix(p, prefix) {
			n += c
		}
	}
	return n
}

func (x *Index) fileURL(r *http.Request, d *Dist) string {
	base := x.FileBase
	if base == "" {
		base = "http://" + r.Host
	}
	return strings.TrimRight(base, "/") + "/packages/" + d.Filename
}

func (x *Index) project(name string) []*Dist {
	var out []*Dist
	for _, d := range x.dists {
		if d.Project == pypi.NormalizeName(name) {
			out = append(out, d)
		}
	}
	return out
}

var jsonRelease = regexp.MustCompile(`^/pypi/([^/]+)/(?:([^/]+)/)?json$`)

// ServeHTTP answers the index's routes.
func (x *Index) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	x.mu.Lock()
	x.hits[r.URL.Path]++
	x.mu.Unlock()
	p := r.URL.Path
	switch {
	case jsonRelease.MatchString(p):
		m := jsonRelease.FindStringSubmatch(p)
		x.serveJSON(w, r, m[1], m[2])
	case strings.HasPrefix(p, "/simple/"):
		name := strings.Trim(strings.TrimPrefix(p, "/simple/"), "/")
		if name != pypi.NormalizeName(name) {
			// Relative, so it holds wherever the index is mounted
			// (http.Redirect would make it absolute).
			loc := pypi.NormalizeName(name) + "/"
			if strings.HasSuffix(p, "/") {
				loc = "../" + loc
			}
			w.Header().Set("Location", loc)
			w.WriteHeader(http.StatusMovedPermanently)
			return
		}
		x.serveSimple(w, r, name)
	case strings.HasPrefix(p, "/packages/"):
		fn := strings.TrimPrefix(p, "/packages/")
		for _, d := range x.dists {
			switch {
			case d.Filename == fn:
				data := d.Data
				x.mu.Lock()
				if x.tamper[fn] {
					data = append(bytes.Clone(data), "tampered"...)
				}
				x.mu.Unlock()
				http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
				return
			case d.PEP658 && d.Filename+".metadata" == fn:
				http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(d.Metadata))
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
func (x *Index) serveJSON(w http.ResponseWriter, r *http.Request, name, version string) {
	ds := x.project(name)
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
		if d.RequiresPython != "" {
			rp = &d.RequiresPython
		}
		typ := "sdist"
		if strings.HasSuffix(d.Filename, ".whl") {
			typ = "bdist_wheel"
		}
		releases[d.Version] = append(releases[d.Version], file{
			Filename: d.Filename, URL: x.fileURL(r, d), Digests: map[string]string{"sha256": d.SHA256(), "md5": "x"},
			Size: len(d.Data), RequiresPython: rp, Yanked: d.Yanked, PackageType: typ,
		})
		if d.Version == version && !first[version] {
			first[version] = true
			if typ == "bdist_wheel" {
				m, err := pypi.WheelMetadata(bytes.NewReader(d.Data), int64(len(d.Data)), d.Filename)
				if err != nil {
					http.Error(w, "pypitest: "+err.Error(), http.StatusInternalServerError)
					return
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

func (x *Index) serveSimple(w http.ResponseWriter, r *http.Request, name string) {
	ds := x.project(name)
	if len(ds) == 0 {
		http.NotFound(w, r)
		return
	}
	if x.JSON691 && strings.Contains(r.Header.Get("Accept"), "application/vnd.pypi.simple.v1+json") {
		var files []map[string]any
		for _, d := range ds {
			f := map[string]any{
				"filename": d.Filename, "url": x.fileURL(r, d), "hashes": map[string]string{"sha256": d.SHA256()},
				"requires-python": d.RequiresPython, "size": len(d.Data),
			}
			if d.Yanked {
				f["yanked"] = "broken"
			}
			if d.PEP658 {
				f["core-metadata"] = map[string]string{"sha256": sha256Hex(d.Metadata)}
			}
			files = append(files, f)
		}
		w.Header().Set("Content-Type", "application/vnd.pypi.simple.v1+json")
		json.NewEncoder(w).Encode(map[string]any{"meta": map[string]string{"api-version": "1.0"}, "name": name, "files": files})
		return
	}
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html><head><title>Links for " + html.EscapeString(name) + "</title></head><body>\n")
	for _, d := range ds {
		href := x.fileURL(r, d)
		if x.Relative {
			href = "../../packages/" + d.Filename
		}
		href += "#sha256=" + d.SHA256()
		attrs := ""
		if d.RequiresPython != "" {
			attrs += ` data-requires-python="` + html.EscapeString(d.RequiresPython) + `"`
		}
		if d.Yanked {
			attrs += ` data-yanked=""`
		}
		if d.PEP658 {
			attrs += ` data-core-metadata="sha256=` + sha256Hex(d.Metadata) + `" data-dist-info-metadata="sha256=` + sha256Hex(d.Metadata) + `"`
		}
		fmt.Fprintf(&b, "<a href=\"%s\"%s>%s</a><br />\n", html.EscapeString(href), attrs, html.EscapeString(d.Filename))
	}
	b.WriteString("</body></html>\n")
	w.Header().Set("Content-Type", "text/html")
	w.Write([]byte(b.String()))
}
