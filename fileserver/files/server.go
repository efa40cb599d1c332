package files

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/apt"
	"github.com/paimirror/paimirror/bundle/pypi"
	"github.com/paimirror/paimirror/fileserver/logclip"
)

// The Server's own pages. A lock path equal to one of them (or to one of
// Options.Pages) is shadowed (New logs a warning).
const (
	// PathIndex is the page for people.
	PathIndex = "/"
	// PathLock serves the bundle's lock, paimirror.json.
	PathLock = "/" + bundle.LockName
	// PathConfigText serves every config snippet as plain text.
	PathConfigText = "/config.txt"
	// PathConfigYAML serves the config.yaml openpai_kubespray_extra_var block.
	PathConfigYAML = "/config.yaml"
	// PathDaemonJSON serves the docker daemon.json keys.
	PathDaemonJSON = "/daemon.json"
	// PathHealth answers 200 "ok" while the server runs.
	PathHealth = "/healthz"
	// PathPyPI is the prefix of the Python package index: pip's index URL
	// is PathPyPI+"/simple/". Every path at or under it belongs to the
	// index, never to a file.
	PathPyPI = "/pypi"
)

// Server answers paimirror serve's files and pages: every path but the
// registry's /v2/. Create it with New. A Server is safe for concurrent
// use; it never changes after New and never writes to the bundle.
type Server struct {
	b         *bundle.Bundle
	log       *slog.Logger
	advertise string
	scheme    string
	caPath    string
	caPEM     []byte

	files    pathIndex
	pages    map[string]page
	lockJSON []byte
	lockETag string
	modified time.Time
	images   []imageRow
	fileRows []fileRow

	// pypi serves the bundle's python files under PathPyPI; nil when it
	// has none, or when they cannot be served (pypiErr says why).
	pypi       http.Handler
	pypiErr    error
	pythonRows []pythonRow
	aptRows    []aptRow
	// aptPaths are the paths of apt's files (flatRepositoryFile).
	aptPaths map[string]bool
	projects int
}

// page is one of the server's own routes.
type page func(w http.ResponseWriter, r *http.Request)

// Options configures New. The zero value serves the bundle's files and
// pages, reached at each request's own address, with no log.
type Options struct {
	// Logger gets request lines at Debug, shadowed paths at Warn, bundle
	// read failures at Error. Default: discard.
	Logger *slog.Logger
	// Advertise is the address ("HOST:PORT") the nodes reach the mirror
	// at, filled into the config snippets. Default: the Host of each
	// request.
	Advertise string
	// Scheme is how the nodes reach the mirror, "http" or "https", for the
	// snippets. Default: "https" for a request that came over TLS, else
	// "http".
	Scheme string
	// CAPath is where the CA paimirror generated for TLS is served (an
	// absolute URL path such as "/paimirror-ca.crt"): the index page
	// explains how nodes come to trust it, with the SHA-256 fingerprint of
	// CAPEM. With CAPEM set the Server serves it at CAPath; without, the
	// page only mentions CAPath (something else serves it). Default: no
	// CA.
	CAPath string
	CAPEM  []byte
	// Pages are pages of the caller's (serve's /metrics) that
	// the Server answers as its own, by absolute path: ahead of any file
	// at that path, for GET and HEAD only (405 otherwise). Default: none.
	Pages map[string]http.Handler
}

