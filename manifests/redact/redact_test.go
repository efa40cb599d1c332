package redact_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/manifests/redact"
)

func TestURL(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"plain", "https://registry-1.docker.io/v2/library/busybox/blobs/sha256:abc", "https://registry-1.docker.io/v2/library/busybox/blobs/sha256:abc"},
		{"no path", "http://127.0.0.1:5000", "http://127.0.0.1:5000"},
		{"s3 presigned", "https://bucket.s3.amazonaws.com/blobs/x/data?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20260101&X-Amz-Signature=deadbeef",
			"https://bucket.s3.amazonaws.com/blobs/x/data?X-Amz-Algorithm=REDACTED&X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED"},
		{"docker hub cdn", "https://production.cloudflare.docker.com/registry-v2/docker/registry/v2/blobs/sha256/ab/abc/data?verify=1700000000-SECRET",
			"https://production.cloudflare.docker.com/registry-v2/docker/registry/v2/blobs/sha256/ab/abc/data?verify=REDACTED"},
		{"password", "https://user:s3cret@files.lan/github.com/x.tar.gz", "https://user:xxxxx@files.lan/github.com/x.tar.gz"},
		{"token as user", "https://ghp_TOKEN@github.com/a/b", "https://xxxxx@github.com/a/b"},
		{"@ in path", "https://h/a@b?c", "https://h/a@b?REDACTED"},
		{"token request", "https://auth.docker.io/token?scope=repository%3Alibrary%2Fbusybox%3Apull&service=registry.docker.io",
			"https://auth.docker.io/token?scope=repository%3Alibrary%2Fbusybox%3Apull&service=registry.docker.io"},
		{"upload", "/v2/lab/x/blobs/uploads/1234?_state=SIGNED&digest=sha256:abc", "/v2/lab/x/blobs/uploads/1234?_state=REDACTED&digest=sha256:abc"},
		{"listing", "/v2/_catalog?n=100&last=a", "/v2/_catalog?n=100&last=a"},
		{"empty values", "/p?a=&&b", "/p?a=&&REDACTED"},
		{"fragment kept", "https://files.pythonhosted.org/x.whl#sha256=abc", "https://files.pythonhosted.org/x.whl#sha256=abc"},
		{"query then fragment", "https://h/x?token=t#frag?token=u", "https://h/x?token=REDACTED#frag?token=u"},
		{"escaped key", "https://h/x?%73cope=a&sig%3D=b", "https://h/x?%73cope=a&sig%3D=REDACTED"},
		{"not a URL", "gcr.io/google-containers=registry.k8s.io", "gcr.io/google-containers=registry.k8s.io"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := redact.URL(tc.in); got != tc.want {
				t.Errorf("URL(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestText(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"no URL", "3 of 4 items failed", "3 of 4 items failed"},
		{"url.Error", `Get "https://cdn.example/blob?X-Amz-Signature=SECRET&Expires=1": EOF`, `Get "https://cdn.example/blob?X-Amz-Signature=REDACTED&Expires=REDACTED": EOF`},
		{"punctuation after", "refused by https://cdn/x?sig=SECRET: HTTP 403.", "refused by https://cdn/x?sig=REDACTED: HTTP 403."},
		{"in brackets", "(https://u:p@h/x), [http://h/?t=1]", "(https://u:xxxxx@h/x), [http://h/?t=REDACTED]"},
		{"mirror flag", `mirror "https://github.com=https://me:PW@files.lan/gh": bad`, `mirror "https://github.com=https://me:xxxxx@files.lan/gh": bad`},
		{"several", "a https://h/?k=v b http://x/y c", "a https://h/?k=REDACTED b http://x/y c"},
		{"lines", "x\n  https://u:p@h/a: HTTP 404\n  https://h/b", "x\n  https://u:xxxxx@h/a: HTTP 404\n  https://h/b"},
		{"no scheme", "://h/?k=v and 1://z", "://h/?k=v and 1://z"},
		{"scheme after digits", "x1http://u:p@h", "x1http://u:xxxxx@h"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := redact.Text(tc.in); got != tc.want {
				t.Errorf("Text(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

// TestErrorFromHTTPClient: the *url.Error net/http's client returns holds
// the request's URL, query and all; Error hides it and keeps the type and
// what it wraps.
func TestErrorFromHTTPClient(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _, err := http.NewResponseController(w).Hijack()
		if err == nil {
			c.Close() // no answer: the client's error names the URL
		}
	}))
	defer srv.Close()
	u := srv.URL + "/blob?X-Amz-Signature=SECRET"
	_, err := srv.Client().Get(u)
	if err == nil || !strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("the client's error does not show the URL as expected: %v", err)
	}
	got := redact.Error(err)
	if strings.Contains(got.Error(), "SECRET") || !strings.Contains(got.Error(), srv.URL+"/blob?X-Amz-Signature=REDACTED") {
		t.Errorf("Error(%v) = %v", err, got)
	}
	var ue *url.Error
	if !errors.As(got, &ue) || ue.Op != "Get" {
		t.Errorf("Error(%v) is not a *url.Error: %T", err, got)
	}
	if !errors.Is(got, errors.Unwrap(err)) {
		t.Errorf("Error(%v) lost what it wraps", err)
	}
	other := fmt.Errorf("fetching https://h/x?token=SECRET: %w", net.ErrClosed)
	got = redact.Error(other)
	if strings.Contains(got.Error(), "SECRET") || !errors.Is(got, net.ErrClosed) {
		t.Errorf("Error(%v) = %v", other, got)
	}
	plain := errors.New("no URL here")
	if redact.Error(plain) != plain || redact.Error(nil) != nil {
		t.Error("an error without a URL did not come back as it was")
	}
}

func TestHandler(t *testing.T) {
	var buf bytes.Buffer
	log := redact.Logger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	u, _ := url.Parse("https://cdn/x?sig=S1")
	log.With("source", "https://me:S2@mirror/x").WithGroup("g").Debug("GET https://cdn/y?sig=S3",
		"err", errors.New(`Get "https://cdn/z?sig=S4": EOF`), "url", u,
		slog.Group("inner", "u", "http://h/?token=S5"), "n", 3, "plain", "https://h/p")
	out := buf.String()
	for _, s := range []string{"S1", "S2", "S3", "S4", "S5"} {
		if strings.Contains(out, s) {
			t.Errorf("the log holds %s:\n%s", s, out)
		}
	}
	for _, s := range []string{"g.n=3", "g.plain=https://h/p", "source=https://me:xxxxx@mirror/x", "g.inner.u=\"http://h/?token=REDACTED\""} {
		if !strings.Contains(out, s) {
			t.Errorf("the log lacks %s:\n%s", s, out)
		}
	}
	if redact.Handler(log.Handler()) != log.Handler() {
		t.Error("Handler wrapped a redacting handler again")
	}
	if !log.Handler().Enabled(context.Background(), slog.LevelDebug) {
		t.Error("the level was lost")
	}
}

// FuzzText: Text never panics, is idempotent, leaves texts without "://"
// alone, and never lets a query value that is not allowed through.
func FuzzText(f *testing.F) {
	for _, s := range []string{"", "https://u:p@h/x?a=b&c#d", `Get "http://h/?X-Amz-Signature=S": EOF`, "a://b://c?d", "x://?", "://", "h://@@/?=&="} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := redact.Text(s)
		if !strings.Contains(s, "://") && got != s {
			t.Fatalf("Text(%q) = %q: changed a text without a URL", s, got)
		}
		if again := redact.Text(got); again != got {
			t.Fatalf("Text(%q) = %q, but Text of that = %q", s, got, again)
		}
		if u := redact.URL(s); redact.URL(u) != u {
			t.Fatalf("URL(%q) = %q is not stable", s, u)
		}
	})
}
