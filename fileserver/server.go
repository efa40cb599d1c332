package fileserver

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/fileserver/files"
)

// PathMetrics serves Metrics and the bundle's gauges in a Prometheus
// exposition format (text unless the client asks for another). Like the
// files' own pages, it shadows a lock path equal to it.
const PathMetrics = "/metrics"

// PathHealth answers 200 "ok" while the listener runs (a page of package
// files, named here for health checks of the whole listener).
const PathHealth = files.PathHealth

// PathCA is where Serve, with ServeOptions.TLSDir, publishes the CA
// certificate it generated.
const PathCA = "/paimirror-ca.crt"

// Server routes paimirror serve's one listener: /v2 and below to the
// registry handler given to Handler, everything else to the bundle's files
// and pages (fileserver/files), and counts every request in its Metrics.
// Create it with New. A Server is safe for concurrent use; it never changes
// after New and never writes to the bundle.
type Server struct {
	files   *files.Server
	metrics *Metrics
}

// Option configures a Server.
type Option func(*config)

type config struct {
	log       *slog.Logger
	accessLog bool
	files     files.Options
}

// WithLogger sets the logger: the access log (WithAccessLog) at Info,
// request lines at Debug, shadowed paths at Warn, bundle read failures at
// Error. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log, c.files.Logger = l, l
		}
	}
}

// WithAccessLog turns on one Info record per request of every kind (a
// file, a page, /pypi, /metrics, the registry's): method, path, status,
// body bytes sent, duration, client, user agent and kind. The path is the
// request URI with its query values hidden but those of the registry
// API's keys (redact.URL: a token a client sent, an upload's signed
// state); no header is logged. Default: off.
func WithAccessLog(on bool) Option {
	return func(c *config) { c.accessLog = on }
}

// WithAdvertise sets the address ("HOST:PORT") the nodes reach the mirror
// at, filled into the config snippets. Default: the Host of each request.
func WithAdvertise(hostport string) Option {
	return func(c *config) { c.files.Advertise = hostport }
}

// WithScheme sets how the nodes reach the mirror, "http" or "https", for the
// snippets. Default: "https" for a request that came over TLS, else "http".
func WithScheme(scheme string) Option {
	return func(c *config) { c.files.Scheme = scheme }
}

// WithCA tells the server that TLS uses a CA paimirror generated: the
// server serves certPEM at path (an absolute URL path such as PathCA) and
// the index page explains how nodes come to trust it, with its SHA-256
// fingerprint. With a nil certPEM the page only mentions path (something
// else serves it). Default: no CA.
func WithCA(path string, certPEM []byte) Option {
	return func(c *config) { c.files.CAPath, c.files.CAPEM = path, certPEM }
}

// New returns a Server for the bundle b, which must stay open while the
// Server is in use. It reads only b's lock.
func New(b *bundle.Bundle, opts ...Option) *Server {
	c := config{log: slog.New(slog.DiscardHandler)}
	for _, o := range opts {
		o(&c)
	}
	m := NewMetrics()
	m.register(bundleGauges(b)...)
	if c.accessLog {
		m.access = c.log
	}
	metrics := m.handler()
	c.files.Pages = map[string]http.Handler{
		PathMetrics: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Never cached.
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("X-Content-Type-Options", "nosniff")
			metrics.ServeHTTP(w, r)
		}),
	}
	return &Server{files: files.New(b, c.files), metrics: m}
}

// Metrics returns the counters the server counts its requests into and
// serves at PathMetrics. Handler counts the registry's requests there too.
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

// ServeHTTP answers every path but the registry's, from the bundle's files
// and pages (files.Server), counting each request by its Kind: KindPyPI
// under /pypi, KindPage for a page, else KindFile.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind := KindFile
	switch s.files.Route(r) {
	case files.RoutePage:
		kind = KindPage
	case files.RoutePyPI:
		kind = KindPyPI
	}
	s.metrics.serve(kind, w, r, s.files.ServeHTTP)
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
