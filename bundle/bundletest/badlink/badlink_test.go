package badlink_test

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/paimirror/paimirror/bundle/bundletest/badlink"
)

// blob is a layer pushed to a test registry.
type blob struct {
	digest string
	data   []byte
}

// pushImage pushes to reg, as repo:latest, a random.Image (one small
// layer) with one more layer of size random bytes, and returns that layer.
// The big layer is static bytes: random.Image's gzipped tar layers take
// seconds per 32 MiB under the race detector.
func pushImage(t *testing.T, reg *badlink.Reg, repo string, size int) blob {
	t.Helper()
	img, err := random.Image(1024, 1)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, size)
	rand.Read(data)
	img, err = mutate.AppendLayers(img, static.NewLayer(data, types.OCIUncompressedLayer))
	if err != nil {
		t.Fatal(err)
	}
	reg.Push(t, repo, "latest", img)
	return blob{digest: "sha256:" + hexSHA256(data), data: data}
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// get sends a GET to u with the Range header rng (unless "") through
// client and returns the response and as much of the body as arrived.
func get(t *testing.T, client *http.Client, u, rng string) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func noRedirects(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }

// clock is a fake clock for the fronts' expiry.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func TestLimitDataCutsBlob(t *testing.T) {
	x := badlink.Toxiproxy(t)
	reg := badlink.Registry(t, badlink.RegistryOptions{})
	b := pushImage(t, reg, "cut/me", 32<<20)
	p := x.Proxy(t, "registry", reg.Host)
	const limit = 1 << 20
	p.LimitData(t, limit)

	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	blobURL := p.URL().String() + "/v2/cut/me/blobs/" + b.digest
	resp, body, err := get(t, client, blobURL, "")
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("GET through limit_data: %v; want unexpected EOF", err)
	}
	if resp.StatusCode != http.StatusOK || resp.ContentLength != int64(len(b.data)) {
		t.Errorf("GET through limit_data: %s, Content-Length %d", resp.Status, resp.ContentLength)
	}
	// The limit counts the response's header too.
	if len(body) == 0 || len(body) >= limit || !bytes.Equal(body, b.data[:len(body)]) {
		t.Errorf("GET through limit_data got %d bytes (limit %d), matching the blob: %v", len(body), limit, bytes.Equal(body, b.data[:min(len(body), len(b.data))]))
	}
	cut := len(body)
	if n := reg.BlobGets(b.digest); n != 1 {
		t.Errorf("BlobGets = %d after the cut GET, want 1", n)
	}
	served := reg.BytesServed(b.digest)
	if served < int64(cut) || served > int64(len(b.data)) {
		t.Errorf("BytesServed = %d after a GET cut at %d of %d", served, cut, len(b.data))
	}
	t.Logf("cut at %d bytes; the registry wrote %d", cut, served)

	// The rest, with a new connection, which gets its own limit of 1 MiB:
	// lift it, and Range resumes where the cut left off.
	p.RemoveToxic(t, "limit_data")
	resp, body, err = get(t, client, blobURL, fmt.Sprintf("bytes=%d-", cut))
	if err != nil || resp.StatusCode != http.StatusPartialContent {
		t.Fatalf("resuming at %d: %v %v", cut, resp, err)
	}
	if !bytes.Equal(append(b.data[:cut:cut], body...), b.data) {
		t.Errorf("the cut part and the resumed part are not the blob")
	}
	if n, s := reg.BlobGets(b.digest), reg.BytesServed(b.digest); n != 2 || s != served+int64(len(b.data)-cut) {
		t.Errorf("BlobGets, BytesServed = %d, %d after resuming; want 2, %d", n, s, served+int64(len(b.data)-cut))
	}
}

