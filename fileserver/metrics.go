package fileserver

import (
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/common/expfmt"

	"github.com/paimirror/paimirror/fileserver/files"
	"github.com/paimirror/paimirror/fileserver/logclip"
)

// Kind is what a request asked for, the label that splits the request, byte
// and error counters of Metrics.
type Kind string

// The kinds paimirror serve counts. Server.ServeHTTP sorts the files' and
// pages' requests into KindFile, KindPage and KindPyPI; RegistryKind sorts the registry's requests into KindBlob,
// KindManifest and KindAPI.
const (
	// KindFile is a file at one of its mirror paths, and any path the
	// server does not know (those are counted as file errors).
	KindFile Kind = "file"
	// KindBlob is a registry blob: an image layer or config.
	KindBlob Kind = "blob"
	// KindManifest is a registry manifest, by tag or by digest.
	KindManifest Kind = "manifest"
	// KindAPI is any other registry request: the /v2/ ping, tag lists, the
	// catalog, uploads.
	KindAPI Kind = "api"
	// KindPage is one of the server's own pages: the index, the config
	// snippets, the lock, /healthz, /metrics, the CA certificate.
	KindPage Kind = "page"
	// KindPyPI is a request under /pypi: the Python package index's pages
	// and files.
	KindPyPI Kind = "pypi"
)

// kinds are the kinds always present in the output, at zero until counted.
var kinds = []Kind{KindFile, KindBlob, KindManifest, KindAPI, KindPage, KindPyPI}

// Reasons a request counts as an error (the "reason" label of
// paimirror_http_errors_total).
const (
	reasonClient  = "client"  // a 4xx status: not found, bad method, bad range
	reasonServer  = "server"  // a 5xx status
	reasonAborted = "aborted" // the body was cut short: client gone or bundle read failure
)

// Metrics counts HTTP requests, response bytes and errors by Kind, in a
// Prometheus registry of its own (github.com/prometheus/client_golang;
// never the global default one, so nothing else's metrics, such as
// distribution's, join them):
//
//	paimirror_http_requests_total{kind,code}     counter: responses by status code
//	paimirror_http_response_bytes_total{kind}    counter: response body bytes sent
//	paimirror_http_errors_total{kind,reason}     counter: reason "client" (4xx),
//	                                             "server" (5xx), "aborted" (body cut short)
//	paimirror_http_requests_in_flight{kind}      gauge: requests being answered
//
// Every Kind serve counts (KindFile through KindPyPI) is present from the
// start, at zero, so that rates start from the first scrape; in
// paimirror_http_requests_total a code appears once counted.
// A Server counts its own requests into the Metrics its Metrics method
// returns and serves them at /metrics, with its bundle's gauges; the
// registry's requests are counted into the same Metrics by Server.Handler.
// A Metrics is safe for concurrent use; counting a request costs a few
// atomic additions and map lookups.
type Metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	errors   *prometheus.CounterVec
	inFlight *prometheus.GaugeVec
	// access, when set, gets one Info record per request counted (the
	// access log: WithAccessLog).
	access *slog.Logger
}

// NewMetrics returns a Metrics with every counter at zero.
func NewMetrics() *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paimirror_http_requests_total",
			Help: "HTTP requests answered, by kind of content and status code.",
		}, []string{"kind", "code"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paimirror_http_response_bytes_total",
			Help: "Response body bytes sent, by kind of content.",
		}, []string{"kind"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "paimirror_http_errors_total",
			Help: `Failed requests, by kind and reason: "client" (4xx), "server" (5xx), "aborted" (body cut short).`,
		}, []string{"kind", "reason"}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "paimirror_http_requests_in_flight",
			Help: "Requests being answered, by kind.",
		}, []string{"kind"}),
	}
	m.reg.MustRegister(m.requests, m.bytes, m.errors, m.inFlight)
	for _, k := range kinds {
		m.bytes.WithLabelValues(string(k))
		m.inFlight.WithLabelValues(string(k))
		for _, reason := range []string{reasonAborted, reasonClient, reasonServer} {
			m.errors.WithLabelValues(string(k), reason)
		}
	}
	return m
}

// Instrument returns h wrapped so that each request is counted under the
// kind classify returns for it: its status code, the body bytes sent, and an
// error when the status is 4xx or 5xx or the body was cut short. The
// ResponseWriter h sees still supports http.Flusher and
// http.NewResponseController. Server.Handler counts a CountingHandler
// without it.
func (m *Metrics) Instrument(h http.Handler, classify func(*http.Request) Kind) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.serve(classify(r), w, r, h.ServeHTTP)
	})
}