// New returns a Server for the bundle b, which must stay open while the
// Server is in use. It reads only the lock; it costs one pass over the
// lock's paths and a hash of the lock.
func New(b *bundle.Bundle, o Options) *Server {
	aptServed := b.Lock.AptServed()
	s := &Server{
		b:         b,
		log:       o.Logger,
		advertise: o.Advertise,
		scheme:    o.Scheme,
		caPath:    o.CAPath,
		caPEM:     o.CAPEM,
		files:     newPathIndex(append(slices.Clone(b.Lock.Files), aptServed...)),
		aptPaths:  map[string]bool{},
		modified:  b.Lock.Created.UTC().Truncate(time.Second),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.lockJSON = b.LockBytes() // byte for byte as stored in the bundle
	s.lockETag = `"` + digest.FromBytes(s.lockJSON).String() + `"`
	s.pages = map[string]page{
		PathIndex:      s.serveIndex,
		PathLock:       s.serveLock,
		PathConfigText: s.serveConfigText,
		PathConfigYAML: s.serveConfigYAML,
		PathDaemonJSON: s.serveDaemonJSON,
		PathHealth:     s.serveHealth,
	}
	for p, h := range o.Pages {
		s.pages[p] = h.ServeHTTP
	}
	if s.caPath != "" && s.caPEM != nil {
		s.pages[s.caPath] = s.serveCA
	}
	for p := range s.pages {
		if f, ok := s.files[p]; ok {
			s.log.Warn("a file's mirror path is one of the server's own pages; the page wins", "path", p, "file", f.Name)
			delete(s.files, p)
		}
	}
	for p, f := range s.files {
		if InPyPI(p) {
			s.log.Warn("a file's mirror path is under the Python package index's prefix; the index wins", "path", p, "file", f.Name)
			delete(s.files, p)
		}
	}
	summary := b.Summary()
	s.images, s.fileRows = rows(b, summary)
	s.pythonRows, s.projects = pythonRows(b)
	s.aptRows = aptRows(summary)
	for _, f := range aptServed {
		for _, p := range f.Paths {
			s.aptPaths[p] = true
		}
	}
	if len(b.Lock.PythonFiles()) > 0 {
		s.pypi, s.pypiErr = newPyPI(b, s.log)
		if s.pypiErr != nil {
			s.log.Error("the bundle's Python packages cannot be served", "err", s.pypiErr)
		}
	}
	return s
}

// newPyPI returns the simple index of the bundle's python files, served
// from their blobs in place.
func newPyPI(b *bundle.Bundle, log *slog.Logger) (http.Handler, error) {
	var files []pypi.File
	for _, f := range b.Lock.PythonFiles() {
		files = append(files, pypi.File{Project: f.Project, Version: f.Version, Filename: f.Filename, URL: f.URL,
			SHA256: f.SHA256, Size: f.Size, RequiresPython: f.RequiresPython})
	}
	open := func(sum string) (io.ReadSeeker, int64, error) {
		sr, err := b.Blob(digest.NewDigestFromEncoded(digest.SHA256, sum))
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %w", fs.ErrNotExist, err)
		}
		return sr, sr.Size(), nil
	}
	return pypi.NewSimpleIndex(files, open, pypi.WithPrefix(PathPyPI), pypi.WithLogger(log))
}

// InPyPI reports whether a request path belongs to the package index:
// PathPyPI and every path below it.
func InPyPI(p string) bool {
	return p == PathPyPI || strings.HasPrefix(p, PathPyPI+"/")
}

// Route is what a request asks a Server for.
type Route int

// The routes of a Server.
const (
	// RouteFile is a file at one of its mirror paths, and any path the
	// Server does not know (answered 404).
	RouteFile Route = iota
	// RoutePage is one of the Server's pages (Options.Pages among them).
	RoutePage
	// RoutePyPI is the Python package index: PathPyPI and below.
	RoutePyPI
)

// Route returns what r asks for, as ServeHTTP routes it; it costs a map
// lookup.
func (s *Server) Route(r *http.Request) Route {
	if InPyPI(r.URL.Path) {
		return RoutePyPI
	}
	if p, ok := requestPath(r.URL); ok {
		if _, isPage := s.pages[p]; isPage {
			return RoutePage
		}
	}
	return RouteFile
}

// ServeHTTP answers GET and HEAD for the pages and for every file at each of
// its mirror paths; every other path is 404, every other method 405.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch s.Route(r) {
	case RoutePyPI:
		// The package index owns its prefix whatever the rest of the
		// path holds: nothing there falls through to the files.
		s.servePyPI(w, r)
	case RoutePage:
		if allowed(w, r) {
			p, _ := requestPath(r.URL)
			s.pages[p](w, r)
		}
	default:
		f, found := s.files.lookup(r.URL)
		if !found {
			f, found = s.flatRepositoryFile(r.URL)
		}
		if !found {
			s.log.Debug("not in the bundle", "method", r.Method, "uri", logclip.Clip(r.RequestURI), "remote", r.RemoteAddr)
			notFound(w)
			return
		}
		if allowed(w, r) {
			s.serveFile(w, r, f)
		}
	}
}

