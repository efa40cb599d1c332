package badlink

import (
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"sync"
	"testing"
	"time"
)

// Kind says what a front did with a request.
type Kind string

// The kinds of requests a front records.
const (
	// Proxied: passed to the upstream as it came.
	Proxied Kind = "proxied"
	// Redirected: RedirectFront answered a blob GET with 307 to its CDN.
	Redirected Kind = "redirected"
	// CDNServed: the CDN passed a blob GET with an unexpired URL on to the
	// upstream.
	CDNServed Kind = "cdn-served"
	// CDNExpired: the CDN answered 403, the URL having expired.
	CDNExpired Kind = "cdn-expired"
	// CDNDenied: the CDN answered 403 to a URL it had not signed.
	CDNDenied Kind = "cdn-denied"
	// Challenged: TokenFront answered 401 to a request without a token it
	// issued.
	Challenged Kind = "challenged"
	// TokenExpired: TokenFront answered 401 to a request whose token had
	// expired.
	TokenExpired Kind = "token-expired"
	// TokenIssued: TokenFront's token endpoint issued a token.
	TokenIssued Kind = "token-issued"
	// RangeDropped: NoRangeFront passed a request on without its Range
	// header.
	RangeDropped Kind = "range-dropped"
	// Throttled: RetryAfterFront answered 429 with Retry-After.
	Throttled Kind = "throttled"
)

// Request is one request a front answered.
type Request struct {
	// Server is "front", or "cdn" for RedirectFront's CDN.
	Server string
	Kind   Kind
	Method string
	// Path is the request's URL path.
	Path string
	// Range is the request's Range header as it came ("" without one).
	Range string
	// Status is the response's status code.
	Status int
	// Bytes is the number of body bytes written to the client.
	Bytes int64
	// Err says why the response was cut short or is a 502 (the upstream's
	// error); "" otherwise.
	Err string
}

// FrontOption changes how a front reaches its upstream or keeps time.
type FrontOption func(*frontConfig)

type frontConfig struct {
	transport  http.RoundTripper
	user, pass string
	now        func() time.Time
	manifests  bool
}

// WithTransport sets the transport the front reaches its upstream with
// (default: no proxy, no compression). Reg.FrontOptions gives the
// registry's.
func WithTransport(rt http.RoundTripper) FrontOption {
	return func(c *frontConfig) { c.transport = rt }
}

// WithBasicAuth makes the front send these credentials to its upstream on
// every request that carries none of its own (TokenFront: on every
// request). Default: none.
func WithBasicAuth(username, password string) FrontOption {
	return func(c *frontConfig) { c.user, c.pass = username, password }
}

// WithClock sets the clock that URL and token expiry are judged by
// (default time.Now), so a test can move past a TTL without waiting.
func WithClock(now func() time.Time) FrontOption {
	return func(c *frontConfig) { c.now = now }
}

// WithManifests makes RetryAfterFront throttle manifest GETs
// (/v2/NAME/manifests/REF) instead of blob GETs: Docker Hub counts its pull
// limit on manifests, so that is where its 429s come.
func WithManifests() FrontOption {
	return func(c *frontConfig) { c.manifests = true }
}

// Front is an HTTP server on a loopback port standing in for an internet
// behaviour in front of an upstream (usually a registry): each of
// RedirectFront, TokenFront, NoRangeFront and RetryAfterFront makes one.
// It records every request it answers. It is safe for concurrent use, and
// closed when the test ends.
type Front struct {
	// URL is the front's base URL, http://127.0.0.1:PORT.
	URL *url.URL
	// Host is URL's host:port.
	Host string
	// CDN is the base URL of RedirectFront's CDN server (nil for the other
	// fronts).
	CDN *url.URL

	upstream *url.URL
	cfg      frontConfig
	proxy    *httputil.ReverseProxy

	mu   sync.Mutex
	reqs []Request
}

// blobPath matches a blob URL path, /v2/NAME/blobs/sha256:HEX;
// manifestPath a manifest's, /v2/NAME/manifests/REF.
var (
	blobPath     = regexp.MustCompile(`^/v2/(.+)/blobs/(sha256:[0-9a-f]{64})$`)
	manifestPath = regexp.MustCompile(`^/v2/(.+)/manifests/([^/]+)$`)
)

// newFront makes a front for upstream; start serves it.
func newFront(upstream *url.URL, opts []FrontOption) *Front {
	f := &Front{upstream: upstream}
	for _, o := range opts {
		o(&f.cfg)
	}
	if f.cfg.transport == nil {
		f.cfg.transport = &http.Transport{Proxy: nil, DisableCompression: true, MaxIdleConnsPerHost: 16}
	}
	if f.cfg.now == nil {
		f.cfg.now = time.Now
	}
	f.proxy = &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(f.upstream)
			// Locations the upstream builds point back at the front.
			pr.SetXForwarded()
		},
		Transport:     f.cfg.transport,
		FlushInterval: -1,
		ErrorLog:      log.New(io.Discard, "", 0),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if rec, ok := w.(*recorder); ok {
				rec.err = err
			}
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	return f
}

