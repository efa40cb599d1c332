package fetch_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"github.com/opencontainers/go-digest"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle/internal/fetch"
)

// origin serves one blob at /blob with http.ServeContent (every form of
// Range), with knobs for the misbehaviours of real links and servers.
type origin struct {
	data []byte
	// cut, when set, gives the bytes after which response n (from 0) is
	// cut (the connection is dropped); <0: not cut.
	cut func(n int) int64
	// ignoreRange answers every request with the whole body.
	ignoreRange bool
	// status, when set, gives a status to answer request n with instead
	// (0: serve), and headers to add.
	status func(n int, h http.Header) int
	// hangup, when set, says whether to close the connection of request
	// n without answering (the client sees EOF before any header, as
	// after a reset on the way).
	hangup func(n int) bool
	// tamper flips a byte of every body.
	tamper bool
	// stall, when positive, holds every response after that many bytes
	// until the client goes away.
	stall int64

	requests atomic.Int64
	sent     atomic.Int64
	inflight atomic.Int64
	peak     atomic.Int64
	mu       sync.Mutex
	ranges   []string
}

func (o *origin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := int(o.requests.Add(1) - 1)
	o.mu.Lock()
	o.ranges = append(o.ranges, r.Header.Get("Range"))
	o.mu.Unlock()
	cur := o.inflight.Add(1)
	defer o.inflight.Add(-1)
	for {
		p := o.peak.Load()
		if cur <= p || o.peak.CompareAndSwap(p, cur) {
			break
		}
	}
	if o.hangup != nil && o.hangup(n) {
		panic(http.ErrAbortHandler)
	}
	if o.status != nil {
		if code := o.status(n, w.Header()); code != 0 {
			w.WriteHeader(code)
			return
		}
	}
	if o.ignoreRange {
		r.Header.Del("Range")
	}
	limit := int64(-1)
	if o.cut != nil {
		limit = o.cut(n)
	}
	o.mu.Lock()
	stall := o.stall // a test turns stalling off between runs
	o.mu.Unlock()
	cw := &countingWriter{ResponseWriter: w, o: o, limit: limit, tamper: o.tamper, stall: stall, done: r.Context().Done()}
	http.ServeContent(cw, r, "blob", time.Time{}, bytes.NewReader(o.data))
}

type countingWriter struct {
	http.ResponseWriter
	o       *origin
	n       int64
	limit   int64
	tamper  bool
	flipped bool
	stall   int64
	done    <-chan struct{}
}

func (c *countingWriter) Write(p []byte) (int, error) {
	if c.stall > 0 && c.n+int64(len(p)) > c.stall {
		p = p[:c.stall-c.n]
		n, _ := c.ResponseWriter.Write(p)
		c.o.sent.Add(int64(n))
		c.ResponseWriter.(http.Flusher).Flush()
		<-c.done
		panic(http.ErrAbortHandler)
	}
	if c.limit >= 0 && c.n+int64(len(p)) > c.limit {
		p = p[:c.limit-c.n]
		c.ResponseWriter.Write(p)
		c.o.sent.Add(int64(len(p)))
		c.ResponseWriter.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drops the connection
	}
	if c.tamper && !c.flipped && len(p) > 0 {
		c.flipped = true
		p = append([]byte{}, p...)
		p[0] ^= 0xff
	}
	n, err := c.ResponseWriter.Write(p)
	c.n += int64(n)
	c.o.sent.Add(int64(n))
	return n, err
}

func randomBlob(t testing.TB, size int) ([]byte, digest.Digest) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	return data, digest.FromBytes(data)
}

