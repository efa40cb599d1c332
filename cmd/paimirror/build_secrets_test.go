package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
	"github.com/paimirror/paimirror/manifests"
)

// presignedQuery is the query of a CDN URL as S3 signs it: its values are
// credentials.
const presignedQuery = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIASECRETCRED%2F20260102&X-Amz-Signature=SECRETSIGNATURE"

// buildSecrets are what build must never print, log or store.
var buildSecrets = []string{"AKIASECRETCRED", "SECRETSIGNATURE", "MIRRORPASSWORD"}

var blobGet = regexp.MustCompile(`^/v2/.+/blobs/sha256:[0-9a-f]{64}$`)

// loopbackServer serves h on 127.0.0.1 until the test ends.
func loopbackServer(t *testing.T, h http.Handler) *url.URL {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// resetConn ends a request by resetting its connection, unanswered.
func resetConn(w http.ResponseWriter) {
	c, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(err)
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}

// TestBuildHidesCredentials runs `build -v` (not on a terminal, so each
// retry is a line) against an upstream reached through two mirrors that
// carry credentials: a registry whose blob GETs redirect to a CDN at a
// presigned URL, the CDN resetting every connection (the next registry
// mirror serves the blobs), and a file mirror given with a password in
// its URL that answers 503 once. The build succeeds; neither its output
// nor its debug log nor the lock it writes holds the signature, the
// credential or the password, while the CDN and the mirror are still
// named.
func TestBuildHidesCredentials(t *testing.T) {
	m, err := manifests.Parse("secrets.yaml", []byte(`name: secrets
images:
  - ref: docker.io/library/busybox:1.31.1
files:
  - url: https://storage.googleapis.com/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm
    sha256: 2ebc93a6f64419e5e7f26a4674c6784463c7b2a51c0afe8ec2c0423471e7cec3
    paths: [/k8s-share/kubeadm]
`))
	if err != nil {
		t.Fatal(err)
	}
	up, err := bundletest.Start(m, bundletest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(up.Close)
	registry, _ := url.Parse(up.Registry.URL)
	files, _ := url.Parse(up.Files.URL)

	var cdnHits atomic.Int64
	cdn := loopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cdnHits.Add(1)
		resetConn(w)
	}))
	toRegistry := httputil.NewSingleHostReverseProxy(registry)
	front := loopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && blobGet.MatchString(r.URL.Path) {
			http.Redirect(w, r, cdn.String()+r.URL.Path+"?"+presignedQuery, http.StatusTemporaryRedirect)
			return
		}
		toRegistry.ServeHTTP(w, r)
	}))
	var fileHits atomic.Int64
	toFiles := httputil.NewSingleHostReverseProxy(files)
	fileMirror := loopbackServer(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fileHits.Add(1) == 1 {
			w.Header().Set("Retry-After", "0")
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		toFiles.ServeHTTP(w, r)
	}))

	dir := t.TempDir()
	mf := filepath.Join(dir, "secrets.yaml")
	if err := os.WriteFile(mf, []byte(manifestYAML(t, up.Pin(m))), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "b.tar")
	// -v's log records and the progress lines are written from several
	// goroutines, as to a terminal.
	var stdout, stderr testenv.Buffer
	code := run(context.Background(), []string{"build", "-v", "-f", mf, "-o", out,
		"--mirror", "docker.io=http://" + front.Host + "/docker.io",
		"--mirror", "docker.io=http://" + registry.Host + "/docker.io",
		"--mirror", "https://storage.googleapis.com=http://mirror:MIRRORPASSWORD@" + fileMirror.Host + "/storage.googleapis.com",
	}, &stdout, &stderr)
	shown := stdout.String() + stderr.String()
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, shown)
	}
	if cdnHits.Load() == 0 || fileHits.Load() < 2 {
		t.Fatalf("the CDN was asked %d times, the file mirror %d: want the paths with credentials taken", cdnHits.Load(), fileHits.Load())
	}
	b, err := bundle.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	lock, err := json.Marshal(b.Lock)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range buildSecrets {
		if strings.Contains(shown, s) {
			t.Errorf("build printed %s:\n%s", s, shown)
		}
		if strings.Contains(string(lock), s) {
			t.Errorf("the lock holds %s: %s", s, lock)
		}
	}
	for _, s := range []string{cdn.String() + "/v2/docker.io/library/busybox/blobs/sha256:", "X-Amz-Signature=REDACTED", "mirror:xxxxx@" + fileMirror.Host} {
		if !strings.Contains(shown, s) {
			t.Errorf("build did not name %q:\n%s", s, shown)
		}
	}
}
