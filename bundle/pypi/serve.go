package pypi

import (
	"errors"
	"fmt"
	"html"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
)

// OpenFunc opens the stored bytes of the file with a sha256 (lowercase
// hex): a reader positioned at the start, and its size. An error wrapping
// fs.ErrNotExist makes the answer a 404.
type OpenFunc func(sha256 string) (io.ReadSeeker, int64, error)

// SimpleIndex is an http.Handler serving stored files as a PEP 503 simple
// repository that pip installs from:
//
//	{prefix}/simple/                        the project list
//	{prefix}/simple/{normalised-name}/      a project's files
//	{prefix}/packages/{sha256}/{filename}   a file's bytes (Range and HEAD work)
//
// A project page links each file as
// "../../packages/{sha256}/{filename}#sha256={sha256}" with its
// data-requires-python, so pip checks every download. A project name that
// is valid but not normalised ("Ruamel.YAML") is redirected to its
// normalised page, as PEP 503 asks; redirects are relative, so they hold
// behind any reverse proxy. Anything else is a 404.
type SimpleIndex struct {
	prefix   string
	log      *slog.Logger
	open     OpenFunc
	projects map[string][]File
	names    []string
	files    map[string]File // sha256 + "/" + filename
}

// HandlerOption configures a SimpleIndex.
type HandlerOption func(*SimpleIndex)

// WithPrefix mounts the index under a path prefix such as "/pypi" (then
// pip's --index-url is http://HOST:PORT/pypi/simple/); default "" (the
// root).
func WithPrefix(prefix string) HandlerOption {
	return func(s *SimpleIndex) { s.prefix = strings.TrimRight(prefix, "/") }
}

// WithLogger sets the logger for requests that fail on the server's side;
// default: discard.
func WithLogger(l *slog.Logger) HandlerOption {
	return func(s *SimpleIndex) { s.log = l }
}

// NewSimpleIndex returns a handler serving files, whose bytes open gives.
// Every file needs a valid project name, a plain filename and a sha256; a
// file listed twice (same sha256 and name) is served once; two different
// files with one name in one project are an error.
func NewSimpleIndex(files []File, open OpenFunc, opts ...HandlerOption) (*SimpleIndex, error) {
	s := &SimpleIndex{
		log: slog.New(slog.DiscardHandler), open: open,
		projects: map[string][]File{}, files: map[string]File{},
	}
	for _, o := range opts {
		o(s)
	}
	if s.prefix != "" && !strings.HasPrefix(s.prefix, "/") {
		return nil, fmt.Errorf("simple index prefix %q: must start with /", s.prefix)
	}
	byName := map[string]string{} // project/filename → sha256
	for _, f := range files {
		if !ValidName(f.Project) {
			return nil, fmt.Errorf("simple index: file %q: invalid project name %q", f.Filename, f.Project)
		}
		f.Project = NormalizeName(f.Project)
		if !plainFilename(f.Filename) {
			return nil, fmt.Errorf("simple index: project %s: %q is not a plain file name", f.Project, f.Filename)
		}
		if !isSHA256(f.SHA256) {
			return nil, fmt.Errorf("simple index: %s: sha256 %q is not 64 lowercase hex digits", f.Filename, f.SHA256)
		}
		key := f.Project + "/" + f.Filename
		if prev, ok := byName[key]; ok {
			if prev != f.SHA256 {
				return nil, fmt.Errorf("simple index: %s of %s is listed with two sha256s, %s and %s", f.Filename, f.Project, prev, f.SHA256)
			}
			continue
		}
		byName[key] = f.SHA256
		s.projects[f.Project] = append(s.projects[f.Project], f)
		s.files[f.SHA256+"/"+f.Filename] = f
	}
	for name, fs := range s.projects {
		slices.SortFunc(fs, func(a, b File) int { return strings.Compare(a.Filename, b.Filename) })
		s.names = append(s.names, name)
	}
	slices.Sort(s.names)
	return s, nil
}

// plainFilename reports whether name is one path element of printable
// characters.
func plainFilename(name string) bool {
	if name == "" || name == "." || name == ".." || len(name) > 255 {
		return false
	}
	for _, r := range name {
		if r < 0x20 || r == 0x7f || r == '/' || r == '\\' {
			return false
		}
	}
	return true
}

func isSHA256(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}

// Projects returns the normalised names of the projects served, sorted.
func (s *SimpleIndex) Projects() []string { return slices.Clone(s.names) }

