package fetch

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"github.com/opencontainers/go-digest"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paimirror/paimirror/manifests/redact"
)

// Options configures an Engine. Only Dir is required.
type Options struct {
	// Dir holds partial downloads (<key>.part, <key>.state) between
	// attempts and between runs. It is created if missing.
	Dir string
	// Client makes requests for sources that bring no client of their
	// own; default: a client over a clone of http.DefaultTransport.
	Client *http.Client
	// Retries is how many attempts in a row that bring no bytes give up a
	// source for a blob; default 5.
	Retries int
	// Connections is how many connections one large blob may use at once;
	// default 5. 1 turns segmenting off.
	Connections int
	// SegmentMin is the smallest segment: a blob smaller than twice this
	// is one request; default 4 MiB.
	SegmentMin int64
	// MaxConnections bounds the data connections of all downloads
	// together; default 4×Connections.
	MaxConnections int
	// BackoffBase and BackoffMax bound the wait after a failed attempt,
	// which doubles per attempt in a row without progress, with jitter;
	// defaults 500ms and 30s.
	BackoffBase, BackoffMax time.Duration
	// MaxRetryAfter caps how long a Retry-After is honoured; default 10
	// minutes.
	MaxRetryAfter time.Duration
	// Logger receives debug and warning records; default: discard.
	Logger *slog.Logger
	// Progress, when set, receives events (from many goroutines).
	Progress func(Event)
}

// EventKind says what an Event reports.
type EventKind int

const (
	// Started: Item begins; Total is its size when known (else -1) and
	// Resumed the bytes kept from an earlier run.
	Started EventKind = iota
	// Sized: Item's size became known (Total).
	Sized
	// Received: Bytes new bytes of Item arrived over the network.
	Received
	// Discarded: Bytes of Item already reported were thrown away (the
	// blob starts over).
	Discarded
	// Retrying: an attempt at Item from Source failed (Err); the next
	// comes after Wait.
	Retrying
	// Finished: Item is verified and committed.
	Finished
)

// Event is a progress report from a download.
type Event struct {
	Kind    EventKind
	Item    string
	Source  string
	Bytes   int64
	Total   int64
	Resumed int64
	Wait    time.Duration
	Err     error
}

// Source is one place a blob can be read from.
type Source struct {
	// Name identifies the source in errors, events, log records and
	// Result.Source (a repository or a URL); default URL. Its userinfo and
	// query values are hidden there (redact.URL).
	Name string
	// URL is what to GET.
	URL string
	// Client makes the requests (an authenticating transport for a
	// registry); default Options.Client.
	Client *http.Client
	// Header is added to every request.
	Header http.Header
}

// name is how the source is shown: its Name or URL, without the
// credentials a URL can carry.
func (s Source) name() string {
	if s.Name != "" {
		return redact.URL(s.Name)
	}
	return redact.URL(s.URL)
}

func (s Source) host() string {
	u, err := url.Parse(s.URL)
	if err != nil {
		return redact.URL(s.URL)
	}
	return u.Host
}

// Request is one blob to download.
type Request struct {
	// Item names the blob in events, errors and log records; a URL in it
	// is shown without its credentials (redact.Text).
	Item string
	// Digest is the blob's sha256 digest; "" when unknown (the result's
	// digest is then computed, and a partial download is only resumed
	// where the source's ETag or Last-Modified shows the content
	// unchanged). Another algorithm is refused.
	Digest digest.Digest
	// Size is the size in bytes; negative when unknown.
	Size int64
	// Sources serve the same bytes, in order of preference.
	Sources []Source
	// Limit, when positive and Size is unknown, fails a body longer than
	// this.
	Limit int64
	// Commit receives the verified blob (f at offset 0, size bytes) before
	// the partial files are removed; an error fails the Fetch and keeps
	// them. It is not called for a blob in a Place.
	Commit func(f *os.File, d digest.Digest, size int64) error
	// Place, when set, is asked (for a blob whose Digest and Size are
	// given) where its bytes go instead of a part file: a region the
	// caller owns, such as the blob's member in the tar being written, so
	// that the verified bytes are already where they belong. A nil Part
	// keeps the part file. An earlier run's state is resumed only into a
	// Part with the same ID.
	Place func(size int64) (Part, error)
}

// Part is a place of a blob's size for its bytes (see Request.Place).
type Part interface {
	io.ReaderAt
	io.WriterAt
	// ID names the place for the state file, e.g. "tar@OFFSET".
	ID() string
	// Commit is called once the bytes are all there and verified.
	Commit(d digest.Digest) error
}

// Result says what a Fetch did.
type Result struct {
	// Digest is the sha256 digest of the bytes.
	Digest digest.Digest
	// Size is their length.
	Size int64
	// Source names the source that delivered the most bytes ("" when all
	// were kept from an earlier run).
	Source string
	// Fetched is the bytes received over the network, those thrown away
	// included; Resumed the bytes kept from an earlier run.
	Fetched, Resumed int64
}

// Engine runs downloads. Make one with New.
type Engine struct {
	opts  Options
	log   *slog.Logger
	conns chan struct{}

	fetched atomic.Int64

	mu     sync.Mutex
	hosts  map[string]*hostHealth
	active map[string]bool
}

type hostHealth struct {
	unreachable bool
	err         error
	items       map[string]bool
	failures    int // attempts in a row that failed
}

