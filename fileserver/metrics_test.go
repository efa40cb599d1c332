package fileserver_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/fileserver"
)

// scrape fetches /metrics and returns every sample by its series
// ("name{labels}", labels sorted: look series up with canon) and the raw
// text.
func scrape(t *testing.T, addr string) (map[string]float64, []byte) {
	t.Helper()
	r := get(t, http.MethodGet, addr, "/metrics")
	if r.code != http.StatusOK || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain; version=0.0.4") ||
		r.header.Get("Cache-Control") != "no-store" || r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("/metrics: %d %q", r.code, r.header)
	}
	out, err := fileserver.Samples(r.body)
	if err != nil {
		t.Fatalf("/metrics: %v\n%s", err, r.body)
	}
	return out, r.body
}

// canon is a series with its labels in the order scrape keys them by.
func canon(series string) string { return fileserver.CanonicalSeries(series) }

// TestMetricsCount downloads files, makes some errors, and checks /metrics
// counts exactly those requests and bytes.
func TestMetricsCount(t *testing.T) {
	b := defaultBundle(t)
	_, addr := start(t)
	before, _ := scrape(t, addr)
	for _, k := range []string{"file", "page", "blob", "manifest", "api"} {
		s := `paimirror_http_response_bytes_total{kind="` + k + `"}`
		if v, ok := before[canon(s)]; !ok || (k != "page" && v != 0) {
			t.Errorf("%s = %v, %v; want present, and 0 before any request", s, v, ok)
		}
	}

	var fileBytes int64
	gets := 0
	for _, f := range b.Lock.Files {
		r := get(t, http.MethodGet, addr, f.Paths[0])
		fileBytes += int64(len(r.body))
		gets++
	}
	r := get(t, http.MethodGet, addr, kubeadm, "Range: bytes=0-99")
	fileBytes += int64(len(r.body))
	get(t, http.MethodHead, addr, kubeadm) // HEAD: no body bytes
	get(t, http.MethodGet, addr, "/no/such/file")
	get(t, http.MethodGet, addr, "/../etc/passwd")
	get(t, http.MethodDelete, addr, kubeadm)
	page := get(t, http.MethodGet, addr, "/")

	after, _ := scrape(t, addr)
	want := map[string]float64{
		`paimirror_http_requests_total{kind="file",code="200"}`:                                                         float64(gets + 1),
		`paimirror_http_requests_total{kind="file",code="206"}`:                                                         1,
		`paimirror_http_requests_total{kind="file",code="404"}`:                                                         2,
		`paimirror_http_requests_total{kind="file",code="405"}`:                                                         1,
		`paimirror_http_errors_total{kind="file",reason="client"}`:                                                      3,
		`paimirror_http_errors_total{kind="file",reason="server"}`:                                                      0,
		`paimirror_http_errors_total{kind="file",reason="aborted"}`:                                                     0,
		`paimirror_http_requests_in_flight{kind="file"}`:                                                                0,
		`paimirror_bundle_files`:                                                                                        float64(len(b.Lock.Files)),
		`paimirror_bundle_images`:                                                                                       float64(len(b.Lock.Images)),
		`paimirror_bundle_size_bytes`:                                                                                   float64(b.Size),
		`paimirror_http_requests_total{kind="page",code="200"}`:                                                         before[canon(`paimirror_http_requests_total{kind="page",code="200"}`)] + 2,
		`paimirror_http_requests_in_flight{kind="page"}`:                                                                1, // this scrape
		`paimirror_bundle_created_timestamp_seconds`:                                                                    float64(b.Lock.Created.Unix()),
		`paimirror_bundle_info{manifest="openpai-v1.8.0",tool_version="` + b.Lock.ToolVersion + `",format_version="1"}`: 1,
	}
	for s, v := range want {
		if got, ok := after[canon(s)]; !ok || got != v {
			t.Errorf("%s = %v (present %v), want %v", s, got, ok, v)
		}
	}
	// The 404 and 405 bodies are bytes too.
	if got := after[canon(`paimirror_http_response_bytes_total{kind="file"}`)]; got < float64(fileBytes) || got > float64(fileBytes)+1000 {
		t.Errorf("file bytes %v, want %d plus the error bodies", got, fileBytes)
	}
	pageBytes := after[canon(`paimirror_http_response_bytes_total{kind="page"}`)] - before[canon(`paimirror_http_response_bytes_total{kind="page"}`)]
	if pageBytes < float64(len(page.body)) {
		t.Errorf("page bytes grew by %v, less than the index page's %d", pageBytes, len(page.body))
	}
}

// TestMetricsPromtool checks /metrics, with every kind of sample present,
// with Prometheus's own linter (promtool, from Debian's prometheus package).
func TestMetricsPromtool(t *testing.T) {
	promtool := bundletest.Tool(t, "promtool")
	_, addr := start(t)
	get(t, http.MethodGet, addr, kubeadm)
	get(t, http.MethodGet, addr, "/no/such/file")
	_, text := scrape(t, addr)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, promtool, "check", "metrics")
	cmd.Stdin = bytes.NewReader(text)
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s\n%s", err, msg, text)
	}
}

