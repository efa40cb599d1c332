package fileserver

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// failingWriter is a client that went away: every body write fails.
type failingWriter struct{ header http.Header }

func (w *failingWriter) Header() http.Header { return w.header }
func (w *failingWriter) WriteHeader(int)     {}
func (w *failingWriter) Write([]byte) (int, error) {
	return 0, errors.New("connection reset by peer")
}

func TestMetricsInstrument(t *testing.T) {
	for _, tc := range []struct {
		name    string
		head    bool
		w       http.ResponseWriter
		handler http.HandlerFunc
		want    []string
	}{
		{"HEAD counts no body", true, httptest.NewRecorder(), func(w http.ResponseWriter, r *http.Request) { http.Error(w, "not found", http.StatusNotFound) },
			[]string{`paimirror_http_requests_total{kind="blob",code="404"} 1`, `paimirror_http_response_bytes_total{kind="blob"} 0`}},
		{"implicit 200", false, httptest.NewRecorder(), func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello") },
			[]string{`paimirror_http_requests_total{kind="blob",code="200"} 1`, `paimirror_http_response_bytes_total{kind="blob"} 5`}},
		{"nothing written", false, httptest.NewRecorder(), func(w http.ResponseWriter, r *http.Request) {},
			[]string{`paimirror_http_requests_total{kind="blob",code="200"} 1`}},
		{"early hints then 200", false, httptest.NewRecorder(), func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusEarlyHints)
			w.WriteHeader(http.StatusOK)
		}, []string{`paimirror_http_requests_total{kind="blob",code="200"} 1`}},
		{"server error", false, httptest.NewRecorder(), func(w http.ResponseWriter, r *http.Request) { http.Error(w, "x", http.StatusServiceUnavailable) },
			[]string{`paimirror_http_requests_total{kind="blob",code="503"} 1`, `paimirror_http_errors_total{kind="blob",reason="server"} 1`}},
		{"client gone", false, &failingWriter{header: http.Header{}}, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "data") },
			[]string{`paimirror_http_errors_total{kind="blob",reason="aborted"} 1`, `paimirror_http_response_bytes_total{kind="blob"} 0`}},
		{"flush passes through", false, httptest.NewRecorder(), func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "x")
			if err := http.NewResponseController(w).Flush(); err != nil {
				panic(err)
			}
		}, []string{`paimirror_http_requests_total{kind="blob",code="200"} 1`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMetrics()
			h := m.Instrument(tc.handler, func(*http.Request) Kind { return KindBlob })
			method := http.MethodGet
			if tc.head {
				method = http.MethodHead
			}
			h.ServeHTTP(tc.w, httptest.NewRequest(method, "/v2/a/blobs/sha256:00", nil))
			var b bytes.Buffer
			if _, err := m.WriteTo(&b); err != nil {
				t.Fatal(err)
			}
			got, err := samples(b.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				i := strings.LastIndexByte(w, ' ')
				if v, ok := got[canonicalSeries(w[:i])]; !ok || strconv.FormatFloat(v, 'g', -1, 64) != w[i+1:] {
					t.Errorf("missing %q in\n%s", w, b.String())
				}
			}
		})
	}
}