// flatRepositoryFile finds the apt file a request for "PREFIX/./NAME"
// names: apt asks a flat repository ("deb URL ./") for its files that
// way. Only "." segments are dropped, and only apt's files answer.
func (s *Server) flatRepositoryFile(u *url.URL) (bundle.File, bool) {
	p, ok := requestPath(u)
	if !ok || !strings.Contains(p, "/./") {
		return bundle.File{}, false
	}
	p = apt.DropDotSegments(p)
	if !s.aptPaths[p] {
		return bundle.File{}, false
	}
	f, ok := s.files[p]
	return f, ok
}

// servePyPI answers a request under PathPyPI from the package index, when
// the bundle has one.
func (s *Server) servePyPI(w http.ResponseWriter, r *http.Request) {
	switch {
	case s.pypiErr != nil:
		http.Error(w, "500 the bundle's Python packages cannot be served; see the server's log", http.StatusInternalServerError)
	case s.pypi == nil:
		http.Error(w, "404 not found: this bundle holds no Python packages", http.StatusNotFound)
	case allowed(w, r):
		s.pypi.ServeHTTP(w, r)
	}
}

// allowed answers 405 for methods other than GET and HEAD.
func allowed(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "method not allowed: this mirror is read-only", http.StatusMethodNotAllowed)
	return false
}

// notFound answers 404 without echoing anything of the request.
func notFound(w http.ResponseWriter) {
	http.Error(w, "404 not found: this mirror serves only the files its bundle holds; see / for the list", http.StatusNotFound)
}

// serveFile serves one file from the bundle in place: Range, conditional
// requests (If-None-Match on the strong ETag "sha256:<hex>",
// If-Modified-Since on the bundle's build time) and HEAD through
// http.ServeContent.
//
// A GET of a file not yet known good first hashes it whole from the
// bundle (bundle.Bundle.CheckBlob: one read of it from the local disk,
// which also brings it into the page cache the response is then sent
// from); a damaged one is answered 500, none of its bytes sent, and
// logged at Error. HEAD sends no bytes and checks nothing.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, f bundle.File) {
	sr, err := s.b.Blob(f.Digest())
	if err == nil && r.Method == http.MethodGet {
		err = s.b.CheckBlob(f.Digest())
	}
	if err != nil {
		s.log.Error("file not served: the bundle's copy is missing, damaged or unreadable; run 'paimirror verify' on the bundle and copy or build it again", "file", f.Name, "digest", f.Digest(), "err", err)
		http.Error(w, "500 the bundle's copy of this file is missing, damaged or unreadable; run paimirror verify on the mirror's bundle", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType(r.URL.Path))
	h.Set("ETag", `"`+f.Digest().String()+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	if raw, err := hex.DecodeString(f.SHA256); err == nil {
		// RFC 9530: lets a client check what it got without knowing the lock.
		h.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(raw)+":")
	}
	file, base, _ := s.b.BlobRegion(f.Digest())
	rs := &readLogger{r: sr, file: file, base: base, onErr: func(err error) {
		s.log.Error("reading a file from the bundle", "file", f.Name, "digest", f.Digest(), "err", err)
	}}
	http.ServeContent(w, r, "", s.modified, rs)
	s.log.Debug("file", "method", r.Method, "path", logclip.Clip(r.URL.Path), "range", logclip.Clip(r.Header.Get("Range")), "remote", r.RemoteAddr)
}

// readLogger passes reads and seeks through and reports the first read
// error other than io.EOF (ServeContent drops them silently). When file is
// set, the content is also the region of that file (the bundle's own,
// shared descriptor) starting at base, which lets the response be sent by
// the kernel (see SendRegion).
type readLogger struct {
	r      io.ReadSeeker
	file   *os.File
	base   int64
	onErr  func(error)
	failed bool
}