func TestBandwidthSlowsTransfer(t *testing.T) {
	x := badlink.Toxiproxy(t)
	reg := badlink.Registry(t, badlink.RegistryOptions{})
	b := pushImage(t, reg, "slow", 256<<10)
	p := x.Proxy(t, "registry", reg.Host)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	blobURL := p.URL().String() + "/v2/slow/blobs/" + b.digest

	fetch := func() time.Duration {
		t.Helper()
		start := time.Now()
		_, body, err := get(t, client, blobURL, "")
		if err != nil || !bytes.Equal(body, b.data) {
			t.Fatalf("GET: %v, %d bytes", err, len(body))
		}
		return time.Since(start)
	}
	fast := fetch()
	// 256 KiB at 512 KB/s: half a second at least.
	p.Bandwidth(t, 512)
	slow := fetch()
	if slow < 400*time.Millisecond {
		t.Errorf("256 KiB at 512 KB/s took %s", slow)
	}
	p.RemoveToxic(t, "bandwidth")
	t.Logf("256 KiB: %s unlimited, %s at 512 KB/s", fast, slow)
}

func TestConnectionToxics(t *testing.T) {
	x := badlink.Toxiproxy(t)
	reg := badlink.Registry(t, badlink.RegistryOptions{})
	tests := []struct {
		name    string
		toxic   func(t testing.TB, p *badlink.Proxy)
		wantErr func(err error) bool
		minTime time.Duration
	}{
		{
			name:    "reset peer",
			toxic:   func(t testing.TB, p *badlink.Proxy) { p.ResetPeer(t, 0) },
			wantErr: func(err error) bool { return errors.Is(err, syscall.ECONNRESET) },
		},
		{
			name:    "timeout",
			toxic:   func(t testing.TB, p *badlink.Proxy) { p.Timeout(t, 100) },
			wantErr: func(err error) bool { return errors.Is(err, io.EOF) },
			minTime: 100 * time.Millisecond,
		},
		{
			name:    "latency",
			toxic:   func(t testing.TB, p *badlink.Proxy) { p.Latency(t, 200) },
			minTime: 200 * time.Millisecond,
		},
		{
			name:    "disabled",
			toxic:   func(t testing.TB, p *badlink.Proxy) { p.Disable(t) },
			wantErr: func(err error) bool { return errors.Is(err, syscall.ECONNREFUSED) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A proxy per case, named alike: each is deleted when its case ends.
			p := x.Proxy(t, "registry", reg.Host)
			tt.toxic(t, p)
			client := &http.Client{Transport: &http.Transport{}, Timeout: 10 * time.Second}
			defer client.CloseIdleConnections()
			start := time.Now()
			resp, _, err := get(t, client, p.URL().String()+"/v2/", "")
			took := time.Since(start)
			switch {
			case tt.wantErr == nil && err != nil:
				t.Errorf("GET /v2/: %v", err)
			case tt.wantErr == nil && resp.StatusCode != http.StatusOK:
				t.Errorf("GET /v2/: %s", resp.Status)
			case tt.wantErr != nil && (err == nil || !tt.wantErr(err)):
				t.Errorf("GET /v2/: %v (response %v); not the error wanted", err, resp)
			}
			if took < tt.minTime {
				t.Errorf("GET /v2/ took %s, want at least %s", took, tt.minTime)
			}
			t.Logf("%v after %s", err, took.Round(time.Millisecond))
		})
	}
}

