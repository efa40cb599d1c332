package fileserver_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/fileserver"
)

// countingStandIn stands in for the registry, a CountingHandler: it
// answers with a fixed status and body, reports them through count
// (aborted when it is to cut the body short) and notes whether the
// ResponseWriter it was given was wrapped by another recorder.
type countingStandIn struct {
	wrapped chan bool
}

func (c *countingStandIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.wrapped <- true
	http.Error(w, "ServeHTTP was called; a CountingHandler is to be served through ServeCounted", http.StatusTeapot)
}

func (c *countingStandIn) ServeCounted(w http.ResponseWriter, r *http.Request, count func(int, int64, bool)) {
	_, wrapped := w.(interface{ Unwrap() http.ResponseWriter })
	c.wrapped <- wrapped
	switch {
	case strings.Contains(r.URL.Path, "/manifests/"):
		w.WriteHeader(http.StatusNotFound)
		count(http.StatusNotFound, 0, false)
	case strings.HasSuffix(r.URL.Path, "cut"):
		count(http.StatusOK, 0, true)
		panic(http.ErrAbortHandler)
	default:
		n, _ := io.WriteString(w, strings.Repeat("b", 1000))
		count(http.StatusOK, int64(n), false)
	}
}

// TestMetricsCountingHandler routes registry requests through
// Server.Handler to a CountingHandler: each is served through ServeCounted
// on the client's own ResponseWriter (no second recorder around it) and
// counted as it reports, a handler that panics included.
func TestMetricsCountingHandler(t *testing.T) {
	s := fileserver.New(defaultBundle(t))
	reg := &countingStandIn{wrapped: make(chan bool, 10)}
	ts := httptest.NewServer(s.Handler(reg))
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")
	blob := "/v2/library/busybox/blobs/sha256:" + strings.Repeat("a", 64)
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	for _, p := range []string{blob, blob, "/v2/library/busybox/manifests/1.31.1", "/v2/library/busybox/blobs/sha256:cut"} {
		// Go's client, not curl: the last one gets no answer at all. A
		// new connection for each, or the client would retry it.
		if resp, err := client.Get(url(addr, p)); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if <-reg.wrapped {
			t.Errorf("%s: the registry was given a wrapped ResponseWriter, or served through ServeHTTP", p)
		}
	}
	got, _ := scrape(t, addr)
	for series, v := range map[string]float64{
		`paimirror_http_requests_total{kind="blob",code="200"}`:        3,
		`paimirror_http_response_bytes_total{kind="blob"}`:             2000,
		`paimirror_http_errors_total{kind="blob",reason="aborted"}`:    1,
		`paimirror_http_requests_total{kind="manifest",code="404"}`:    1,
		`paimirror_http_errors_total{kind="manifest",reason="client"}`: 1,
		`paimirror_http_requests_in_flight{kind="blob"}`:               0,
	} {
		if got[canon(series)] != v {
			t.Errorf("%s = %v, want %v", series, got[canon(series)], v)
		}
	}
}