func engine(t testing.TB, dir string, mod func(*fetch.Options)) *fetch.Engine {
	t.Helper()
	opts := fetch.Options{Dir: dir, BackoffBase: time.Millisecond, BackoffMax: 10 * time.Millisecond, SegmentMin: 256 << 10}
	if mod != nil {
		mod(&opts)
	}
	e, err := fetch.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// fetchInto runs one Fetch and returns the bytes committed.
func fetchInto(ctx context.Context, e *fetch.Engine, r fetch.Request) ([]byte, *fetch.Result, error) {
	var got []byte
	r.Commit = func(f *os.File, _ digest.Digest, size int64) error {
		var err error
		got, err = io.ReadAll(io.LimitReader(f, size))
		return err
	}
	res, err := e.Fetch(ctx, r)
	return got, res, err
}

func serve(t testing.TB, h http.Handler) string {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestFetch(t *testing.T) {
	const size = 3<<20 + 123
	cutEvery := func(n int) int64 { return int64(300<<10 + n*7919) }
	cases := []struct {
		name string
		o    *origin
		// unknown: the request gives neither digest nor size.
		unknown bool
		// maxSent is the most bytes the origin may send, in blobs. A
		// connection that gives the tail of its range to another is
		// closed with the bytes the server already sent in flight (MiBs
		// of socket buffer on loopback): those count here, not in
		// Result.Fetched, which must stay within 1.05 blobs.
		maxSent float64
		// minRequests is the fewest requests expected (the blob is
		// fetched as segments).
		minRequests int
		// maxRequests, when set, is the most requests expected.
		maxRequests int
	}{
		{name: "clean", o: &origin{}, maxSent: 1.5, minRequests: 4},
		{name: "cut every response", o: &origin{cut: cutEvery}, maxSent: 1.5},
		{name: "ignores range, cut once", o: &origin{ignoreRange: true, cut: func(n int) int64 {
			if n == 0 {
				return 1 << 20
			}
			return -1
		}}, maxSent: 4},
		{name: "ignores range", o: &origin{ignoreRange: true}, maxSent: 1, maxRequests: 1},
		{name: "5xx then fine", o: &origin{status: func(n int, _ http.Header) int {
			if n < 3 {
				return http.StatusBadGateway
			}
			return 0
		}}, maxSent: 1.5},
		{name: "unknown digest and size", unknown: true, o: &origin{cut: cutEvery}, maxSent: 1.5},
		{name: "hangs up before answering", o: &origin{hangup: func(n int) bool { return n < 3 }}, maxSent: 1.5},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			data, digest := randomBlob(t, size)
			o := tc.o
			o.data = data
			u := serve(t, o)
			e := engine(t, t.TempDir(), nil)
			r := fetch.Request{Item: "blob", Digest: digest, Size: size, Sources: []fetch.Source{{URL: u + "/blob"}}}
			if tc.unknown {
				r.Digest, r.Size = "", -1
			}
			got, res, err := fetchInto(context.Background(), e, r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) || res.Digest != digest || res.Size != size {
				t.Fatalf("committed %d bytes (digest %s), want %d (%s)", len(got), res.Digest, size, digest)
			}
			if sent := float64(o.sent.Load()) / size; sent > tc.maxSent {
				t.Errorf("origin sent %.3f blobs, want at most %.2f", sent, tc.maxSent)
			}
			if f := float64(res.Fetched) / size; f > 1.05 && !o.ignoreRange {
				t.Errorf("fetched %.3f blobs, want at most 1.05", f)
			}
			if n := o.requests.Load(); tc.maxRequests > 0 && n > int64(tc.maxRequests) {
				t.Errorf("%d requests, want at most %d", n, tc.maxRequests)
			}
			if n := o.requests.Load(); n < int64(tc.minRequests) {
				t.Errorf("%d requests, want at least %d", n, tc.minRequests)
			}
			if p, n := e.Partial(); n != 0 || p != 0 {
				t.Errorf("partial files left: %d blobs, %d bytes", n, p)
			}
		})
	}
}

