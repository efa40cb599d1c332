package fileserver

import (
	"bytes"
	"crypto/sha256"
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

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/apt"
	"github.com/paimirror/paimirror/bundle/pypi"
	"github.com/paimirror/paimirror/fileserver/logclip"
)

// The file server's own pages. A lock path equal to one of them is shadowed
// (New logs a warning).
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
	// PathMetrics serves Metrics and the bundle's gauges in a Prometheus
	// exposition format (text unless the client asks for another).
	PathMetrics = "/metrics"
	// PathPyPI is the prefix of the Python package index: pip's index URL
	// is PathPyPI+"/simple/". Every path at or under it belongs to the
	// index, never to a file.
	PathPyPI = "/pypi"
)

// Server is the file server of paimirror serve: an http.Handler for every
// path but the registry's /v2/. Create it with New. A Server is safe for
// concurrent use; it never changes after New.
type Server struct {
	b         *bundle.Bundle
	log       *slog.Logger
	advertise string
	scheme    string
	caPath    string
	caPEM     []byte
	metrics   *Metrics
	// metricsHandler serves metrics at PathMetrics.
	metricsHandler http.Handler

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

// Option configures a Server.
type Option func(*Server)

// WithLogger sets the logger: request lines at Debug, shadowed paths at
// Warn, bundle read failures at Error. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) {
		if l != nil {
			s.log = l
		}
	}
}

// WithAdvertise sets the address ("HOST:PORT") the nodes reach the mirror
// at, filled into the config snippets. Default: the Host of each request.
func WithAdvertise(hostport string) Option {
	return func(s *Server) { s.advertise = hostport }
}

// WithScheme sets how the nodes reach the mirror, "http" or "https", for the
// snippets. Default: "https" for a request that came over TLS, else "http".
func WithScheme(scheme string) Option {
	return func(s *Server) { s.scheme = scheme }
}

// WithCA tells the server that TLS uses a CA paimirror generated: the
// server serves certPEM at path (an absolute URL path such as
// "/paimirror-ca.crt") and the index page explains how nodes come to trust
// it, with its SHA-256 fingerprint. With a nil certPEM the page only
// mentions path (something else serves it). Default: no CA.
func WithCA(path string, certPEM []byte) Option {
	return func(s *Server) { s.caPath, s.caPEM = path, certPEM }
}

// New returns a Server for the bundle b, which must stay open while the
// Server is in use.
func New(b *bundle.Bundle, opts ...Option) *Server {
	aptServed := b.Lock.AptServed()
	s := &Server{
		b:        b,
		log:      slog.New(slog.DiscardHandler),
		metrics:  NewMetrics(),
		files:    newPathIndex(append(slices.Clone(b.Lock.Files), aptServed...)),
		aptPaths: map[string]bool{},
		modified: b.Lock.Created.UTC().Truncate(time.Second),
	}
	for _, o := range opts {
		o(s)
	}
	s.metrics.register(bundleGauges(b)...)
	s.metricsHandler = s.metrics.handler()
	s.lockJSON = b.LockBytes() // byte for byte as stored in the bundle
	sum := sha256.Sum256(s.lockJSON)
	s.lockETag = `"sha256:` + hex.EncodeToString(sum[:]) + `"`
	s.pages = map[string]page{
		PathIndex:      s.serveIndex,
		PathLock:       s.serveLock,
		PathConfigText: s.serveConfigText,
		PathConfigYAML: s.serveConfigYAML,
		PathDaemonJSON: s.serveDaemonJSON,
		PathHealth:     s.serveHealth,
		PathMetrics:    s.serveMetrics,
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
		if isPyPIPath(p) {
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
		sr, err := b.Blob("sha256:" + sum)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %w", fs.ErrNotExist, err)
		}
		return sr, sr.Size(), nil
	}
	return pypi.NewSimpleIndex(files, open, pypi.WithPrefix(PathPyPI), pypi.WithLogger(log))
}

// isPyPIPath reports whether a request path belongs to the package index.
func isPyPIPath(p string) bool {
	return p == PathPyPI || strings.HasPrefix(p, PathPyPI+"/")
}

// Metrics returns the counters the server counts its requests into and
// serves at /metrics. Handler counts the registry's requests there too.
func (s *Server) Metrics() *Metrics { return s.metrics }

// CountingHandler is a handler that counts its own responses: ServeCounted
// answers like ServeHTTP and then calls count once with the status code,
// the body bytes sent (none for HEAD) and whether the body was cut short.
// registry.Registry is one. Server.Handler counts such a handler through
// count instead of wrapping its ResponseWriter in a recorder of its own, so
// that each request passes through one recorder only.
type CountingHandler interface {
	ServeCounted(w http.ResponseWriter, r *http.Request, count func(code int, bytes int64, aborted bool))
}

