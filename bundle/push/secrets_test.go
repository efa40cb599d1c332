package push_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest/badlink"
	"github.com/paimirror/paimirror/bundle/push"
)

// TestParseTargetHidesCredentials: a registry address given with a
// password (or a token in a query) is refused with an error that says
// where credentials go, and does not repeat them.
func TestParseTargetHidesCredentials(t *testing.T) {
	for _, in := range []string{
		"robot:PUSHPASSWORD@harbor.lab/openpai",
		"https://robot:PUSHPASSWORD@harbor.lab",
		"PUSHPASSWORD@harbor.lab",
		"harbor.lab/openpai?token=PUSHPASSWORD",
	} {
		_, err := push.ParseTarget(in, false)
		if err == nil {
			t.Errorf("ParseTarget(%q) took it", in)
			continue
		}
		if strings.Contains(err.Error(), "PUSHPASSWORD") {
			t.Errorf("ParseTarget(%q): the error repeats the credential: %v", in, err)
		}
		if strings.Contains(in, "@") && !strings.Contains(err.Error(), "--password-stdin") {
			t.Errorf("ParseTarget(%q): the error does not say where credentials go: %v", in, err)
		}
	}
}

// TestPushHidesUploadState pushes to distribution's registry through a
// front that resets the connection of the first blob PUT, so the attempt
// fails with net/http's error naming the upload's URL and is retried. The
// registry's upload URL carries a signed state in its query (_state); no
// retry event, debug log record or error shows it, and the push succeeds.
func TestPushHidesUploadState(t *testing.T) {
	b := threeBundle(t)
	reg := badlink.Registry(t, badlink.RegistryOptions{})
	upstream, _ := url.Parse("http://" + reg.Host)
	proxy := httputil.NewSingleHostReverseProxy(upstream)
	var mu sync.Mutex
	var states []string
	var resets atomic.Int64
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s := r.URL.Query().Get("_state"); s != "" {
			mu.Lock()
			states = append(states, s)
			mu.Unlock()
		}
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/") && resets.Add(1) == 1 {
			c, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(front.Close)

	target, err := push.ParseTarget(strings.TrimPrefix(front.URL, "http://")+"/lab", true)
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	var retries []string
	_, err = push.Push(t.Context(), b, target, push.Options{
		Auth: authn.Anonymous, Jobs: 1,
		Logger: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Progress: func(e bundle.Event) {
			if e.Kind == bundle.EventRetry {
				retries = append(retries, fmt.Sprintf("%s %s: %v", e.Item, e.Source, e.Err))
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	shown := log.String() + "\n" + strings.Join(retries, "\n")
	if len(retries) == 0 || !strings.Contains(shown, "_state=REDACTED") {
		t.Fatalf("no retry of the reset upload named its URL:\n%s", shown)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(states) == 0 {
		t.Fatal("the registry gave no upload state")
	}
	for _, s := range states {
		if strings.Contains(shown, s) {
			t.Fatalf("the upload state %s is shown:\n%s", s, shown)
		}
	}
}