// TestFetchResumesAcrossRuns stops a download half way (as a killed build
// would), then fetches again with a new engine on the same directory: only
// the missing bytes are asked for.
func TestFetchResumesAcrossRuns(t *testing.T) {
	const size = 4 << 20
	data, digest := randomBlob(t, size)
	o := &origin{data: data, stall: size / 2}
	u := serve(t, o)
	dir := t.TempDir()
	ctx, e := stoppingEngine(t, dir, size/3)
	r := fetch.Request{Item: "blob", Digest: digest, Size: size, Sources: []fetch.Source{{URL: u + "/blob"}}}
	if _, _, err := fetchInto(ctx, e, r); !errors.Is(err, context.Canceled) {
		t.Fatalf("want the cancelled fetch to fail with context.Canceled, got %v", err)
	}
	kept, n := e.Partial()
	if n != 1 || kept < size/3 {
		t.Fatalf("kept %d bytes of %d blobs, want at least %d of 1", kept, n, size/3)
	}
	o.mu.Lock()
	o.ranges = nil
	o.stall = 0
	o.mu.Unlock()
	got, res, err := fetchInto(context.Background(), engine(t, dir, func(opts *fetch.Options) { opts.Connections = 1 }), r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("resumed blob differs")
	}
	if res.Resumed != kept {
		t.Errorf("Resumed = %d, want %d", res.Resumed, kept)
	}
	if res.Fetched != size-kept {
		t.Errorf("the rerun fetched %d bytes, want the missing %d", res.Fetched, size-kept)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if want := fmt.Sprintf("bytes=%d-%d", kept, size-1); len(o.ranges) != 1 || o.ranges[0] != want {
		t.Errorf("the rerun asked for %q, want one request for %q", o.ranges, want)
	}
}

// stoppingEngine returns an engine on dir with one connection per blob,
// and a context it cancels once after bytes have arrived, as a killed
// build stops.
func stoppingEngine(t *testing.T, dir string, after int64) (context.Context, *fetch.Engine) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	var seen atomic.Int64
	e := engine(t, dir, func(opts *fetch.Options) {
		opts.Connections = 1
		opts.Progress = func(ev fetch.Event) {
			if ev.Kind == fetch.Received && seen.Add(ev.Bytes) >= after {
				cancel()
			}
		}
	})
	return ctx, e
}