// ServeHTTP answers GET and HEAD requests for the index's pages and files.
func (s *SimpleIndex) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p, ok := strings.CutPrefix(r.URL.Path, s.prefix)
	if !ok || (p != "" && p[0] != '/') {
		http.NotFound(w, r)
		return
	}
	parts := strings.Split(strings.TrimPrefix(p, "/"), "/")
	switch {
	case len(parts) == 1 && parts[0] == "simple":
		redirect(w, "simple/")
	case len(parts) == 2 && parts[0] == "simple" && parts[1] == "":
		s.serveList(w)
	case len(parts) == 2 && parts[0] == "simple":
		// "/simple/Name": on to the page, normalised.
		if !ValidName(parts[1]) || s.projects[NormalizeName(parts[1])] == nil {
			http.NotFound(w, r)
			return
		}
		redirect(w, url.PathEscape(NormalizeName(parts[1]))+"/")
	case len(parts) == 3 && parts[0] == "simple" && parts[2] == "":
		name := parts[1]
		if !ValidName(name) || s.projects[NormalizeName(name)] == nil {
			http.NotFound(w, r)
			return
		}
		if norm := NormalizeName(name); norm != name {
			redirect(w, "../"+url.PathEscape(norm)+"/")
			return
		}
		s.serveProject(w, name)
	case len(parts) == 3 && parts[0] == "packages":
		s.serveFile(w, r, parts[1], parts[2])
	default:
		http.NotFound(w, r)
	}
}

// redirect answers 301 with a relative Location (http.Redirect would make
// it absolute from a path that may have lost its prefix).
func redirect(w http.ResponseWriter, location string) {
	w.Header().Set("Location", location)
	w.WriteHeader(http.StatusMovedPermanently)
}

const pageHead = `<!DOCTYPE html>
<html>
  <head>
    <meta name="pypi:repository-version" content="1.0">
    <title>%s</title>
  </head>
  <body>
    <h1>%s</h1>
`

const pageTail = `  </body>
</html>
`

func (s *SimpleIndex) serveList(w http.ResponseWriter) {
	var b strings.Builder
	fmt.Fprintf(&b, pageHead, "Simple index", "Simple index")
	for _, name := range s.names {
		fmt.Fprintf(&b, "    <a href=\"%s/\">%s</a><br/>\n", html.EscapeString(url.PathEscape(name)), html.EscapeString(name))
	}
	b.WriteString(pageTail)
	writePage(w, b.String())
}

func (s *SimpleIndex) serveProject(w http.ResponseWriter, name string) {
	var b strings.Builder
	title := "Links for " + html.EscapeString(name)
	fmt.Fprintf(&b, pageHead, title, title)
	for _, f := range s.projects[name] {
		href := "../../packages/" + f.SHA256 + "/" + url.PathEscape(f.Filename) + "#sha256=" + f.SHA256
		attrs := ""
		if f.RequiresPython != "" {
			attrs = ` data-requires-python="` + html.EscapeString(f.RequiresPython) + `"`
		}
		fmt.Fprintf(&b, "    <a href=\"%s\"%s>%s</a><br/>\n", html.EscapeString(href), attrs, html.EscapeString(f.Filename))
	}
	b.WriteString(pageTail)
	writePage(w, b.String())
}

func writePage(w http.ResponseWriter, page string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=300")
	io.WriteString(w, page)
}

func (s *SimpleIndex) serveFile(w http.ResponseWriter, r *http.Request, sum, filename string) {
	f, ok := s.files[sum+"/"+filename]
	if !ok {
		http.NotFound(w, r)
		return
	}
	rs, _, err := s.open(f.SHA256)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			http.NotFound(w, r)
			return
		}
		s.log.Error("opening a stored file", "file", f.Filename, "sha256", f.SHA256, "err", err)
		http.Error(w, "cannot read the stored file", http.StatusInternalServerError)
		return
	}
	if c, ok := rs.(io.Closer); ok {
		defer c.Close()
	}
	ct := "application/octet-stream"
	switch {
	case strings.HasSuffix(f.Filename, ".whl"), strings.HasSuffix(f.Filename, ".zip"):
		ct = "application/zip"
	case strings.HasSuffix(f.Filename, ".tar.gz"), strings.HasSuffix(f.Filename, ".tgz"):
		ct = "application/gzip" // the bytes as stored: no Content-Encoding
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("ETag", `"`+f.SHA256+`"`)
	w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeContent(w, r, "", time.Time{}, rs)
}
