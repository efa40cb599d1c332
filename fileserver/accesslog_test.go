package fileserver_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/fileserver"
)

// TestAccessLogEveryKind: with the access log on, every request, whatever
// its kind, is one Info record with its method, path, status, bytes and
// kind; a registry that counts itself (a CountingHandler) is logged once
// too. Off, nothing is logged at Info.
func TestAccessLogEveryKind(t *testing.T) {
	reqs := []struct {
		method, path, kind, status string
	}{
		{http.MethodGet, kubeadm, "file", "200"},
		{http.MethodHead, kubeadm, "file", "200"},
		{http.MethodGet, "/no/such/file", "file", "404"},
		{http.MethodGet, "/config.txt", "page", "200"},
		{http.MethodGet, "/healthz", "page", "200"},
		{http.MethodGet, "/metrics", "page", "200"},
		{http.MethodGet, "/pypi/simple/", "pypi", "200"},
		{http.MethodGet, "/v2/library/busybox/blobs/sha256:" + strings.Repeat("a", 64), "blob", "200"},
		{http.MethodGet, "/v2/library/busybox/manifests/1.31.1", "manifest", "404"},
	}
	for _, on := range []bool{true, false} {
		var log bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelInfo}))
		s := fileserver.New(defaultBundle(t), fileserver.WithLogger(logger), fileserver.WithAccessLog(on))
		ts := httptest.NewServer(s.Handler(&countingStandIn{wrapped: make(chan bool, len(reqs))}))
		addr := strings.TrimPrefix(ts.URL, "http://")
		for _, r := range reqs {
			get(t, r.method, addr, r.path)
		}
		ts.Close() // waits for every handler: every record is written, and read after
		lines := strings.Split(strings.TrimSpace(log.String()), "\n")
		if !on {
			if strings.Contains(log.String(), "msg=request") {
				t.Errorf("access log off, yet:\n%s", log.String())
			}
			continue
		}
		for _, r := range reqs {
			n := 0
			for _, l := range lines {
				if strings.Contains(l, "level=INFO msg=request method="+r.method+" path="+r.path+" status="+r.status+" ") &&
					strings.Contains(l, " kind="+r.kind) {
					n++
				}
			}
			if want := 1; r.method == http.MethodGet && r.path == kubeadm && n != want {
				t.Errorf("%s %s: %d records, want %d:\n%s", r.method, r.path, n, want, log.String())
			} else if n == 0 {
				t.Errorf("%s %s: no record of kind %s, status %s:\n%s", r.method, r.path, r.kind, r.status, log.String())
			}
		}
		if got, want := strings.Count(log.String(), "msg=request"), len(reqs); got != want {
			t.Errorf("%d access log records for %d requests:\n%s", got, want, log.String())
		}
	}
}

// TestMetricsPyPI counts the package index's requests as kind pypi and
// reports the bundle's Python files.
func TestMetricsPyPI(t *testing.T) {
	_, addr := start(t)
	for _, p := range []string{"/pypi/simple/", "/pypi/simple/jinja2/"} {
		if r := get(t, http.MethodGet, addr, p); r.code != http.StatusOK {
			t.Fatalf("%s: %d", p, r.code)
		}
	}
	got, _ := scrape(t, addr)
	if n := got[canon(`paimirror_http_requests_total{kind="pypi",code="200"}`)]; n != 2 {
		t.Errorf("%v pypi requests counted, want 2", n)
	}
	if n := got[`paimirror_bundle_python_files`]; n != float64(len(defaultBundle(t).Lock.PythonFiles())) {
		t.Errorf("paimirror_bundle_python_files = %v", n)
	}
}

// TestAccessLogHidesCredentials: the access log names each request's path
// and query keys, but no query value that can be a credential (a token a
// client put in the URL, a registry upload's signed _state) and never the
// client's Authorization header; the registry API's own keys (n, last,
// digest, mount, from) keep their values.
func TestAccessLogHidesCredentials(t *testing.T) {
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	s := fileserver.New(defaultBundle(t), fileserver.WithLogger(logger), fileserver.WithAccessLog(true))
	ts := httptest.NewServer(s.Handler(&countingStandIn{wrapped: make(chan bool, 4)}))
	addr := strings.TrimPrefix(ts.URL, "http://")
	get(t, http.MethodGet, addr, kubeadm+"?token=QUERYSECRET", "Authorization: Bearer AUTHSECRET")
	get(t, http.MethodGet, addr, "/v2/lab/x/blobs/uploads/u1?_state=STATESECRET&digest=sha256:abc", "Authorization: Basic QkFTSUNTRUNSRVQ=")
	get(t, http.MethodGet, addr, "/v2/_catalog?n=100&last=lab/x")
	ts.Close()
	out := log.String()
	for _, s := range []string{"QUERYSECRET", "AUTHSECRET", "STATESECRET", "QkFTSUNTRUNSRVQ"} {
		if strings.Contains(out, s) {
			t.Errorf("the access log holds %s:\n%s", s, out)
		}
	}
	for _, s := range []string{"path=\"" + kubeadm + "?token=REDACTED\"", "path=\"/v2/lab/x/blobs/uploads/u1?_state=REDACTED&digest=sha256:abc\"", "path=\"/v2/_catalog?n=100&last=lab/x\""} {
		if !strings.Contains(out, s) {
			t.Errorf("the access log lacks %s:\n%s", s, out)
		}
	}
}
