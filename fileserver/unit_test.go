package fileserver

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestRequestPath(t *testing.T) {
	for _, tc := range []struct {
		target string
		want   string // "" for refused
	}{
		{"/a/b", "/a/b"},
		{"/a/b?x=../../y", "/a/b"},
		{"/a%20b", "/a b"},
		{"/%61/b", "/a/b"},
		{"/a/../b", "/a/../b"}, // passed on uncleaned: it matches no lock path
		{"//a", "//a"},
		{"/a%2fb", ""},
		{"/a%2Fb", ""},
		{"/%2e%2e/a", ""},
		{"/a%5cb", ""},
		{"/a%00", ""},
		{"/a%0a", ""},
		{"/a%7f", ""},
		{`/a\b`, ""},
		{"*", ""},
		{"http://h/a/b", "/a/b"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			u, err := url.ParseRequestURI(tc.target)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := requestPath(u)
			if (tc.want == "") == ok || got != tc.want {
				t.Errorf("requestPath(%q) = %q, %v; want %q", tc.target, got, ok, tc.want)
			}
		})
	}
	if _, ok := requestPath(&url.URL{Opaque: "x"}); ok {
		t.Error("an opaque URL was accepted")
	}
}

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

func TestYAMLQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"10.0.0.1:5000/gcr.io/google-containers", `"10.0.0.1:5000/gcr.io/google-containers"`},
		{"x/pause-{{ image_arch }}", `"x/pause-{{ image_arch }}"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"a\tb", `"a\x09b"`},
	} {
		if got := yamlQuote(tc.in); got != tc.want {
			t.Errorf("yamlQuote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestContentType(t *testing.T) {
	for p, want := range map[string]string{
		"/raw.githubusercontent.com/NVIDIA/k8s-device-plugin/1.0.0-beta4/nvidia-device-plugin.yml": "application/yaml; charset=utf-8",
		"/x/k8s-ds-amdgpu-dp.yaml": "application/yaml; charset=utf-8",
		"/github.com/containernetworking/plugins/releases/download/v0.8.1/cni-plugins-linux-amd64-v0.8.1.tgz": "application/gzip",
		"/storage.googleapis.com/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm":                 "application/octet-stream",
		"/x/index.html": "application/octet-stream",
	} {
		if got := contentType(p); got != want {
			t.Errorf("contentType(%s) = %q, want %q", p, got, want)
		}
	}
}
