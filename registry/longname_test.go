package registry

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
)

// TestLongNameRefused checks that a repository name over 255 characters
// gets 400 NAME_INVALID with a small body, before distribution sees it, a
// path longer than any of the API's gets 414, and that the log (every
// level, the access log, and distribution's entries) stays small and does
// not carry the name.
func TestLongNameRefused(t *testing.T) {
	f := smallBundle(t)
	logs := &testenv.Buffer{}
	// Debug also turns distribution's logrus up to Debug: everything it
	// logs reaches this buffer.
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, host := serve(t, f.b, WithLogger(log), WithAccessLog(true))

	long := strings.Repeat("a", 300)
	huge := strings.Repeat("abcdefgh/", 900<<10/9)
	tests := []struct {
		name, method, path string
		status             int
	}{
		{"300 characters, manifest", http.MethodGet, "/v2/" + long + "/manifests/latest", 400},
		{"300 characters, blob", http.MethodHead, "/v2/library/" + long + "/blobs/sha256:" + strings.Repeat("0", 64), 400},
		{"300 characters, tags", http.MethodGet, "/v2/" + long + "/tags/list", 400},
		{"900 KB, manifest", http.MethodGet, "/v2/" + huge + "x/manifests/latest", 400},
		{"900 KB, upload", http.MethodPost, "/v2/" + huge + "x/blobs/uploads/", 400},
		{"900 KB, tags", http.MethodGet, "/v2/" + huge + "x/tags/list", 400},
		{"900 KB, no route", http.MethodGet, "/v2/" + huge + "x", http.StatusRequestURITooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, "http://"+host+tt.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if len(body) > 512 {
				t.Errorf("response body is %d bytes: %.200q…", len(body), body)
			}
			if tt.status == http.StatusBadRequest && tt.method != http.MethodHead {
				if code := errorCode(t, bytes.NewReader(body)); code != "NAME_INVALID" {
					t.Errorf("error code %q, want NAME_INVALID", code)
				}
			}
		})
	}
	if n := logs.Len(); n > 8<<10 {
		t.Errorf("%d requests wrote %d bytes of log; the start: %.2000s", len(tests), n, logs.String())
	}
	if strings.Contains(logs.String(), long) {
		t.Errorf("the log echoes the 300-character name: %.2000s", logs.String())
	}
}