// serve runs fn with a recorder around w and counts the result under kind.
func (m *Metrics) serve(kind Kind, w http.ResponseWriter, r *http.Request, fn func(http.ResponseWriter, *http.Request)) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, head: r.Method == http.MethodHead}
	m.add(kind, 1)
	defer func() {
		m.add(kind, -1)
		m.observe(kind, r, start, rec.code(), rec.bytes, rec.aborted)
	}()
	fn(rec, r)
}

// serveCounted runs a CountingHandler, which counts its own response
// through the callback, and counts the result under kind. A handler that
// panics before counting (net/http then closes the connection) is counted
// as a server error whose body was cut short.
func (m *Metrics) serveCounted(kind Kind, w http.ResponseWriter, r *http.Request, h CountingHandler) {
	start := time.Now()
	counted := false
	m.add(kind, 1)
	defer func() {
		m.add(kind, -1)
		if !counted {
			m.observe(kind, r, start, http.StatusInternalServerError, 0, true)
		}
	}()
	h.ServeCounted(w, r, func(code int, bytes int64, aborted bool) {
		counted = true
		m.observe(kind, r, start, code, bytes, aborted)
	})
}

func (m *Metrics) add(kind Kind, delta float64) {
	m.inFlight.WithLabelValues(string(kind)).Add(delta)
}

// observe counts one answered request, and logs it when the access log is
// on.
func (m *Metrics) observe(kind Kind, r *http.Request, start time.Time, code int, bytes int64, aborted bool) {
	k := string(kind)
	if m.access != nil {
		m.access.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			// Clip hides the query's values, which may be credentials
			// (a token, a registry upload's signed state).
			slog.String("path", logclip.Clip(r.URL.RequestURI())),
			slog.Int("status", code),
			slog.Int64("bytes", bytes),
			slog.Duration("duration", time.Since(start)),
			slog.String("client", r.RemoteAddr),
			slog.String("agent", r.UserAgent()),
			slog.String("kind", k),
		)
	}
	m.requests.WithLabelValues(k, strconv.Itoa(code)).Inc()
	m.bytes.WithLabelValues(k).Add(float64(bytes))
	switch {
	case code >= 500:
		m.errors.WithLabelValues(k, reasonServer).Inc()
	case code >= 400:
		m.errors.WithLabelValues(k, reasonClient).Inc()
	}
	if aborted {
		m.errors.WithLabelValues(k, reasonAborted).Inc()
	}
}

// RegistryKind classifies a request to the registry API (a path under
// /v2/): ".../manifests/<reference>" is KindManifest, ".../blobs/<digest>"
// is KindBlob, anything else (the ping, tag lists, the catalog, blob
// uploads) is KindAPI.
func RegistryKind(r *http.Request) Kind {
	segs := strings.Split(strings.TrimSuffix(r.URL.Path, "/"), "/")
	if n := len(segs); n >= 5 { // "", "v2", a name, then the route
		switch segs[n-2] {
		case "manifests":
			return KindManifest
		case "blobs":
			if segs[n-1] != "uploads" {
				return KindBlob
			}
		}
	}
	return KindAPI
}

// WriteTo writes every metric in the Prometheus text format (version
// 0.0.4), as /metrics serves it to a client that asks for nothing else.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	families, err := m.reg.Gather()
	if err != nil {
		return 0, err
	}
	cw := &countWriter{w: w}
	enc := expfmt.NewEncoder(cw, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, f := range families {
		if err := enc.Encode(f); err != nil {
			return cw.n, err
		}
	}
	return cw.n, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// handler serves the metrics in whichever exposition format the client
// asks for (promhttp's negotiation: the text format by default).
func (m *Metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// register adds collectors (a Server's bundle gauges) to the metrics.
func (m *Metrics) register(cs ...prometheus.Collector) { m.reg.MustRegister(cs...) }

// recorder is the ResponseWriter Metrics hands to handlers: it notes the
// status, the body bytes and whether writing the body failed.
type recorder struct {
	http.ResponseWriter
	status  int
	bytes   int64
	aborted bool
	head    bool // net/http drops the body of a HEAD response: count none
}

func (r *recorder) WriteHeader(code int) {
	// 1xx responses (other than 101) are informational; the final status
	// comes later.
	if r.status == 0 && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	if !r.head {
		r.bytes += int64(n)
	}
	if err != nil {
		r.aborted = true
	}
	return n, err
}

// ReadFrom counts what it copies like Write, and lets a file's bytes go out
// through the kernel (files.SendRegion).
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := files.SendRegion(r.ResponseWriter, src)
	if !r.head {
		r.bytes += n
	}
	if err != nil {
		r.aborted = true
	}
	return n, err
}

// Flush lets handlers that stream (the registry) flush through the recorder.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// code is the status the client got: 200 when the handler wrote nothing.
func (r *recorder) code() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}