// TestMetricsRegistryKinds routes requests through Server.Handler to a
// stand-in registry and checks each lands under its kind.
func TestMetricsRegistryKinds(t *testing.T) {
	s := fileserver.New(defaultBundle(t))
	reg := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch fileserver.RegistryKind(r) {
		case fileserver.KindBlob:
			io.WriteString(w, strings.Repeat("b", 1000))
		case fileserver.KindManifest:
			http.Error(w, "manifest unknown", http.StatusNotFound)
		default:
			w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
			io.WriteString(w, "{}")
		}
	})
	ts := httptest.NewServer(s.Handler(reg))
	defer ts.Close()
	addr := strings.TrimPrefix(ts.URL, "http://")
	for _, p := range []string{
		"/v2/",
		"/v2",
		"/v2/library/busybox/blobs/sha256:" + strings.Repeat("a", 64),
		"/v2/gcr.io/google-containers/kube-apiserver/blobs/sha256:" + strings.Repeat("b", 64),
		"/v2/library/busybox/manifests/1.31.1",
		"/v2/library/busybox/tags/list",
	} {
		get(t, http.MethodGet, addr, p)
	}
	got, _ := scrape(t, addr)
	for s, v := range map[string]float64{
		`paimirror_http_requests_total{kind="blob",code="200"}`:        2,
		`paimirror_http_response_bytes_total{kind="blob"}`:             2000,
		`paimirror_http_requests_total{kind="manifest",code="404"}`:    1,
		`paimirror_http_errors_total{kind="manifest",reason="client"}`: 1,
		`paimirror_http_requests_total{kind="api",code="200"}`:         3,
		`paimirror_http_requests_total{kind="file",code="200"}`:        0,
	} {
		if got[canon(s)] != v {
			t.Errorf("%s = %v, want %v", s, got[canon(s)], v)
		}
	}
}

func TestRegistryKind(t *testing.T) {
	for _, tc := range []struct {
		path string
		want fileserver.Kind
	}{
		{"/v2/", fileserver.KindAPI},
		{"/v2", fileserver.KindAPI},
		{"/v2/_catalog", fileserver.KindAPI},
		{"/v2/library/busybox/tags/list", fileserver.KindAPI},
		{"/v2/library/busybox/manifests/1.31.1", fileserver.KindManifest},
		{"/v2/quay.io/coreos/etcd/manifests/sha256:" + strings.Repeat("0", 64), fileserver.KindManifest},
		{"/v2/library/busybox/blobs/sha256:" + strings.Repeat("0", 64), fileserver.KindBlob},
		{"/v2/lab/job/blobs/uploads/", fileserver.KindAPI},
		{"/v2/lab/job/blobs/uploads/0f9a-uuid", fileserver.KindAPI},
		{"/v2/a/blobs/b/manifests/v1", fileserver.KindManifest},
		{"/v2/manifests/x", fileserver.KindAPI},
	} {
		t.Run(tc.path, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if got := fileserver.RegistryKind(r); got != tc.want {
				t.Errorf("RegistryKind(%s) = %s, want %s", tc.path, got, tc.want)
			}
		})
	}
}

// TestMetricsConcurrent downloads from many clients at once and checks
// nothing is lost (run with -race).
func TestMetricsConcurrent(t *testing.T) {
	s, ts := startServer(t)
	addr := strings.TrimPrefix(ts.URL, "http://")
	const clients, each = 50, 4
	size := fileSize(t, kubeadm)
	var wg sync.WaitGroup
	errs := make(chan error, clients*each)
	for range clients {
		wg.Go(func() {
			for range each {
				resp, err := loopback.Get(url(addr, kubeadm))
				if err != nil {
					errs <- err
					return
				}
				n, _ := io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || n != size {
					errs <- &statusError{resp.StatusCode, n}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	// A client may have read a whole body before its handler returned and
	// was counted: wait for every handler.
	ts.Close()
	var buf bytes.Buffer
	if _, err := s.Metrics().WriteTo(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := fileserver.Samples(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for series, want := range map[string]float64{
		`paimirror_http_requests_total{kind="file",code="200"}`: clients * each,
		`paimirror_http_response_bytes_total{kind="file"}`:      float64(clients * each * size),
	} {
		if got[canon(series)] != want {
			t.Errorf("%s = %v, want %v:\n%s", series, got[canon(series)], want, buf.String())
		}
	}
}

type statusError struct {
	code int
	n    int64
}

func (e *statusError) Error() string {
	return "status " + strconv.Itoa(e.code) + ", " + strconv.FormatInt(e.n, 10) + " bytes"
}