// TestFetchStaleStateStartsOver: a part file whose bytes are wrong (a
// state that claims more than is right) is caught by the digest and the
// blob is fetched again; nothing wrong is committed.
func TestFetchStaleStateStartsOver(t *testing.T) {
	const size = 1 << 20
	data, digest := randomBlob(t, size)
	dir := t.TempDir()
	k := digest.Encoded()
	bad := append([]byte{}, data[:size/2]...)
	bad[10] ^= 1
	if err := os.WriteFile(dir+"/"+k+".part", bad, 0o644); err != nil {
		t.Fatal(err)
	}
	st := fmt.Sprintf(`{"digest":%q,"size":%d,"segments":[[0,%d,%d]]}`, digest, size, size, size/2)
	if err := os.WriteFile(dir+"/"+k+".state", []byte(st), 0o644); err != nil {
		t.Fatal(err)
	}
	o := &origin{data: data}
	u := serve(t, o)
	got, _, err := fetchInto(context.Background(), engine(t, dir, nil), fetch.Request{Item: "blob", Digest: digest, Size: size, Sources: []fetch.Source{{URL: u + "/blob"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("committed wrong bytes")
	}
}

// TestFetchWrongSource: one of two sources serves wrong bytes. The blob
// still arrives, and when it is the only source the error names it.
func TestFetchWrongSource(t *testing.T) {
	const size = 2 << 20
	data, digest := randomBlob(t, size)
	bad := serve(t, &origin{data: data, tamper: true})
	good := serve(t, &origin{data: data})
	e := engine(t, t.TempDir(), nil)
	got, res, err := fetchInto(context.Background(), e, fetch.Request{Item: "blob", Digest: digest, Size: size,
		Sources: []fetch.Source{{Name: "bad", URL: bad + "/blob"}, {Name: "good", URL: good + "/blob"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) || res.Source != "good" {
		t.Fatalf("got %d bytes from %q, want the blob from good", len(got), res.Source)
	}
	_, _, err = fetchInto(context.Background(), e, fetch.Request{Item: "blob", Digest: digest, Size: size,
		Sources: []fetch.Source{{Name: "bad", URL: bad + "/blob"}}})
	var de *fetch.DigestError
	if !errors.As(err, &de) || de.Source != "bad" || !errors.Is(err, fetch.ErrDigestMismatch) {
		t.Fatalf("want a DigestError naming bad, got %v", err)
	}
}

// TestFetchSpreadsOverSources: a large blob is fetched from both mirrors
// at once, and a mirror that fails every request leaves its share to the
// others.
func TestFetchSpreadsOverSources(t *testing.T) {
	const size = 8 << 20
	data, digest := randomBlob(t, size)
	a := &origin{data: data}
	b := &origin{data: data}
	dead := &origin{data: data, status: func(int, http.Header) int { return http.StatusInternalServerError }}
	srcs := []fetch.Source{{Name: "a", URL: serve(t, a) + "/blob"}, {Name: "dead", URL: serve(t, dead) + "/blob"}, {Name: "b", URL: serve(t, b) + "/blob"}}
	got, res, err := fetchInto(context.Background(), engine(t, t.TempDir(), nil), fetch.Request{Item: "blob", Digest: digest, Size: size, Sources: srcs})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("wrong bytes")
	}
	if a.sent.Load() == 0 || b.sent.Load() == 0 {
		t.Errorf("sent a=%d b=%d: want both mirrors used", a.sent.Load(), b.sent.Load())
	}
	if res.Fetched > size*105/100 {
		t.Errorf("fetched %d bytes for a blob of %d", res.Fetched, size)
	}
}

// TestFetchRetryAfter: a 429 with Retry-After is waited out as asked.
func TestFetchRetryAfter(t *testing.T) {
	data, digest := randomBlob(t, 1000)
	o := &origin{data: data, status: func(n int, h http.Header) int {
		if n == 0 {
			h.Set("Retry-After", "1")
			return http.StatusTooManyRequests
		}
		return 0
	}}
	u := serve(t, o)
	var waits []time.Duration
	var mu sync.Mutex
	e := engine(t, t.TempDir(), func(opts *fetch.Options) {
		opts.Progress = func(ev fetch.Event) {
			if ev.Kind == fetch.Retrying {
				mu.Lock()
				waits = append(waits, ev.Wait)
				mu.Unlock()
			}
		}
	})
	if _, _, err := fetchInto(context.Background(), e, fetch.Request{Item: "blob", Digest: digest, Size: 1000, Sources: []fetch.Source{{URL: u + "/blob"}}}); err != nil {
		t.Fatal(err)
	}
	if len(waits) != 1 || waits[0] != time.Second {
		t.Fatalf("waits %v, want one of 1s", waits)
	}
}

// TestFetchGivesUp: a source that never brings a byte is given up after
// Retries attempts; 404 at once.
func TestFetchGivesUp(t *testing.T) {
	data, digest := randomBlob(t, 1000)
	for _, tc := range []struct {
		code, attempts int
	}{{http.StatusServiceUnavailable, 3}, {http.StatusNotFound, 1}} {
		t.Run(http.StatusText(tc.code), func(t *testing.T) {
			o := &origin{data: data, status: func(int, http.Header) int { return tc.code }}
			u := serve(t, o)
			e := engine(t, t.TempDir(), func(opts *fetch.Options) { opts.Retries = 3 })
			_, _, err := fetchInto(context.Background(), e, fetch.Request{Item: "blob", Digest: digest, Size: 1000, Sources: []fetch.Source{{URL: u + "/blob"}}})
			var se *fetch.SourceError
			if !errors.As(err, &se) || se.Status != tc.code {
				t.Fatalf("want a SourceError with %d, got %v", tc.code, err)
			}
			if n := o.requests.Load(); n != int64(tc.attempts) {
				t.Errorf("%d requests, want %d", n, tc.attempts)
			}
		})
	}
}

// TestFetchProgressRetriesForever: a source whose every connection is cut
// but brings bytes each time is never given up, however many attempts.
func TestFetchProgressRetriesForever(t *testing.T) {
	const size = 2 << 20
	data, digest := randomBlob(t, size)
	o := &origin{data: data, cut: func(int) int64 { return 64 << 10 }}
	u := serve(t, o)
	e := engine(t, t.TempDir(), func(opts *fetch.Options) { opts.Retries = 2; opts.Connections = 1 })
	got, _, err := fetchInto(context.Background(), e, fetch.Request{Item: "blob", Digest: digest, Size: size, Sources: []fetch.Source{{URL: u + "/blob"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) || o.requests.Load() < 30 {
		t.Fatalf("%d requests, %d bytes: want the blob in 32 cut pieces", o.requests.Load(), len(got))
	}
}

// TestFetchExpiringRedirect: blob GETs redirect to a CDN whose URLs
// expire; range requests go to the CDN directly until it refuses one,
// then a new redirect is asked for.
func TestFetchExpiringRedirect(t *testing.T) {
	const size = 2 << 20
	data, digest := randomBlob(t, size)
	cdn := &origin{data: data, cut: func(int) int64 { return 200 << 10 }}
	var issued atomic.Int64
	var refused atomic.Int64
	var usesMu sync.Mutex
	uses := map[int]int{}
	mux := http.NewServeMux()
	mux.HandleFunc("/cdn/", func(w http.ResponseWriter, r *http.Request) {
		// Each URL is good for 3 requests.
		var id int
		fmt.Sscanf(r.URL.Path, "/cdn/%d", &id)
		usesMu.Lock()
		uses[id]++
		n := uses[id]
		usesMu.Unlock()
		if n > 3 {
			refused.Add(1)
			http.Error(w, "expired", http.StatusForbidden)
			return
		}
		cdn.ServeHTTP(w, r)
	})
	mux.HandleFunc("/v2/blob", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, fmt.Sprintf("/cdn/%d", issued.Add(1)), http.StatusTemporaryRedirect)
	})
	u := serve(t, mux)
	e := engine(t, t.TempDir(), func(opts *fetch.Options) { opts.Connections = 1 })
	got, _, err := fetchInto(context.Background(), e, fetch.Request{Item: "blob", Digest: digest, Size: size, Sources: []fetch.Source{{URL: u + "/v2/blob"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("wrong bytes")
	}
	if refused.Load() == 0 || issued.Load() < 2 {
		t.Fatalf("issued %d redirects, %d refused: want expired ones renewed", issued.Load(), refused.Load())
	}
	if issued.Load() > cdn.requests.Load() {
		t.Errorf("%d redirects for %d CDN requests: want range requests sent straight to the CDN", issued.Load(), cdn.requests.Load())
	}
}

// TestFetchUnreachable: an unreachable host is remembered with the items
// that needed it.
func TestFetchUnreachable(t *testing.T) {
	data, digest := randomBlob(t, 100)
	good := serve(t, &origin{data: data})
	srv := httptest.NewServer(http.NotFoundHandler())
	dead := srv.URL
	srv.Close()
	e := engine(t, t.TempDir(), nil)
	if _, _, err := fetchInto(context.Background(), e, fetch.Request{Item: "one", Digest: digest, Size: 100,
		Sources: []fetch.Source{{URL: dead + "/blob"}, {URL: good + "/blob"}}}); err != nil {
		t.Fatal(err)
	}
	_, _, err := fetchInto(context.Background(), e, fetch.Request{Item: "two", Digest: digest, Size: 100, Sources: []fetch.Source{{URL: dead + "/blob"}}})
	if !fetch.Unreachable(err) {
		t.Fatalf("want an unreachable error, got %v", err)
	}
	hosts := e.Unreachable()
	if len(hosts) != 1 || strings.Join(hosts[0].Items, ",") != "one,two" {
		t.Fatalf("Unreachable() = %+v, want one host needed by one and two", hosts)
	}
}

// memPart is a Part in memory.
type memPart struct {
	mu        sync.Mutex
	id        string
	data      []byte
	committed digest.Digest
}

func (m *memPart) ReadAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := copy(p, m.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (m *memPart) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if off+int64(len(p)) > int64(len(m.data)) {
		return 0, errors.New("write past the place")
	}
	return copy(m.data[off:], p), nil
}

func (m *memPart) ID() string { return m.id }

func (m *memPart) Commit(d digest.Digest) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.committed = d
	return nil
}

// TestFetchPlace: a blob given a Place is written there, not to a part
// file, and a rerun resumes into the same place only.
func TestFetchPlace(t *testing.T) {
	const size = 4 << 20
	data, digest := randomBlob(t, size)
	o := &origin{data: data, stall: size / 2}
	u := serve(t, o)
	dir := t.TempDir()
	place := &memPart{id: "tar@1024", data: make([]byte, size)}
	r := fetch.Request{Item: "blob", Digest: digest, Size: size, Sources: []fetch.Source{{URL: u + "/blob"}},
		Place: func(n int64) (fetch.Part, error) {
			if n != size {
				t.Errorf("Place(%d), want %d", n, size)
			}
			return place, nil
		}}
	ctx, e := stoppingEngine(t, dir, size/3)
	if _, err := e.Fetch(ctx, r); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	if parts, _ := filepath.Glob(filepath.Join(dir, "*.part")); len(parts) != 0 {
		t.Errorf("part files %v made for a blob with a place", parts)
	}
	kept, _ := e.Partial()
	o.mu.Lock()
	o.stall = 0
	o.mu.Unlock()
	res, err := engine(t, dir, func(opts *fetch.Options) { opts.Connections = 1 }).Fetch(context.Background(), r)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(place.data, data) || place.committed != digest {
		t.Fatalf("place holds the wrong bytes or was not committed (%q)", place.committed)
	}
	if res.Resumed != kept || res.Fetched != size-kept {
		t.Errorf("resumed %d and fetched %d, want %d and %d", res.Resumed, res.Fetched, kept, size-kept)
	}
}

// deadTransport fails every request as an unreachable host does, and
// counts them.
type deadTransport struct{ n atomic.Int64 }

func (d *deadTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	d.n.Add(1)
	return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
}

// TestFetchAvoidsUnreachableHost: once a host is found unreachable, the
// connections of a large blob are not spread over it while another source
// answers.
func TestFetchAvoidsUnreachableHost(t *testing.T) {
	const size = 4 << 20
	data, digest := randomBlob(t, size)
	good := serve(t, &origin{data: data})
	dead := &deadTransport{}
	srcs := []fetch.Source{
		{Name: "dead", URL: "http://dead.example/blob", Client: &http.Client{Transport: dead}},
		{Name: "good", URL: good + "/blob"},
	}
	e := engine(t, t.TempDir(), nil)
	small, smallDigest := randomBlob(t, 100)
	smallSrv := serve(t, &origin{data: small})
	if _, _, err := fetchInto(context.Background(), e, fetch.Request{Item: "first", Digest: smallDigest, Size: 100,
		Sources: []fetch.Source{srcs[0], {URL: smallSrv + "/blob"}}}); err != nil {
		t.Fatal(err)
	}
	before := dead.n.Load()
	if before == 0 {
		t.Fatal("the first fetch did not try the dead host")
	}
	got, _, err := fetchInto(context.Background(), e, fetch.Request{Item: "big", Digest: digest, Size: size, Sources: srcs})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) {
		t.Fatal("wrong bytes")
	}
	if n := dead.n.Load() - before; n != 0 {
		t.Errorf("the known unreachable host was asked %d more times", n)
	}
}
