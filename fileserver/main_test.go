package fileserver_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/fileserver"
)

func TestMain(m *testing.M) { os.Exit(bundletest.RunTests(m)) }

// kubeadm is a file of the default bundle, at its k8s-share path.
const kubeadm = "/k8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm"

// defaultBundle returns the bundle of manifests.Default() built once per
// test binary and shared (read-only) by every test.
func defaultBundle(t testing.TB) *bundle.Bundle {
	t.Helper()
	return bundletest.DefaultBundle(t).Bundle
}

// start serves the shared bundle on 127.0.0.1:0, with no registry, and
// returns the server and its HOST:PORT.
func start(t *testing.T, opts ...fileserver.Option) (*fileserver.Server, string) {
	t.Helper()
	s, ts := startServer(t, opts...)
	return s, strings.TrimPrefix(ts.URL, "http://")
}

// startServer is start, with the test server itself: its Close waits for
// every handler, so what they record afterwards is complete.
func startServer(t *testing.T, opts ...fileserver.Option) (*fileserver.Server, *httptest.Server) {
	t.Helper()
	s := fileserver.New(defaultBundle(t), opts...)
	ts := httptest.NewServer(s.Handler(http.NotFoundHandler()))
	t.Cleanup(ts.Close)
	return s, ts
}

// response is what a client got.
type response struct {
	code   int
	header http.Header
	body   []byte
}

// get sends one request to the server at addr with Go's client (no proxy;
// the path is sent as given, never cleaned), headers as "Name: value"
// pairs, and returns the answer.
func get(t *testing.T, method, addr, path string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, url(addr, path), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range header {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	resp, err := loopback.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: body}
}

// loopback is the tests' client: loopback only, no proxy.
var loopback = &http.Client{Transport: bundletest.LoopbackTransport()}

func url(addr, p string) string { return fmt.Sprintf("http://%s%s", addr, p) }

// fileSize returns the size of the lock's file served at path p.
func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	for _, f := range defaultBundle(t).Lock.Files {
		if slices.Contains(f.Paths, p) {
			return f.Size
		}
	}
	t.Fatalf("no file of the bundle is served at %s", p)
	return 0
}
