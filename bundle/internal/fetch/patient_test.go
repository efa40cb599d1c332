package fetch_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle/internal/fetch"
)

// TestPatient: a GET answered 429/503 is sent again after the server's
// Retry-After, or the backoff without one, up to Retries times in a row,
// each wait reported; other methods, and a cancelled request, are not.
func TestPatient(t *testing.T) {
	for _, tc := range []struct {
		name       string
		refuse     int    // answers 429/503 before a 200
		code       int    // the refusal's status
		retryAfter string // the refusal's Retry-After
		method     string
		wantStatus int
		wantCalls  int32
	}{
		{"retry-after", 2, http.StatusTooManyRequests, "1", http.MethodGet, 200, 3},
		{"backoff", 2, http.StatusServiceUnavailable, "", http.MethodHead, 200, 3},
		{"gives up", 10, http.StatusTooManyRequests, "0", http.MethodGet, http.StatusTooManyRequests, 4},
		{"not a GET", 2, http.StatusTooManyRequests, "1", http.MethodPost, http.StatusTooManyRequests, 1},
		{"other status", 2, http.StatusInternalServerError, "1", http.MethodGet, http.StatusInternalServerError, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			u := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if calls.Add(1) <= int32(tc.refuse) {
					if tc.retryAfter != "" {
						w.Header().Set("Retry-After", tc.retryAfter)
					}
					w.WriteHeader(tc.code)
					return
				}
				w.Write([]byte("ok"))
			}))
			var mu sync.Mutex
			var waits []time.Duration
			e := engine(t, t.TempDir(), func(o *fetch.Options) {
				o.Retries = 3
				o.BackoffBase, o.BackoffMax = 10*time.Millisecond, 20*time.Millisecond
				o.Progress = func(ev fetch.Event) {
					if ev.Kind == fetch.Retrying && strings.HasPrefix(ev.Item, u) && ev.Err != nil {
						mu.Lock()
						waits = append(waits, ev.Wait)
						mu.Unlock()
					}
				}
			})
			c := &http.Client{Transport: e.Patient(http.DefaultTransport)}
			req, _ := http.NewRequest(tc.method, u+"/v2/x/manifests/v1", nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.wantStatus || calls.Load() != tc.wantCalls {
				t.Fatalf("status %d after %d requests, want %d after %d", resp.StatusCode, calls.Load(), tc.wantStatus, tc.wantCalls)
			}
			if int32(len(waits)) != tc.wantCalls-1 {
				t.Fatalf("%d waits reported, want %d", len(waits), tc.wantCalls-1)
			}
			if tc.retryAfter == "1" && tc.wantStatus == 200 && waits[0] != time.Second {
				t.Errorf("waited %s, want the 1s the server asked", waits[0])
			}
		})
	}
}

// TestPatientCancelled: a cancelled request ends its wait at once.
func TestPatientCancelled(t *testing.T) {
	u := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "3600")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	e := engine(t, t.TempDir(), nil)
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u+"/x", nil)
	done := make(chan error, 1)
	go func() {
		resp, err := e.Patient(http.DefaultTransport).RoundTrip(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	cancel()
	if err := <-done; err == nil {
		t.Fatal("a cancelled wait returned no error")
	}
}

// TestFetchRefusesOtherDigests: a digest that is not sha256 (which the
// engine hashes with) fails before any request.
func TestFetchRefusesOtherDigests(t *testing.T) {
	var calls atomic.Int32
	u := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { calls.Add(1) }))
	e := engine(t, t.TempDir(), nil)
	for _, d := range []digest.Digest{"sha512:" + digest.Digest(strings.Repeat("ab", 64)), "sha256:xyz", "md5"} {
		_, err := e.Fetch(context.Background(), fetch.Request{Item: "blob", Digest: d, Size: 10, Sources: []fetch.Source{{URL: u}}})
		if err == nil || !strings.Contains(err.Error(), "not a sha256 digest") {
			t.Errorf("digest %q: got %v, want it refused", d, err)
		}
	}
	if calls.Load() != 0 {
		t.Errorf("%d requests made", calls.Load())
	}
}
