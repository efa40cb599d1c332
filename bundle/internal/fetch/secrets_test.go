package fetch_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/paimirror/paimirror/bundle/internal/fetch"
)

// presigned is the query of a CDN URL as S3 signs it; its values are
// credentials.
const presigned = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIASECRETCRED%2F20260102&X-Amz-Signature=SECRETSIGNATURE"

// secrets are what must appear in no event, log record, error or result.
var secrets = []string{"AKIASECRETCRED", "SECRETSIGNATURE", "MIRRORPASSWORD"}

// dropFirst answers request n (from 0) of h by resetting the connection
// without a response while drop(n) says so: net/http's client then fails
// with a *url.Error that names the URL it asked for, query and all (a
// failure worth retrying).
type dropFirst struct {
	h    http.Handler
	drop func(n int) bool
	n    atomic.Int64
}

func (d *dropFirst) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if d.drop(int(d.n.Add(1) - 1)) {
		if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0) // close with RST
			}
			c.Close()
			return
		}
	}
	d.h.ServeHTTP(w, r)
}

// record collects what a Fetch shows: its events and its debug log.
type record struct {
	mu     sync.Mutex
	events []string
	log    bytes.Buffer
}

func (r *record) progress(ev fetch.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf("%d %s %s %v", ev.Kind, ev.Item, ev.Source, ev.Err))
}

func (r *record) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.log.Write(p)
}

// shown is everything the record holds, and texts besides.
func (r *record) shown(texts ...string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.events, "\n") + "\n" + r.log.String() + "\n" + strings.Join(texts, "\n")
}

// TestFetchHidesCredentials: a registry redirects its blob GETs to a CDN
// whose URL is presigned (the query is the credential), and the CDN resets
// the connection, so the attempt fails with net/http's error naming that
// URL, reported as a Retrying event; a mirror given with a password in its
// URL refuses. The blob arrives from a third source (or, without one, the
// Fetch fails), and no event, debug log record, error or result holds the
// signature, the credential or the password; the hosts and paths they
// came from are still named.
func TestFetchHidesCredentials(t *testing.T) {
	data, dg := randomBlob(t, 300<<10)
	var drops atomic.Int64
	cdn := &dropFirst{h: &origin{data: data}, drop: func(int) bool { return drops.Add(-1) >= 0 }}
	cdnURL := serve(t, cdn)
	registry := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, cdnURL+"/data?"+presigned, http.StatusTemporaryRedirect)
	}))
	refusing := strings.Replace(serve(t, http.NotFoundHandler()), "http://", "http://mirror:MIRRORPASSWORD@", 1)
	plain := serve(t, &origin{data: data})

	run := func(t *testing.T, sources []fetch.Source) (*record, *fetch.Result, error) {
		t.Helper()
		rec := &record{}
		e := engine(t, t.TempDir(), func(o *fetch.Options) {
			o.Connections, o.Retries = 1, 2
			o.Progress = rec.progress
			o.Logger = slog.New(slog.NewTextHandler(rec, &slog.HandlerOptions{Level: slog.LevelDebug}))
		})
		_, res, err := fetchInto(context.Background(), e, fetch.Request{Item: "layer", Digest: dg, Size: int64(len(data)), Sources: sources})
		return rec, res, err
	}
	check := func(t *testing.T, shown string, want ...string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(shown, s) {
				t.Errorf("%s is shown:\n%s", s, shown)
			}
		}
		for _, s := range want {
			if !strings.Contains(shown, s) {
				t.Errorf("%q is not shown:\n%s", s, shown)
			}
		}
	}

	t.Run("retried", func(t *testing.T) {
		drops.Store(1)
		rec, res, err := run(t, []fetch.Source{{URL: refusing + "/blob"}, {URL: registry + "/blob"}, {URL: plain + "/blob"}})
		if err != nil {
			t.Fatal(err)
		}
		check(t, rec.shown(res.Source), cdnURL+"/data?X-Amz-Algorithm=REDACTED&X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED", "mirror:xxxxx@")
	})
	t.Run("failed", func(t *testing.T) {
		drops.Store(10)
		rec, _, err := run(t, []fetch.Source{{URL: refusing + "/blob"}, {URL: registry + "/blob"}})
		if err == nil {
			t.Fatal("the fetch succeeded through a CDN that drops every connection")
		}
		check(t, rec.shown(err.Error()), "X-Amz-Signature=REDACTED", "HTTP 404")
	})
}
