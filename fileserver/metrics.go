package fileserver

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Kind is what a request asked for, the label that splits the request, byte
// and error counters of Metrics.
type Kind string

// The kinds paimirror serve counts. The file server answers KindFile,
// KindPage and KindPyPI; RegistryKind sorts the registry's requests into KindBlob,
// KindManifest and KindAPI.
const (
	// KindFile is a file at one of its mirror paths, and any path the file
	// server does not know (those are counted as file errors).
	KindFile Kind = "file"
	// KindBlob is a registry blob: an image layer or config.
	KindBlob Kind = "blob"
	// KindManifest is a registry manifest, by tag or by digest.
	KindManifest Kind = "manifest"
	// KindAPI is any other registry request: the /v2/ ping, tag lists, the
	// catalog, uploads.
	KindAPI Kind = "api"
	// KindPage is one of the file server's own pages: the index, the config
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

// Metrics counts HTTP requests, response bytes and errors by Kind, and writes
// them in the Prometheus text exposition format (version 0.0.4):
//
//	paimirror_http_requests_total{kind,code}     counter: responses by status code
//	paimirror_http_response_bytes_total{kind}    counter: response body bytes sent
//	paimirror_http_errors_total{kind,reason}     counter: reason "client" (4xx),
//	                                             "server" (5xx), "aborted" (body cut short)
//	paimirror_http_requests_in_flight{kind}      gauge: requests being answered
//
// A Server counts its own requests into the Metrics its Metrics method
// returns and serves them at /metrics; the registry's requests are counted
// into the same Metrics by wrapping the registry handler with Instrument.
// A Metrics is safe for concurrent use. It uses no global state: nothing is
// registered with a default Prometheus registry.
type Metrics struct {
	mu       sync.Mutex
	requests map[requestKey]uint64
	bytes    map[Kind]uint64
	errors   map[errorKey]uint64
	inFlight map[Kind]int64
}

type requestKey struct {
	kind Kind
	code int
}

type errorKey struct {
	kind   Kind
	reason string
}

// NewMetrics returns a Metrics with every counter at zero.
func NewMetrics() *Metrics {
	return &Metrics{
		requests: map[requestKey]uint64{},
		bytes:    map[Kind]uint64{},
		errors:   map[errorKey]uint64{},
		inFlight: map[Kind]int64{},
	}
}

// Instrument returns h wrapped so that each request is counted under the
// kind classify returns for it: its status code, the body bytes sent, and an
// error when the status is 4xx or 5xx or the body was cut short. The
// ResponseWriter h sees still supports http.Flusher and
// http.NewResponseController. paimirror serve wraps the registry with
// Instrument(registry, RegistryKind).
func (m *Metrics) Instrument(h http.Handler, classify func(*http.Request) Kind) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		m.serve(classify(r), w, r, h.ServeHTTP)
	})
}

// serve runs fn with a recorder around w and counts the result under kind.
func (m *Metrics) serve(kind Kind, w http.ResponseWriter, r *http.Request, fn func(http.ResponseWriter, *http.Request)) {
	rec := &recorder{ResponseWriter: w, head: r.Method == http.MethodHead}
	m.add(kind, 1)
	defer func() {
		m.add(kind, -1)
		m.observe(kind, rec.code(), rec.bytes, rec.aborted)
	}()
	fn(rec, r)
}

func (m *Metrics) add(kind Kind, delta int64) {
	m.mu.Lock()
	m.inFlight[kind] += delta
	m.mu.Unlock()
}

func (m *Metrics) observe(kind Kind, code int, bytes int64, aborted bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[requestKey{kind, code}]++
	m.bytes[kind] += uint64(bytes)
	switch {
	case code >= 500:
		m.errors[errorKey{kind, reasonServer}]++
	case code >= 400:
		m.errors[errorKey{kind, reasonClient}]++
	}
	if aborted {
		m.errors[errorKey{kind, reasonAborted}]++
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

// WriteTo writes every counter in the Prometheus text format. Kinds that
// were never counted still appear, at zero, so that rates start from the
// first scrape.
func (m *Metrics) WriteTo(w io.Writer) (int64, error) {
	m.mu.Lock()
	requests := make([]requestKey, 0, len(m.requests))
	for k := range m.requests {
		requests = append(requests, k)
	}
	all := slices.Clone(kinds)
	for _, k := range requests {
		if !slices.Contains(all, k.kind) {
			all = append(all, k.kind)
		}
	}
	slices.Sort(all)
	slices.SortFunc(requests, func(a, b requestKey) int {
		if c := strings.Compare(string(a.kind), string(b.kind)); c != 0 {
			return c
		}
		return a.code - b.code
	})

	pw := newPromWriter(w)
	pw.family("paimirror_http_requests_total", "counter", "HTTP requests answered, by kind of content and status code.")
	for _, k := range requests {
		pw.sample("paimirror_http_requests_total", float64(m.requests[k]), "kind", string(k.kind), "code", strconv.Itoa(k.code))
	}
	pw.family("paimirror_http_response_bytes_total", "counter", "Response body bytes sent, by kind of content.")
	for _, k := range all {
		pw.sample("paimirror_http_response_bytes_total", float64(m.bytes[k]), "kind", string(k))
	}
	pw.family("paimirror_http_errors_total", "counter", `Failed requests, by kind and reason: "client" (4xx), "server" (5xx), "aborted" (body cut short).`)
	for _, k := range all {
		for _, reason := range []string{reasonAborted, reasonClient, reasonServer} {
			pw.sample("paimirror_http_errors_total", float64(m.errors[errorKey{k, reason}]), "kind", string(k), "reason", reason)
		}
	}
	pw.family("paimirror_http_requests_in_flight", "gauge", "Requests being answered, by kind.")
	for _, k := range all {
		pw.sample("paimirror_http_requests_in_flight", float64(m.inFlight[k]), "kind", string(k))
	}
	m.mu.Unlock()
	return pw.done()
}

// promWriter writes the Prometheus text format, remembering the first error.
type promWriter struct {
	w   *bufio.Writer
	cw  *countWriter
	err error
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

func newPromWriter(w io.Writer) *promWriter {
	cw := &countWriter{w: w}
	return &promWriter{w: bufio.NewWriter(cw), cw: cw}
}

func (p *promWriter) family(name, typ, help string) {
	p.printf("# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, typ)
}

// sample writes one sample; labels are name, value pairs.
func (p *promWriter) sample(name string, v float64, labels ...string) {
	var b strings.Builder
	b.WriteString(name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, "%s=\"%s\"", labels[i], escapeLabel(labels[i+1]))
		}
		b.WriteByte('}')
	}
	p.printf("%s %s\n", b.String(), strconv.FormatFloat(v, 'g', -1, 64))
}

func (p *promWriter) printf(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func (p *promWriter) done() (int64, error) {
	if p.err == nil {
		p.err = p.w.Flush()
	}
	return p.cw.n, p.err
}

// escapeLabel escapes a label value: backslash, double quote and newline.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// escapeHelp escapes HELP text: backslash and newline.
func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

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
// through the kernel (sendRegion).
func (r *recorder) ReadFrom(src io.Reader) (int64, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := sendRegion(r.ResponseWriter, src)
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