// SendRegion copies src to dst, letting the kernel move the bytes
// (sendfile) when src is ServeContent's limited view of a file the Server
// serves (the region of the bundle file it lies in) and dst can take a
// file (net/http's response can). A ResponseWriter that wraps net/http's
// (serve's one recorder) calls it from its ReadFrom, so that a file's bytes
// still go out through the kernel; it returns the bytes copied and the
// first error, a failed read of the bundle included. Any other
// src goes to dst's own ReadFrom when it has one (so a file a wrapped
// handler hands over is still sent by the kernel). sendfile
// reads from the file's offset, so the region goes out through a descriptor
// of its own onto the very file the bundle holds open (bundle.Reopen), never one
// opened by name: concurrent requests never share an offset, and a bundle
// renamed over on disk is not what gets sent. Where no such descriptor can
// be had, it copies as io.Copy does (through the bundle's ReadAt).
func SendRegion(dst io.Writer, src io.Reader) (int64, error) {
	lr, ok := src.(*io.LimitedReader)
	var rl *readLogger
	if ok {
		rl, _ = lr.R.(*readLogger)
	}
	rf, canTake := dst.(io.ReaderFrom)
	if !canTake {
		return io.Copy(struct{ io.Writer }{dst}, src)
	}
	if rl == nil || rl.file == nil {
		return rf.ReadFrom(src)
	}
	pos, err := rl.r.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	f, err := bundle.Reopen(rl.file)
	if err != nil {
		return rf.ReadFrom(src)
	}
	defer f.Close()
	if _, err := f.Seek(rl.base+pos, io.SeekStart); err != nil {
		return 0, err
	}
	n, err := rf.ReadFrom(&io.LimitedReader{R: f, N: lr.N})
	lr.N -= n
	if _, serr := rl.r.Seek(n, io.SeekCurrent); err == nil {
		err = serr
	}
	if err != nil && !rl.failed {
		rl.failed = true
		rl.onErr(err)
	}
	return n, err
}

func (l *readLogger) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && !l.failed {
		l.failed = true
		l.onErr(err)
	}
	return n, err
}

func (l *readLogger) Seek(off int64, whence int) (int64, error) { return l.r.Seek(off, whence) }

// mirrorAddr returns the HOST:PORT and scheme to fill into snippets, and
// whether the address came from the request rather than --advertise.
func (s *Server) mirrorAddr(r *http.Request) (hostport, scheme string, fromRequest bool) {
	scheme = s.scheme
	if scheme == "" {
		scheme = "http"
		if r.TLS != nil {
			scheme = "https"
		}
	}
	if s.advertise != "" {
		return s.advertise, scheme, false
	}
	if r.Host != "" {
		return r.Host, scheme, true
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		return a.String(), scheme, true
	}
	return "HOST:PORT", scheme, true
}

func (s *Server) serveLock(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("ETag", s.lockETag)
	http.ServeContent(w, r, "", s.modified, bytes.NewReader(s.lockJSON))
}

func (s *Server) serveConfigText(w http.ResponseWriter, r *http.Request) {
	hostport, scheme, _ := s.mirrorAddr(r)
	var b strings.Builder
	fmt.Fprintf(&b, "# paimirror: point an OpenPAI v1.8.0 install at the mirror %s://%s\n", scheme, hostport)
	for _, sn := range s.snippets(hostport, scheme) {
		fmt.Fprintf(&b, "\n# ==> %s\n# %s\n%s", sn.Where, sn.Note, sn.Text)
	}
	if s.caPath != "" && scheme == "https" {
		fmt.Fprintf(&b, "\n# ==> every node and the dev box: trust the mirror's CA\n%s", caLines(hostport, s.caPath))
	}
	writeText(w, r, "text/plain; charset=utf-8", b.String())
}

func (s *Server) serveConfigYAML(w http.ResponseWriter, r *http.Request) {
	hostport, scheme, _ := s.mirrorAddr(r)
	writeText(w, r, "application/yaml; charset=utf-8", configYAML(hostport, scheme, s.dockerAptVars(hostport, scheme)...))
}

func (s *Server) serveDaemonJSON(w http.ResponseWriter, r *http.Request) {
	hostport, scheme, _ := s.mirrorAddr(r)
	writeText(w, r, "application/json", daemonJSON(hostport, scheme))
}

func (s *Server) serveHealth(w http.ResponseWriter, r *http.Request) {
	writeText(w, r, "text/plain; charset=utf-8", "ok\n")
}

func (s *Server) serveCA(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/x-pem-file")
	http.ServeContent(w, r, "", s.modified, bytes.NewReader(s.caPEM))
}

// writeText writes a generated body, with its length, and none for HEAD.
func writeText(w http.ResponseWriter, r *http.Request, contentType, body string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-cache")
	}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		io.WriteString(w, body)
	}
}