func TestRegistryRange(t *testing.T) {
	reg := badlink.Registry(t, badlink.RegistryOptions{})
	const size = 100000
	b := pushImage(t, reg, "ranges", size)
	client := &http.Client{Transport: reg.Transport()}
	defer client.CloseIdleConnections()
	blobURL := reg.URL.String() + "/v2/ranges/blobs/" + b.digest

	tests := []struct {
		rng          string
		status       int
		contentRange string
		body         []byte
	}{
		{"", http.StatusOK, "", b.data},
		{"bytes=1000-", http.StatusPartialContent, "bytes 1000-99999/100000", b.data[1000:]},
		{"bytes=0-99", http.StatusPartialContent, "bytes 0-99/100000", b.data[:100]},
		{"bytes=-10", http.StatusPartialContent, "bytes 99990-99999/100000", b.data[size-10:]},
		{"bytes=99999-", http.StatusPartialContent, "bytes 99999-99999/100000", b.data[size-1:]},
		{"bytes=100000-", http.StatusRequestedRangeNotSatisfiable, "bytes */100000", nil},
	}
	var want int64
	for _, tt := range tests {
		t.Run(cmp.Or(tt.rng, "no range"), func(t *testing.T) {
			resp, body, err := get(t, client, blobURL, tt.rng)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.status || resp.Header.Get("Content-Range") != tt.contentRange {
				t.Errorf("Range %q: %s, Content-Range %q; want %d, %q", tt.rng, resp.Status, resp.Header.Get("Content-Range"), tt.status, tt.contentRange)
			}
			if tt.body != nil && !bytes.Equal(body, tt.body) {
				t.Errorf("Range %q: %d bytes, not the blob's %d wanted", tt.rng, len(body), len(tt.body))
			}
			want += int64(len(body))
		})
	}
	if n, s := reg.BlobGets(b.digest), reg.BytesServed(b.digest); n != len(tests) || s != want {
		t.Errorf("BlobGets, BytesServed = %d, %d; want %d, %d", n, s, len(tests), want)
	}
}

func TestRegistryTLSAndHtpasswd(t *testing.T) {
	reg := badlink.Registry(t, badlink.RegistryOptions{TLS: true, Htpasswd: true})
	if reg.URL.Scheme != "https" || reg.Username == "" || reg.Password == "" || len(reg.CAPEM) == 0 {
		t.Fatalf("registry %s, user %q, CA %d bytes", reg.URL, reg.Username, len(reg.CAPEM))
	}
	b := pushImage(t, reg, "lab/project/app", 4096)

	client := &http.Client{Transport: reg.Transport()}
	defer client.CloseIdleConnections()
	blobURL := reg.URL.String() + "/v2/lab/project/app/blobs/" + b.digest
	if resp, _, err := get(t, client, blobURL, ""); err != nil || resp.StatusCode != http.StatusUnauthorized ||
		!strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic ") {
		t.Errorf("GET without credentials: %v %v", resp, err)
	}
	if _, err := http.Get(blobURL); err == nil {
		t.Errorf("GET with the system's roots trusted the test CA")
	}

	img, err := remote.Image(reg.Ref(t, "lab/project/app", "latest"), remote.WithTransport(reg.Transport()), remote.WithAuth(reg.Auth()))
	if err != nil {
		t.Fatal(err)
	}
	checkLayer(t, img, b, "lab/project/app")
	if n := reg.BlobGets(b.digest); n != 2 {
		t.Errorf("BlobGets = %d, want 2 (one refused, one pulled)", n)
	}
}