// Handler returns the handler for the whole listener of paimirror serve:
// requests for /v2 and below go to registry, everything else to s, and both
// are counted in s.Metrics() (the registry's by RegistryKind, through its
// ServeCounted when it is a CountingHandler, else with Instrument). Use it
// rather than an http.ServeMux, which answers paths holding "..", "." or
// "//" with a redirect to a cleaned path before any handler sees them.
func (s *Server) Handler(registry http.Handler) http.Handler {
	var reg http.Handler
	if c, ok := registry.(CountingHandler); ok {
		reg = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			s.metrics.serveCounted(RegistryKind(r), w, r, c)
		})
	} else {
		reg = s.metrics.Instrument(registry, RegistryKind)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2" || strings.HasPrefix(r.URL.Path, "/v2/") {
			reg.ServeHTTP(w, r)
			return
		}
		s.ServeHTTP(w, r)
	})
}

// ServeHTTP answers GET and HEAD for the pages and for every file at each of
// its mirror paths; every other path is 404, every other method 405.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The package index owns its prefix whatever the rest of the path
	// holds: nothing there falls through to the files.
	if isPyPIPath(r.URL.Path) {
		s.metrics.serve(KindPyPI, w, r, s.servePyPI)
		return
	}
	p, ok := requestPath(r.URL)
	if pg, isPage := s.pages[p]; ok && isPage {
		s.metrics.serve(KindPage, w, r, func(w http.ResponseWriter, r *http.Request) {
			if allowed(w, r) {
				pg(w, r)
			}
		})
		return
	}
	s.metrics.serve(KindFile, w, r, func(w http.ResponseWriter, r *http.Request) {
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
	})
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
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, f bundle.File) {
	sr, err := s.b.Blob(f.Digest())
	if err != nil {
		s.log.Error("file missing from the bundle", "file", f.Name, "digest", f.Digest(), "err", err)
		http.Error(w, "500 the bundle does not hold this file's content; run paimirror verify", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", contentType(r.URL.Path))
	h.Set("ETag", `"`+f.Digest()+`"`)
	h.Set("X-Content-Type-Options", "nosniff")
	if raw, err := hex.DecodeString(f.SHA256); err == nil {
		// RFC 9530: lets a client check what it got without knowing the lock.
		h.Set("Repr-Digest", "sha-256=:"+base64.StdEncoding.EncodeToString(raw)+":")
	}
	file, base, _ := s.b.BlobRegion(f.Digest())
	rs := &readLogger{r: sr, file: file, base: base, onErr: func(err error) {
		if rec, ok := w.(*recorder); ok {
			rec.aborted = true
		}
		s.log.Error("reading a file from the bundle", "file", f.Name, "digest", f.Digest(), "err", err)
	}}
	http.ServeContent(w, r, "", s.modified, rs)
	s.log.Debug("file", "method", r.Method, "path", logclip.Clip(r.URL.Path), "range", logclip.Clip(r.Header.Get("Range")), "remote", r.RemoteAddr)
}

// readLogger passes reads and seeks through and reports the first read
// error other than io.EOF (ServeContent drops them silently). When file is
// set, the content is also the region of that file (the bundle's own,
// shared descriptor) starting at base, which lets the response be sent by
// the kernel (see sendRegion).
type readLogger struct {
	r      io.ReadSeeker
	file   *os.File
	base   int64
	onErr  func(error)
	failed bool
}

// sendRegion copies src to dst, letting the kernel move the bytes
// (sendfile) when src is ServeContent's limited view of a readLogger with a
// file region and dst can take a file (net/http's response can); any other
// src goes to dst's own ReadFrom when it has one (so a file a wrapped
// handler hands over is still sent by the kernel). sendfile
// reads from the file's offset, so the region goes out through a descriptor
// of its own onto the very file the bundle holds open (bundle.Reopen), never one
// opened by name: concurrent requests never share an offset, and a bundle
// renamed over on disk is not what gets sent. Where no such descriptor can
// be had, it copies as io.Copy does (through the bundle's ReadAt).
func sendRegion(dst io.Writer, src io.Reader) (int64, error) {
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

// bundleGauges are the gauges that describe the served bundle, for
// /metrics.
func bundleGauges(b *bundle.Bundle) []prometheus.Collector {
	l := b.Lock
	gauge := func(name, help string, v float64, labels prometheus.Labels) prometheus.Collector {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: labels})
		g.Set(v)
		return g
	}
	return []prometheus.Collector{
		gauge("paimirror_bundle_info", "The bundle being served; always 1.", 1, prometheus.Labels{
			"manifest": l.Manifest.Name, "tool_version": l.ToolVersion, "format_version": strconv.Itoa(l.FormatVersion)}),
		gauge("paimirror_bundle_size_bytes", "Size of the bundle file(s) in bytes.", float64(b.Size), nil),
		gauge("paimirror_bundle_images", "Images in the bundle.", float64(len(l.Images)), nil),
		gauge("paimirror_bundle_files", "Files in the bundle.", float64(len(l.Files)), nil),
		gauge("paimirror_bundle_python_files", "Python package files (wheels and sdists) in the bundle.", float64(len(l.PythonFiles())), nil),
		gauge("paimirror_bundle_created_timestamp_seconds", "When the bundle was built, in Unix seconds.", float64(l.Created.Unix()), nil),
	}
}

// serveMetrics serves s.Metrics() and the bundle's gauges, never cached.
func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	s.metricsHandler.ServeHTTP(w, r)
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