// start serves h on a new loopback httptest server, recording each
// request as the handler decides (server names it in the record), and
// closes it when the test ends.
func (f *Front) start(t testing.TB, server string, h func(w *recorder, r *http.Request)) *url.URL {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recorder{ResponseWriter: w, status: http.StatusOK, kind: Proxied}
		rng := r.Header.Get("Range")
		defer func() {
			p := recover()
			e := Request{Server: server, Kind: rec.kind, Method: r.Method, Path: r.URL.Path, Range: rng, Status: rec.status, Bytes: rec.bytes}
			if rec.err != nil {
				e.Err = rec.err.Error()
			}
			if p != nil && e.Err == "" {
				e.Err = "response aborted"
			}
			f.mu.Lock()
			f.reqs = append(f.reqs, e)
			f.mu.Unlock()
			if p != nil {
				panic(p)
			}
		}()
		h(rec, r)
	}))
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	t.Cleanup(s.Close)
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// pass sends r on to the upstream, with the configured credentials when r
// carries none (or always, with replaceAuth, after dropping r's own).
func (f *Front) pass(w *recorder, r *http.Request, replaceAuth bool) {
	if replaceAuth {
		r.Header.Del("Authorization")
	}
	if f.cfg.user != "" && r.Header.Get("Authorization") == "" {
		r.SetBasicAuth(f.cfg.user, f.cfg.pass)
	}
	f.proxy.ServeHTTP(w, r)
}

// Requests returns the requests the front (and its CDN) has answered, in
// the order they ended.
func (f *Front) Requests() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.reqs...)
}

// Count returns how many of the requests answered were of kind k.
func (f *Front) Count(k Kind) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, r := range f.reqs {
		if r.Kind == k {
			n++
		}
	}
	return n
}

// recorder is the http.ResponseWriter a front's handler writes to: it
// keeps the status, the body bytes and the kind the handler gives the
// request, and passes flushes on.
type recorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	bytes       int64
	kind        Kind
	err         error
}

func (w *recorder) WriteHeader(code int) {
	if !w.wroteHeader && code >= 200 {
		w.status, w.wroteHeader = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recorder) Write(p []byte) (int, error) {
	w.wroteHeader = true
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	if err != nil && w.err == nil {
		w.err = err
	}
	return n, err
}

// Flush sends what is buffered to the client.
func (w *recorder) Flush() {
	if err := http.NewResponseController(w.ResponseWriter).Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) && w.err == nil {
		w.err = err
	}
}

// Unwrap returns the server's ResponseWriter, for http.ResponseController.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// NoRangeFront proxies everything to upstream without the Range (and
// If-Range) header, as a server or middlebox that ignores ranges: every
// ranged GET gets 200 and the whole body. Those requests are recorded as
// RangeDropped, with the Range they came with.
func NoRangeFront(t testing.TB, upstream *url.URL, opts ...FrontOption) *Front {
	t.Helper()
	f := newFront(upstream, opts)
	f.URL = f.start(t, "front", func(w *recorder, r *http.Request) {
		if r.Header.Get("Range") != "" {
			w.kind = RangeDropped
		}
		r.Header.Del("Range")
		r.Header.Del("If-Range")
		f.pass(w, r, false)
	})
	f.Host = f.URL.Host
	return f
}

// RetryAfterFront answers the first n blob GETs (/v2/NAME/blobs/DIGEST),
// or with WithManifests the first n manifest GETs, with 429 Too Many
// Requests and "Retry-After: S", S being after in whole seconds, rounded
// up; those are recorded as Throttled. Everything else, and every such GET
// after those, is proxied to upstream.
func RetryAfterFront(t testing.TB, upstream *url.URL, n int, after time.Duration, opts ...FrontOption) *Front {
	t.Helper()
	f := newFront(upstream, opts)
	retryAfter := int64((after + time.Second - 1) / time.Second)
	var mu sync.Mutex
	throttled := 0
	throttles := blobPath
	if f.cfg.manifests {
		throttles = manifestPath
	}
	f.URL = f.start(t, "front", func(w *recorder, r *http.Request) {
		if r.Method == http.MethodGet && throttles.MatchString(r.URL.Path) {
			mu.Lock()
			throttle := throttled < n
			if throttle {
				throttled++
			}
			mu.Unlock()
			if throttle {
				w.kind = Throttled
				w.Header().Set("Retry-After", formatInt(retryAfter))
				registryError(w, http.StatusTooManyRequests, "TOOMANYREQUESTS", "too many requests")
				return
			}
		}
		f.pass(w, r, false)
	})
	f.Host = f.URL.Host
	return f
}
