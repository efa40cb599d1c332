package badlink

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TokenService is the service name TokenFront's challenges carry.
const TokenService = "badlink-token"

// repoPath matches a registry API path under a repository name.
var repoPath = regexp.MustCompile(`^/v2/(.+)/(manifests|blobs|tags)/`)

// TokenFront stands in for a registry with Docker-style bearer token auth
// (Docker Hub, gcr.io, Harbor) in front of upstream. A request under /v2/
// without a token the front issued is answered 401 (Challenged) with
//
//	WWW-Authenticate: Bearer realm="http://HOST/token",service="badlink-token",scope="repository:NAME:pull"
//
// (HOST being the Host the request came to; no scope for /v2/ itself,
// "pull,push" for methods other than GET and HEAD). GET (or POST) /token
// issues a token to anyone (TokenIssued), as JSON:
//
//	{"token": T, "access_token": T, "expires_in": SECONDS, "issued_at": RFC3339}
//
// A token is good for any scope and expires ttl after it was issued
// (expires_in says ttl in whole seconds, rounded up, at least 1, so a
// sub-second ttl expires before the client expects). A request with an
// expired token is answered 401 with the challenge and
// error="invalid_token" (TokenExpired). A request with a good token is
// proxied to upstream without it, carrying the WithBasicAuth credentials
// if any.
func TokenFront(t testing.TB, upstream *url.URL, ttl time.Duration, opts ...FrontOption) *Front {
	t.Helper()
	f := newFront(upstream, opts)
	var mu sync.Mutex
	tokens := map[string]time.Time{} // token -> expiry
	expiresIn := int64((ttl + time.Second - 1) / time.Second)
	if expiresIn < 1 {
		expiresIn = 1
	}
	f.URL = f.start(t, "front", func(w *recorder, r *http.Request) {
		if r.URL.Path == "/token" {
			if r.Method != http.MethodGet && r.Method != http.MethodPost {
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			tok, err := randomToken()
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			now := f.cfg.now()
			mu.Lock()
			tokens[tok] = now.Add(ttl)
			mu.Unlock()
			w.kind = TokenIssued
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{
				"token":        tok,
				"access_token": tok,
				"expires_in":   expiresIn,
				"issued_at":    now.UTC().Format(time.RFC3339),
			})
			return
		}
		if !strings.HasPrefix(r.URL.Path, "/v2/") {
			http.NotFound(w, r)
			return
		}
		tok, bearer := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		mu.Lock()
		expiry, known := tokens[tok]
		mu.Unlock()
		switch {
		case !bearer || !known:
			w.kind = Challenged
			challenge(w, r, "")
			return
		case !f.cfg.now().Before(expiry):
			w.kind = TokenExpired
			challenge(w, r, "invalid_token")
			return
		}
		f.pass(w, r, true)
	})
	f.Host = f.URL.Host
	return f
}

// challenge answers 401 with a bearer challenge for r's scope, and the
// error code errCode unless "".
func challenge(w http.ResponseWriter, r *http.Request, errCode string) {
	c := fmt.Sprintf(`Bearer realm="http://%s/token",service=%q`, r.Host, TokenService)
	if m := repoPath.FindStringSubmatch(r.URL.Path); m != nil {
		actions := "pull"
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			actions = "pull,push"
		}
		c += fmt.Sprintf(`,scope="repository:%s:%s"`, m[1], actions)
	}
	if errCode != "" {
		c += fmt.Sprintf(`,error=%q`, errCode)
	}
	w.Header().Set("WWW-Authenticate", c)
	registryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
}

// randomToken returns a fresh opaque token.
func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return fmt.Sprintf("%x", b), nil
}