// New returns an Engine. It fails only when Dir cannot be created.
func New(opts Options) (*Engine, error) {
	if opts.Dir == "" {
		return nil, errors.New("fetch: Options.Dir is required")
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	}
	if opts.Retries <= 0 {
		opts.Retries = 5
	}
	if opts.Connections <= 0 {
		opts.Connections = 5
	}
	if opts.SegmentMin <= 0 {
		opts.SegmentMin = 4 << 20
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = 4 * opts.Connections
	}
	if opts.BackoffBase <= 0 {
		opts.BackoffBase = 500 * time.Millisecond
	}
	if opts.BackoffMax <= 0 {
		opts.BackoffMax = 30 * time.Second
	}
	if opts.MaxRetryAfter <= 0 {
		opts.MaxRetryAfter = 10 * time.Minute
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Engine{
		opts: opts, log: log, conns: make(chan struct{}, opts.MaxConnections),
		hosts: map[string]*hostHealth{}, active: map[string]bool{},
	}, nil
}

// Fetched returns the bytes received over the network by every Fetch so
// far.
func (e *Engine) Fetched() int64 { return e.fetched.Load() }

// Partial reports the bytes kept in Dir for unfinished downloads, and how
// many there are.
func (e *Engine) Partial() (bytes int64, blobs int) {
	ents, _ := os.ReadDir(e.opts.Dir)
	for _, de := range ents {
		if !strings.HasSuffix(de.Name(), ".state") {
			continue
		}
		st, err := readState(filepath.Join(e.opts.Dir, de.Name()))
		if err != nil {
			continue
		}
		if n := st.have(); n > 0 {
			bytes += n
			blobs++
		}
	}
	return bytes, blobs
}

// HostError is a host no source on it could reach, with the items that
// needed it.
type HostError struct {
	Host  string
	Items []string
	Err   error
}

// Unreachable returns the hosts found unreachable, with the items that
// needed them, sorted by host.
func (e *Engine) Unreachable() []HostError {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []HostError
	for h, hh := range e.hosts {
		if !hh.unreachable {
			continue
		}
		items := make([]string, 0, len(hh.items))
		for it := range hh.items {
			items = append(items, it)
		}
		sort.Strings(items)
		out = append(out, HostError{Host: h, Items: items, Err: hh.err})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Host < out[j].Host })
	return out
}

func (e *Engine) health(host string) *hostHealth {
	hh := e.hosts[host]
	if hh == nil {
		hh = &hostHealth{items: map[string]bool{}}
		e.hosts[host] = hh
	}
	return hh
}

// noteResult records an attempt's outcome for a host's health.
func (e *Engine) noteResult(host, item string, progress bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	hh := e.health(host)
	switch {
	case err == nil || progress:
		hh.failures = 0
		hh.unreachable = false
	case Unreachable(err):
		hh.failures++
		hh.unreachable = true
		hh.err = err
		hh.items[item] = true
	default:
		hh.failures++
	}
}

// reachable returns the sources whose host is not known to be
// unreachable.
func (e *Engine) reachable(srcs []*srcState, host func(*srcState) string) []*srcState {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*srcState
	for _, s := range srcs {
		if hh := e.hosts[host(s)]; hh == nil || !hh.unreachable {
			out = append(out, s)
		}
	}
	return out
}

// order returns sources sorted so that hosts known to be unreachable or
// failing come last, keeping the given order otherwise.
func (e *Engine) order(srcs []Source) []Source {
	e.mu.Lock()
	defer e.mu.Unlock()
	rank := func(s Source) int {
		hh := e.hosts[s.host()]
		switch {
		case hh == nil:
			return 0
		case hh.unreachable:
			return 2
		case hh.failures > 2:
			return 1
		}
		return 0
	}
	out := append([]Source(nil), srcs...)
	sort.SliceStable(out, func(i, j int) bool { return rank(out[i]) < rank(out[j]) })
	return out
}

func (e *Engine) emit(ev Event) {
	if e.opts.Progress != nil {
		e.opts.Progress(ev)
	}
}

// key names a blob's partial files.
func key(r Request) string {
	if r.Digest != "" {
		return r.Digest.Encoded()
	}
	first := ""
	if len(r.Sources) > 0 {
		first = r.Sources[0].URL
	}
	s := sha256.Sum256([]byte(r.Item + "\x00" + first))
	return "url-" + hex.EncodeToString(s[:])
}

// Fetch downloads one blob (see the package documentation), hands it to
// r.Commit, and removes its partial files. Calls for the same blob should
// not overlap (the second downloads it again, apart).
func (e *Engine) Fetch(ctx context.Context, r Request) (*Result, error) {
	shown := redact.Text(r.Item) // r.Item as events, errors and logs show it
	if len(r.Sources) == 0 {
		return nil, fmt.Errorf("%s: no source", shown)
	}
	if r.Digest != "" && (r.Digest.Validate() != nil || r.Digest.Algorithm() != digest.SHA256) {
		return nil, fmt.Errorf("%s: digest %q is not a sha256 digest", shown, r.Digest)
	}
	k := key(r)
	r.Item = shown
	e.mu.Lock()
	for i := 2; e.active[k]; i++ {
		// The same blob for another item at the same time: its own
		// partial files (not resumed by a later run).
		k = fmt.Sprintf("%s-%d", key(r), i)
	}
	e.active[k] = true
	e.mu.Unlock()
	defer func() {
		e.mu.Lock()
		delete(e.active, k)
		e.mu.Unlock()
	}()
	b, err := openBlob(e, r, k)
	if err != nil {
		return nil, err
	}
	defer b.close()
	return b.run(ctx)
}