func TestTokenFront(t *testing.T) {
	reg := badlink.Registry(t, badlink.RegistryOptions{Htpasswd: true})
	b := pushImage(t, reg, "tok/app", 4096)
	clk := newClock()
	f := badlink.TokenFront(t, reg.URL, time.Minute, append(reg.FrontOptions(), badlink.WithClock(clk.Now))...)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	blobURL := f.URL.String() + "/v2/tok/app/blobs/" + b.digest

	resp, _, err := get(t, client, blobURL, "")
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET without a token: %v %v", resp, err)
	}
	wantChallenge := fmt.Sprintf(`Bearer realm="http://%s/token",service="badlink-token",scope="repository:tok/app:pull"`, f.Host)
	if got := resp.Header.Get("WWW-Authenticate"); got != wantChallenge {
		t.Errorf("challenge %q, want %q", got, wantChallenge)
	}

	resp, body, err := get(t, client, f.URL.String()+"/token?service=badlink-token&scope=repository:tok/app:pull", "")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /token: %v %v", resp, err)
	}
	var tok struct {
		Token     string `json:"token"`
		ExpiresIn int    `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &tok); err != nil || tok.Token == "" || tok.ExpiresIn != 60 {
		t.Fatalf("token response %s: %v", body, err)
	}

	withToken := func(rng string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, blobURL, nil)
		req.Header.Set("Authorization", "Bearer "+tok.Token)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, body
	}
	// The front swaps the token for the registry's basic auth.
	if resp, body := withToken("bytes=96-"); resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, b.data[96:]) {
		t.Errorf("ranged GET with the token: %s, %d bytes", resp.Status, len(body))
	}
	clk.Advance(time.Minute)
	resp, _ = withToken("")
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(resp.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("GET with an expired token: %s, %q", resp.Status, resp.Header.Get("WWW-Authenticate"))
	}
	for k, want := range map[badlink.Kind]int{badlink.Challenged: 1, badlink.TokenIssued: 1, badlink.Proxied: 1, badlink.TokenExpired: 1} {
		if got := f.Count(k); got != want {
			t.Errorf("Count(%s) = %d, want %d", k, got, want)
		}
	}

	// go-containerregistry, a real client, follows the token dance.
	ref := fmt.Sprintf("%s/tok/app:latest", f.Host)
	pull(t, ref, b, authn.Anonymous)
}

// pull pulls the image ref (on a plain-HTTP front) with
// go-containerregistry and checks its layer b.
func pull(t *testing.T, ref string, b blob, auth authn.Authenticator) {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	r, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r, remote.WithTransport(tr), remote.WithAuth(auth))
	if err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	checkLayer(t, img, b, ref)
}

func TestRedirectFront(t *testing.T) {
	reg := badlink.Registry(t, badlink.RegistryOptions{})
	b := pushImage(t, reg, "cdn/app", 100000)
	clk := newClock()
	f := badlink.RedirectFront(t, reg.URL, time.Minute, badlink.WithClock(clk.Now))
	client := &http.Client{Transport: &http.Transport{}, CheckRedirect: noRedirects}
	defer client.CloseIdleConnections()

	resp, _, err := get(t, client, f.URL.String()+"/v2/cdn/app/blobs/"+b.digest, "bytes=10-")
	if err != nil || resp.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("blob GET: %v %v", resp, err)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Host != f.CDN.Host || loc.Query().Get("expires") == "" {
		t.Fatalf("Location %q: %v", resp.Header.Get("Location"), err)
	}
	resp, body, err := get(t, client, loc.String(), "bytes=10-")
	if err != nil || resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, b.data[10:]) ||
		resp.Header.Get("Content-Range") != "bytes 10-99999/100000" {
		t.Fatalf("CDN GET: %v, %d bytes, %v", resp, len(body), err)
	}

	forged := *loc
	q := forged.Query()
	q.Set("expires", "9"+q.Get("expires"))
	forged.RawQuery = q.Encode()
	if resp, _, err := get(t, client, forged.String(), ""); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Errorf("CDN GET with a forged expiry: %v %v", resp, err)
	}
	clk.Advance(time.Minute)
	if resp, body, err := get(t, client, loc.String(), ""); err != nil || resp.StatusCode != http.StatusForbidden || !bytes.Contains(body, []byte("expired")) {
		t.Errorf("CDN GET after expiry: %v %s %v", resp, body, err)
	}
	for k, want := range map[badlink.Kind]int{badlink.Redirected: 1, badlink.CDNServed: 1, badlink.CDNDenied: 1, badlink.CDNExpired: 1} {
		if got := f.Count(k); got != want {
			t.Errorf("Count(%s) = %d, want %d", k, got, want)
		}
	}
	var cdn badlink.Request
	for _, r := range f.Requests() {
		if r.Kind == badlink.CDNServed {
			cdn = r
		}
	}
	if cdn.Server != "cdn" || cdn.Range != "bytes=10-" || cdn.Status != http.StatusPartialContent || cdn.Bytes != int64(len(b.data)-10) {
		t.Errorf("CDN request recorded as %+v", cdn)
	}

	// A fresh redirect for a real client, which follows it.
	pull(t, f.Host+"/cdn/app:latest", b, authn.Anonymous)
	if n := f.Count(badlink.Redirected); n < 2 {
		t.Errorf("the pull was redirected %d times in all", n)
	}
}

func TestNoRangeFront(t *testing.T) {
	reg := badlink.Registry(t, badlink.RegistryOptions{})
	b := pushImage(t, reg, "norange", 50000)
	f := badlink.NoRangeFront(t, reg.URL)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, body, err := get(t, client, f.URL.String()+"/v2/norange/blobs/"+b.digest, "bytes=100-")
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(body, b.data) {
		t.Fatalf("ranged GET: %v, %d bytes, %v", resp, len(body), err)
	}
	reqs := f.Requests()
	if len(reqs) != 1 || reqs[0].Kind != badlink.RangeDropped || reqs[0].Range != "bytes=100-" || reqs[0].Bytes != int64(len(b.data)) {
		t.Errorf("requests %+v", reqs)
	}
	if s := reg.BytesServed(b.digest); s != int64(len(b.data)) {
		t.Errorf("the registry served %d bytes, want the whole %d", s, len(b.data))
	}
}

func TestRetryAfterFront(t *testing.T) {
	reg := badlink.Registry(t, badlink.RegistryOptions{})
	b := pushImage(t, reg, "busy", 1000)
	f := badlink.RetryAfterFront(t, reg.URL, 2, 1500*time.Millisecond)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	blobURL := f.URL.String() + "/v2/busy/blobs/" + b.digest
	for i, want := range []int{http.StatusTooManyRequests, http.StatusTooManyRequests, http.StatusOK} {
		resp, body, err := get(t, client, blobURL, "")
		if err != nil || resp.StatusCode != want {
			t.Fatalf("GET %d: %v %v", i, resp, err)
		}
		if want == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "2" {
			t.Errorf("GET %d: Retry-After %q, want 2", i, resp.Header.Get("Retry-After"))
		}
		if want == http.StatusOK && !bytes.Equal(body, b.data) {
			t.Errorf("GET %d: %d bytes, not the blob", i, len(body))
		}
	}
	if n := f.Count(badlink.Throttled); n != 2 {
		t.Errorf("Count(Throttled) = %d, want 2", n)
	}
	if n := reg.BlobGets(b.digest); n != 1 {
		t.Errorf("the registry saw %d blob GETs, want 1", n)
	}
}

func TestChain(t *testing.T) {
	// A link with every fault in place but none firing: a proxy in front
	// of bearer tokens in front of CDN redirects in front of a registry
	// that wants basic auth. A real client pulls through it all.
	x := badlink.Toxiproxy(t)
	reg := badlink.Registry(t, badlink.RegistryOptions{Htpasswd: true})
	b := pushImage(t, reg, "chain/app", 8<<20)
	cdn := badlink.RedirectFront(t, reg.URL, time.Minute, reg.FrontOptions()...)
	tok := badlink.TokenFront(t, cdn.URL, time.Minute)
	p := x.Proxy(t, "chain", tok.Host)
	p.Latency(t, 5)

	pull(t, p.Addr()+"/chain/app:latest", b, authn.Anonymous)
	for _, k := range []badlink.Kind{badlink.Challenged, badlink.TokenIssued, badlink.Proxied} {
		if tok.Count(k) == 0 {
			t.Errorf("the token front saw no request of kind %s: %+v", k, tok.Requests())
		}
	}
	for _, k := range []badlink.Kind{badlink.Redirected, badlink.CDNServed} {
		if cdn.Count(k) == 0 {
			t.Errorf("the redirect front saw no request of kind %s: %+v", k, cdn.Requests())
		}
	}
	if n, s := reg.BlobGets(b.digest), reg.BytesServed(b.digest); n != 1 || s != int64(len(b.data)) {
		t.Errorf("BlobGets, BytesServed = %d, %d; want 1, %d", n, s, len(b.data))
	}
}

// checkLayer reads the layer b of img (pulled as ref) and checks its bytes.
func checkLayer(t *testing.T, img v1.Image, b blob, ref string) {
	t.Helper()
	l, err := img.LayerByDigest(v1.Hash{Algorithm: "sha256", Hex: strings.TrimPrefix(b.digest, "sha256:")})
	if err != nil {
		t.Fatal(err)
	}
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(data, b.data) {
		t.Errorf("pulling %s's layer: %v, %d bytes", ref, err, len(data))
	}
}
