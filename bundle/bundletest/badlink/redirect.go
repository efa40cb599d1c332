package badlink

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"
)

// RedirectFront stands in for a registry whose blobs live on a CDN (Docker
// Hub, gcr.io, an S3-backed registry): it answers every blob GET
// (/v2/NAME/blobs/sha256:HEX) with 307 Temporary Redirect to its CDN, a
// second loopback server (Front.CDN), at a URL signed by the front that
// expires ttl after the redirect:
//
//	{CDN}/v2/NAME/blobs/sha256:HEX?expires=UNIXNANO&signature=HMAC
//
// The CDN answers 403 (an S3-style XML error) once the URL has expired
// (CDNExpired) or to a URL the front did not sign (CDNDenied); otherwise
// it proxies the blob from upstream (CDNServed), Range and all, with the
// WithBasicAuth credentials and never the client's. Everything else is
// proxied to upstream as it comes. Redirects are recorded as Redirected.
func RedirectFront(t testing.TB, upstream *url.URL, ttl time.Duration, opts ...FrontOption) *Front {
	t.Helper()
	f := newFront(upstream, opts)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	sign := func(path, expires string) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(path + "\x00" + expires))
		return hex.EncodeToString(m.Sum(nil))
	}

	f.CDN = f.start(t, "cdn", func(w *recorder, r *http.Request) {
		q := r.URL.Query()
		expires := q.Get("expires")
		sig, err := hex.DecodeString(q.Get("signature"))
		want, _ := hex.DecodeString(sign(r.URL.Path, expires))
		if err != nil || !hmac.Equal(sig, want) || (r.Method != http.MethodGet && r.Method != http.MethodHead) {
			w.kind = CDNDenied
			cdnError(w, "AccessDenied", "Access Denied")
			return
		}
		exp, err := strconv.ParseInt(expires, 10, 64)
		if err != nil || !f.cfg.now().Before(time.Unix(0, exp)) {
			w.kind = CDNExpired
			cdnError(w, "AccessDenied", "Request has expired")
			return
		}
		w.kind = CDNServed
		r.URL.RawQuery = ""
		f.pass(w, r, true)
	})
	f.URL = f.start(t, "front", func(w *recorder, r *http.Request) {
		if r.Method != http.MethodGet || !blobPath.MatchString(r.URL.Path) {
			f.pass(w, r, false)
			return
		}
		expires := strconv.FormatInt(f.cfg.now().Add(ttl).UnixNano(), 10)
		loc := *f.CDN
		loc.Path = r.URL.Path
		loc.RawQuery = url.Values{"expires": {expires}, "signature": {sign(r.URL.Path, expires)}}.Encode()
		w.kind = Redirected
		w.Header().Set("Location", loc.String())
		w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	f.Host = f.URL.Host
	return f
}

// cdnError answers 403 with an S3-style XML error.
func cdnError(w http.ResponseWriter, code, message string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(http.StatusForbidden)
	w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n<Error><Code>" + code + "</Code><Message>" + message + "</Message></Error>\n"))
}

// registryError answers status with a distribution-spec error body.
func registryError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{
		"errors": []map[string]any{{"code": code, "message": message}},
	})
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }
