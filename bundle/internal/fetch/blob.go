package fetch

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"github.com/opencontainers/go-digest"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/paimirror/paimirror/manifests/redact"
)

// saveEvery is how many bytes a blob receives between rewrites of its
// state file (and so the most a killed build loses per blob, besides
// those of each connection's last chunk); persistMin is the size below
// which a blob's state is not written at all.
const (
	saveEvery  = 1 << 20
	persistMin = 2 << 20
)

// chunk is the most a connection reads before writing and recording it;
// it writes as soon as minChunk arrived.
const (
	chunk    = 256 << 10
	minChunk = 64 << 10
)

// fill reads into buf until minChunk bytes arrived, buf is full or the
// body fails or ends (io.EOF).
func fill(r io.Reader, buf []byte) (int, error) {
	n := 0
	for n < min(minChunk, len(buf)) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// srcState is one source's standing for one blob.
type srcState struct {
	Source
	host       string
	noProgress int       // attempts in a row that brought nothing
	gaveUp     bool      // no more attempts for this blob
	notBefore  time.Time // backoff
	loc        string    // the redirect target last seen, for range requests
	noRange    bool      // answered a range request with the whole body
	err        error     // the last failure
	delivered  int64     // bytes this run
}

// blob is one download in progress.
type blob struct {
	e   *Engine
	r   Request
	key string

	// data holds the bytes: the part file, or the Request's Place.
	data interface {
		io.ReaderAt
		io.WriterAt
	}
	file  *os.File // the part file, when there is no Place
	place Part
	state stateFile
	paths [2]string // part, state

	// wmu is held (shared) across a write to the part file and taken
	// (exclusive) to start the blob over, so no write of an abandoned
	// generation lands after it.
	wmu sync.RWMutex

	mu      sync.Mutex
	size    int64
	segs    []*segment
	srcs    []*srcState
	etag    string
	lastMod string
	gen     int
	single  bool // one source at a time (after a mismatch; digest unknown)
	rangeOK bool // a source answered a range request with 206
	noProbe bool // a source refused "bytes=0-": ask without a range
	failed  error
	resumed int64
	fetched int64
	unsaved int64 // bytes written since the state was last saved
	workers int
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup

	hashMu sync.Mutex
	h      hash.Hash
	hashed atomic.Int64
}

func openBlob(e *Engine, r Request, k string) (*blob, error) {
	b := &blob{e: e, r: r, key: k, size: -1, h: sha256.New()}
	b.paths = [2]string{filepath.Join(e.opts.Dir, k+".part"), filepath.Join(e.opts.Dir, k+".state")}
	if r.Place != nil && r.Size >= 0 && r.Digest != "" {
		p, err := r.Place(r.Size)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Item, err)
		}
		b.place = p
	}
	var partSize int64 = -1 // a Place is its full size already
	if b.place == nil {
		f, err := os.OpenFile(b.paths[0], os.O_RDWR|os.O_CREATE, 0o644)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", r.Item, err)
		}
		b.file, b.data = f, f
		if fi, err := f.Stat(); err == nil {
			partSize = fi.Size()
		}
	} else {
		b.data = b.place
	}
	b.state.path = b.paths[1]
	for _, s := range e.order(r.Sources) {
		b.srcs = append(b.srcs, &srcState{Source: s, host: s.host()})
	}
	b.single = r.Digest == ""
	if r.Size >= 0 {
		b.size = r.Size
	}
	if st := b.resumable(partSize); st != nil {
		b.size, b.etag, b.lastMod = st.Size, st.ETag, st.LastModified
		for _, g := range st.Segments {
			b.segs = append(b.segs, &segment{Start: g[0], End: g[1], Pos: g[2], owner: -1})
		}
		b.resumed = st.have()
	} else {
		if partSize > 0 {
			// (Only when there is something to drop: ext4 flushes a
			// file truncated to 0 when it is closed.)
			b.file.Truncate(0)
		}
		b.segs = []*segment{{End: unknownEnd, owner: -1}}
		if b.size >= 0 {
			b.segs[0].End = b.size
		}
	}
	return b, nil
}

// placeID names where the blob's bytes are, for the state file.
func (b *blob) placeID() string {
	if b.place != nil {
		return b.place.ID()
	}
	return ""
}

// resumable returns the state an earlier run left, when it describes this
// blob in the same place (a part file of partSize bytes, or the same
// Part).
func (b *blob) resumable(partSize int64) *state {
	st, err := readState(b.paths[1])
	if err != nil {
		return nil
	}
	limit := partSize
	if b.place != nil {
		limit = st.Size
	}
	if !st.valid(limit) || st.Place != b.placeID() || st.Digest != b.r.Digest || (b.r.Size >= 0 && st.Size != b.r.Size) {
		return nil
	}
	if b.r.Digest == "" && st.ETag == "" && st.LastModified == "" {
		return nil // nothing shows the content is still the same
	}
	if st.Size == 0 {
		return nil
	}
	return st
}

func (b *blob) close() {
	if b.file != nil {
		b.file.Close()
	}
	if b.state.f != nil {
		b.state.f.Close()
	}
}

// remove deletes the partial files.
func (b *blob) remove() {
	if b.file != nil {
		os.Remove(b.paths[0])
	}
	os.Remove(b.paths[1])
}

// commit hands the verified blob to its place or to Request.Commit.
func (b *blob) commit(d digest.Digest) error {
	if b.place != nil {
		return b.place.Commit(d)
	}
	if _, err := b.file.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := b.file.Truncate(b.size); err != nil {
		return err
	}
	if b.r.Commit != nil {
		return b.r.Commit(b.file, d, b.size)
	}
	return nil
}

func (b *blob) emit(ev Event) {
	ev.Item = b.r.Item
	b.e.emit(ev)
}

// run downloads, verifies and commits the blob.
func (b *blob) run(ctx context.Context) (*Result, error) {
	b.emit(Event{Kind: Started, Total: b.size, Resumed: b.resumed})
	for {
		if err := b.download(ctx); err != nil {
			b.saveState()
			return nil, err
		}
		b.advanceHash(nil, 0, true)
		got := digest.NewDigestFromBytes(digest.SHA256, b.h.Sum(nil))
		if b.r.Digest != "" && got != b.r.Digest {
			if err := b.mismatch(got); err != nil {
				b.remove()
				return nil, err
			}
			continue
		}
		if err := b.commit(got); err != nil {
			return nil, err
		}
		b.remove()
		b.emit(Event{Kind: Finished, Total: b.size})
		res := &Result{Digest: got, Size: b.size, Fetched: b.fetched, Resumed: b.resumed}
		var best int64
		for _, s := range b.srcs {
			if s.delivered > best {
				best, res.Source = s.delivered, s.name()
			}
		}
		return res, nil
	}
}

// mismatch handles a whole blob that hashed to got: the source that
// delivered it alone is given up; bytes from several sources (or kept
// from an earlier run) are thrown away and fetched again from one source
// at a time. It returns an error when no source is left.
func (b *blob) mismatch(got digest.Digest) error {
	var from []*srcState
	for _, s := range b.srcs {
		if s.delivered > 0 {
			from = append(from, s)
		}
	}
	b.e.log.Warn("digest mismatch", "item", b.r.Item, "got", got, "want", b.r.Digest)
	if len(from) == 1 && b.resumed == 0 {
		s := from[0]
		s.gaveUp = true
		s.err = &DigestError{Item: b.r.Item, Source: s.name(), Want: b.r.Digest, Got: got}
	}
	b.single = true
	b.restart(-1, -1)
	for _, s := range b.srcs {
		s.delivered = 0
	}
	b.resumed = 0
	if b.usable() == 0 {
		return b.allFailed()
	}
	return nil
}

// usable counts the sources not given up. Callers hold mu (or own b).
func (b *blob) usable() int {
	n := 0
	for _, s := range b.srcs {
		if !s.gaveUp {
			n++
		}
	}
	return n
}

// allFailed joins the sources' errors.
func (b *blob) allFailed() error {
	var errs []error
	for _, s := range b.srcs {
		if s.err != nil {
			errs = append(errs, s.err)
		}
	}
	if len(errs) == 0 {
		errs = append(errs, fmt.Errorf("%s: no source could serve it", b.r.Item))
	}
	return errors.Join(errs...)
}

// restart starts the blob over from byte 0: one segment, owned by worker
// (or none, -1), and returns it with the new generation. It waits for
// writes in flight. With gen >= 0 it does nothing (nil) unless the blob is
// still at generation gen.
func (b *blob) restart(worker, gen int) (*segment, int) {
	b.hashMu.Lock()
	b.wmu.Lock()
	b.mu.Lock()
	if gen >= 0 && b.gen != gen {
		cur := b.gen
		b.mu.Unlock()
		b.wmu.Unlock()
		b.hashMu.Unlock()
		return nil, cur
	}
	var had int64
	for _, s := range b.segs {
		had += s.Pos - s.Start
	}
	b.gen++
	end := int64(unknownEnd)
	if b.size >= 0 {
		end = b.size
	}
	seg := &segment{End: end, owner: worker}
	b.segs = []*segment{seg}
	gen = b.gen
	b.mu.Unlock()
	b.wmu.Unlock()
	b.h.Reset()
	b.hashed.Store(0)
	b.hashMu.Unlock()
	b.saveState()
	if had > 0 {
		b.emit(Event{Kind: Discarded, Bytes: had})
	}
	return seg, gen
}

// download runs connections until every segment is complete or the blob
// fails.
func (b *blob) download(ctx context.Context) error {
	b.ctx, b.cancel = context.WithCancel(ctx)
	defer b.cancel()
	b.mu.Lock()
	b.failed = nil
	b.workers = 0
	// A blob worth several connections is split before the first asks:
	// each asks for a range of its own, so none is sent bytes another
	// will take over. Until a source shows it serves ranges one
	// connection runs, and takes over the following segments when it is
	// sent the whole body instead.
	if n := b.wantLocked(); !b.splitEvenLocked(n) {
		b.splitToLocked(n)
	}
	b.spawnLocked()
	b.mu.Unlock()
	b.wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failed != nil {
		return b.failed
	}
	if b.contiguousLocked() != b.size || b.size < 0 {
		return b.allFailed()
	}
	return nil
}

// spawnLocked starts connections up to what the blob's size allows.
// Callers hold mu.
func (b *blob) spawnLocked() {
	want := 1
	if b.rangeOK {
		want = b.wantLocked()
	}
	b.splitToLocked(want)
	for ; b.workers < want; b.workers++ {
		id := b.workers
		b.wg.Go(func() { b.worker(id) })
	}
}

// wantLocked returns how many connections the blob is worth: one per
// SegmentMin, at most Connections, 1 for a blob under 2×SegmentMin or of
// unknown size, or when no source serves ranges. Callers hold mu.
func (b *blob) wantLocked() int {
	if b.size < 2*b.e.opts.SegmentMin || b.noRanges() {
		return 1
	}
	return int(min(int64(b.e.opts.Connections), b.size/b.e.opts.SegmentMin))
}

// noRanges reports whether no usable source serves ranges. Callers hold
// mu.
func (b *blob) noRanges() bool {
	for _, s := range b.srcs {
		if !s.gaveUp && !s.noRange {
			return false
		}
	}
	return true
}

func (b *blob) worker(id int) {
	ctx := b.ctx
	select {
	case b.e.conns <- struct{}{}:
	case <-ctx.Done():
		return
	}
	defer func() { <-b.e.conns }()
	for {
		b.mu.Lock()
		if b.failed != nil || ctx.Err() != nil {
			b.mu.Unlock()
			return
		}
		seg := b.claimLocked(id)
		if seg == nil {
			b.mu.Unlock()
			return
		}
		src, wait := b.pickLocked(id, seg)
		if src == nil {
			b.failed = b.allFailed()
			b.cancel()
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		if wait > 0 {
			if !sleep(ctx, wait) {
				b.release(seg)
				return
			}
		}
		got, err := b.attempt(ctx, id, seg, src)
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			b.release(seg)
			return
		}
		if errors.Is(err, errAgain) {
			continue
		}
		if errors.Is(err, errStop) {
			return
		}
		b.saveState()
		b.failedAttempt(src, got, err)
	}
}

// release gives a segment up for another connection.
func (b *blob) release(seg *segment) {
	b.mu.Lock()
	seg.owner = -1
	b.mu.Unlock()
}

// failedAttempt records a failed attempt from src that brought got bytes,
// and sets when src may be tried again or gives it up.
func (b *blob) failedAttempt(src *srcState, got int64, err error) {
	b.e.noteResult(src.host, b.r.Item, got > 0, err)
	b.mu.Lock()
	defer b.mu.Unlock()
	src.err = err
	if got > 0 {
		src.noProgress = 0
	} else {
		src.noProgress++
	}
	var wait time.Duration
	switch {
	case !Transient(err) || src.noProgress >= b.e.opts.Retries:
		src.gaveUp = true
		b.e.log.Warn("giving up a source", "item", b.r.Item, "source", src.name(), "err", err)
	case got > 0:
		// A connection that was cut after bringing bytes resumes at once.
	default:
		wait = backoff(b.e.opts.BackoffBase, b.e.opts.BackoffMax, src.noProgress)
		if ra := retryAfter(err); ra > 0 {
			wait = min(ra, b.e.opts.MaxRetryAfter)
		}
		src.notBefore = time.Now().Add(wait)
	}
	b.emit(Event{Kind: Retrying, Source: src.name(), Err: err, Wait: wait})
	if b.usable() == 0 {
		b.failed = b.allFailed()
		b.cancel()
	}
}

// claimLocked returns the segment worker id works on next: its own
// unfinished one, one nobody owns, or the second half of the largest one
// left. Callers hold mu.
func (b *blob) claimLocked(id int) *segment {
	for _, s := range b.segs {
		if s.owner == id && s.left() > 0 {
			return s
		}
	}
	for _, s := range b.segs {
		if s.owner == -1 && s.left() > 0 {
			s.owner = id
			return s
		}
	}
	if !b.splitLocked(id) {
		return nil
	}
	for _, s := range b.segs {
		if s.owner == id && s.left() > 0 {
			return s
		}
	}
	return nil
}

// splitEvenLocked splits a fresh blob (nothing fetched, nothing asked
// for yet) into n equal segments and reports whether it did. Callers hold
// mu.
func (b *blob) splitEvenLocked(n int) bool {
	if n <= 1 || len(b.segs) != 1 || b.segs[0].Pos != 0 || b.segs[0].End != b.size {
		return false
	}
	b.segs = b.segs[:0]
	for i := range int64(n) {
		start, end := b.size*i/int64(n), b.size*(i+1)/int64(n)
		b.segs = append(b.segs, &segment{Start: start, End: end, Pos: start, owner: -1})
	}
	return true
}

// splitToLocked halves the largest segments left until n are left to
// fetch, so each connection starts with a range of its own. Callers hold
// mu.
func (b *blob) splitToLocked(n int) {
	for live := b.liveLocked(); live < n; live++ {
		if !b.splitLocked(-1) {
			return
		}
	}
}

// liveLocked counts the segments not complete. Callers hold mu.
func (b *blob) liveLocked() int {
	n := 0
	for _, s := range b.segs {
		if s.left() > 0 {
			n++
		}
	}
	return n
}

// splitLocked hands the second half of the largest segment left, when it
// is at least twice SegmentMin, to a new segment owned by owner. Callers
// hold mu.
func (b *blob) splitLocked(owner int) bool {
	if b.size < 0 || b.noRanges() {
		return false
	}
	var big *segment
	for _, s := range b.segs {
		if s.left() >= 2*b.e.opts.SegmentMin && (big == nil || s.left() > big.left()) {
			big = s
		}
	}
	if big == nil {
		return false
	}
	mid := big.Pos + big.left()/2
	b.segs = append(b.segs, &segment{Start: mid, End: big.End, Pos: mid, owner: owner})
	big.End = mid
	sort.Slice(b.segs, func(i, j int) bool { return b.segs[i].Start < b.segs[j].Start })
	return true
}

// pickLocked chooses the source for worker id's next attempt at seg, and
// how long to wait first: the connections are spread over the sources in
// order, a source waiting out a backoff yields to one that is not, and
// with b.single every connection uses the first source left. It returns
// nil when no source is left. Callers hold mu.
func (b *blob) pickLocked(id int, seg *segment) (*srcState, time.Duration) {
	var ok, whole []*srcState
	for _, s := range b.srcs {
		switch {
		case s.gaveUp:
		case s.noRange && seg.Pos > 0:
			whole = append(whole, s)
		default:
			ok = append(ok, s)
		}
	}
	if len(ok) == 0 {
		// Only sources that send the whole blob are left: the next
		// answer starts it over (rangeIgnored).
		ok = whole
	}
	if len(ok) == 0 {
		return nil, 0
	}
	// Connections are spread over the sources whose hosts answer; a host
	// found unreachable (by this blob or another) is tried only when no
	// other is left.
	if up := b.e.reachable(ok, func(s *srcState) string { return s.host }); len(up) > 0 {
		ok = up
	}
	if b.single {
		ok = ok[:1]
	}
	now := time.Now()
	first := ok[id%len(ok)]
	if !first.notBefore.After(now) {
		return first, 0
	}
	best := first
	for _, s := range ok {
		if !s.notBefore.After(now) {
			return s, 0
		}
		if s.notBefore.Before(best.notBefore) {
			best = s
		}
	}
	return best, best.notBefore.Sub(now)
}

// errAgain asks the worker to try again at once: the attempt changed what
// the next should ask (a redirect expired, the blob started over).
var errAgain = errors.New("try again")

// attempt makes one request to src for the rest of seg and writes what
// arrives. It returns the bytes written.
func (b *blob) attempt(ctx context.Context, id int, seg *segment, src *srcState) (int64, error) {
	b.mu.Lock()
	start, end, size, gen := seg.Pos, seg.End, b.size, b.gen
	u, viaLoc := src.URL, false
	if src.loc != "" {
		u, viaLoc = src.loc, true
	}
	etag, lastMod := b.etag, b.lastMod
	// A blob worth several connections asks for a range from the start,
	// so the answer shows whether the source serves ranges; so does one
	// of unknown size ("bytes=0-"), unless the source refused that.
	probe := !b.rangeOK && !b.noProbe && (size < 0 || size >= 2*b.e.opts.SegmentMin) && b.e.opts.Connections > 1
	b.mu.Unlock()

	req, err := http.NewRequestWithContext(context.WithValue(ctx, engineRequest{}, true), http.MethodGet, u, nil)
	if err != nil {
		return 0, &SourceError{Source: src.name(), Err: err, Permanent: true}
	}
	for k, vs := range src.Header {
		req.Header[k] = vs
	}
	ranged := start > 0 || (end != unknownEnd && end < size) || probe
	reqEnd := end // the end of what the request asks for
	if ranged {
		if end == unknownEnd {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", start))
		} else {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", start, end-1))
		}
		if b.r.Digest == "" {
			if etag != "" && !strings.HasPrefix(etag, "W/") {
				req.Header.Set("If-Range", etag)
			} else if lastMod != "" {
				req.Header.Set("If-Range", lastMod)
			}
		}
	}
	client := src.Client
	if client == nil {
		client = b.e.opts.Client
	}
	resp, err := client.Do(req)
	if err != nil {
		// net/http's error names the URL asked for: a CDN's, query
		// and all, after a redirect.
		return 0, &SourceError{Source: src.name(), Err: redact.Error(err)}
	}
	defer resp.Body.Close()
	final := resp.Request.URL.String()
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusGone:
		if viaLoc || final != u {
			// A redirect target refused: it expired. Ask the source
			// for a new one (at once when it was remembered from an
			// earlier answer, else after a backoff).
			b.mu.Lock()
			if src.loc == u {
				src.loc = ""
			}
			b.mu.Unlock()
			b.e.log.Debug("redirect target refused, asking the source again", "item", b.r.Item, "source", src.name(), "status", resp.StatusCode)
			if viaLoc {
				return 0, errAgain
			}
			return 0, &SourceError{Source: src.name(), Status: resp.StatusCode, Err: fmt.Errorf("refused by the redirect target %s", redact.URL(final))}
		}
	}
	if final != u && resp.StatusCode/100 == 2 {
		b.mu.Lock()
		src.loc = final
		b.mu.Unlock()
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if ranged && start > 0 {
			return b.rangeIgnored(id, seg, src, resp, gen)
		}
		reqEnd = unknownEnd // the whole body comes
		if err := b.learn(src, resp, resp.ContentLength, false); err != nil {
			return 0, err
		}
	case http.StatusPartialContent:
		first, total, err := contentRange(resp.Header.Get("Content-Range"))
		if err != nil || first != start {
			return 0, &SourceError{Source: src.name(), Status: resp.StatusCode, Err: fmt.Errorf("asked for bytes from %d, got Content-Range %q", start, resp.Header.Get("Content-Range"))}
		}
		if err := b.learn(src, resp, total, true); err != nil {
			return 0, err
		}
	case http.StatusRequestedRangeNotSatisfiable:
		if start == 0 {
			b.mu.Lock()
			again := probe && !b.noProbe
			b.noProbe = true
			b.mu.Unlock()
			if again {
				return 0, errAgain // ask without a range
			}
			return 0, &SourceError{Source: src.name(), Status: resp.StatusCode, Permanent: true}
		}
		b.e.log.Warn("range not satisfiable: starting over", "item", b.r.Item, "source", src.name(), "from", start)
		b.restart(-1, gen)
		return 0, errAgain
	default:
		return 0, statusError(src.name(), resp)
	}
	return b.stream(seg, src, resp.Body, gen, reqEnd)
}

// errStop ends a connection without failing the blob: what it was to
// fetch is left to another.
var errStop = errors.New("stop")

// rangeIgnored handles a 200 (the whole body) to a request for a later
// range. Another source that serves ranges takes the segment; or a
// connection reading a whole body from an earlier offset takes it over
// when it gets there; when neither is left the blob starts over from this
// response.
func (b *blob) rangeIgnored(id int, seg *segment, src *srcState, resp *http.Response, gen int) (int64, error) {
	b.mu.Lock()
	src.noRange = true
	others := !b.noRanges()
	again := b.gen != gen // another connection started over already
	wholeBefore := false
	for _, s := range b.segs {
		if s != seg && s.Start < seg.Start && s.owner >= 0 && s.whole {
			wholeBefore = true
		}
	}
	b.mu.Unlock()
	b.e.log.Warn("source ignores Range", "item", b.r.Item, "source", src.name())
	switch {
	case again || others:
		return 0, errAgain
	case wholeBefore:
		b.release(seg)
		return 0, errStop
	}
	seg, gen = b.restart(id, gen)
	if seg == nil {
		return 0, errAgain
	}
	if err := b.learn(src, resp, resp.ContentLength, false); err != nil {
		return 0, err
	}
	return b.stream(seg, src, resp.Body, gen, unknownEnd)
}

// learn checks the size a response gives (total; -1 when it gives none)
// against the blob's, or adopts it, and keeps the validators of a blob
// without a digest.
func (b *blob) learn(src *srcState, resp *http.Response, total int64, ranged bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if ranged && !b.rangeOK {
		b.rangeOK = true
		defer b.spawnLocked()
	}
	if total >= 0 {
		switch {
		case b.size < 0:
			b.size = total
			for _, s := range b.segs {
				if s.End == unknownEnd {
					s.End = total
				}
			}
			b.emit(Event{Kind: Sized, Total: total})
			if b.r.Limit > 0 && total > b.r.Limit {
				return &SourceError{Source: src.name(), Err: fmt.Errorf("serves %d bytes, more than the limit of %d: %w", total, b.r.Limit, ErrTooLarge), Permanent: true}
			}
			b.spawnLocked()
		case total != b.size:
			return &SourceError{Source: src.name(), Err: fmt.Errorf("serves %d bytes, want %d", total, b.size), Permanent: true}
		}
	}
	if b.r.Digest == "" {
		b.etag, b.lastMod = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	}
	return nil
}

// stream writes body into seg from seg.Pos until the segment is complete
// (its end may move closer while a split hands its tail to another
// connection), the body ends or the blob starts over.
func (b *blob) stream(seg *segment, src *srcState, body io.Reader, gen int, reqEnd int64) (int64, error) {
	buf := make([]byte, chunk)
	var got int64
	b.mu.Lock()
	seg.whole = reqEnd == unknownEnd
	b.mu.Unlock()
	defer func() {
		b.mu.Lock()
		seg.whole = false
		b.mu.Unlock()
	}()
	for {
		// Never read past the segment's end: a split may have moved it.
		// At the end, an untouched segment right after it that nobody
		// owns is taken over when this response carries it too.
		b.mu.Lock()
		left := seg.left()
		if left <= 0 {
			b.absorbLocked(seg, reqEnd)
			left = seg.left()
		}
		stale := b.gen != gen
		b.mu.Unlock()
		if stale {
			return got, errAgain
		}
		if left <= 0 {
			return got, nil
		}
		n, rerr := fill(body, buf[:min(int64(len(buf)), left)])
		if n > 0 {
			b.e.fetched.Add(int64(n))
			b.mu.Lock()
			b.fetched += int64(n)
			b.mu.Unlock()
			done, err := b.write(seg, src, buf[:n], gen)
			got += int64(n)
			if err != nil {
				return got, err
			}
			if done {
				b.mu.Lock()
				b.absorbLocked(seg, reqEnd)
				done = seg.left() == 0
				b.mu.Unlock()
				if done {
					return got, nil
				}
			}
		}
		switch {
		case rerr == nil:
			continue
		case rerr == io.EOF:
			b.mu.Lock()
			if b.size < 0 && b.gen == gen {
				// A body of unknown length ended: that was all of it.
				b.size = seg.Pos
				seg.End = seg.Pos
				b.mu.Unlock()
				b.saveState()
				return got, nil
			}
			left := seg.left()
			b.mu.Unlock()
			if left <= 0 {
				return got, nil
			}
			return got, &SourceError{Source: src.name(), Err: fmt.Errorf("connection closed with %d bytes of the range left: %w", left, io.ErrUnexpectedEOF)}
		default:
			return got, &SourceError{Source: src.name(), Err: redact.Error(rerr)}
		}
	}
}

// write stores p at seg.Pos and advances it, the state file and the hash.
// It reports whether the segment is complete.
func (b *blob) write(seg *segment, src *srcState, p []byte, gen int) (bool, error) {
	b.wmu.RLock()
	b.mu.Lock()
	if b.gen != gen {
		b.mu.Unlock()
		b.wmu.RUnlock()
		return true, errAgain
	}
	at := seg.Pos
	if left := seg.left(); int64(len(p)) > left {
		p = p[:left]
	}
	b.mu.Unlock()
	if b.r.Limit > 0 && at+int64(len(p)) > b.r.Limit && b.size < 0 {
		b.wmu.RUnlock()
		return true, &SourceError{Source: src.name(), Err: fmt.Errorf("more than the limit of %d bytes: %w", b.r.Limit, ErrTooLarge), Permanent: true}
	}
	if len(p) > 0 {
		if _, err := b.data.WriteAt(p, at); err != nil {
			b.wmu.RUnlock()
			return true, fmt.Errorf("%s: writing %s: %w", b.r.Item, b.paths[0], err)
		}
	}
	b.mu.Lock()
	seg.Pos += int64(len(p))
	src.delivered += int64(len(p))
	done := seg.left() == 0
	b.unsaved += int64(len(p))
	save := b.unsaved >= saveEvery || done
	b.mu.Unlock()
	b.wmu.RUnlock()
	if save {
		b.saveState()
	}
	b.emit(Event{Kind: Received, Source: src.name(), Bytes: int64(len(p))})
	b.advanceHash(p, at, false)
	return done, nil
}

// saveState records the segments in the state file. A blob smaller than
// persistMin is never recorded: a killed build fetches it again whole.
func (b *blob) saveState() {
	b.mu.Lock()
	b.unsaved = 0
	if b.size >= 0 && b.size < persistMin {
		b.mu.Unlock()
		return
	}
	st := &state{Digest: b.r.Digest, Item: b.r.Item, Size: b.size, ETag: b.etag, LastModified: b.lastMod, Place: b.placeID()}
	for _, s := range b.segs {
		st.Segments = append(st.Segments, [3]int64{s.Start, s.End, s.Pos})
	}
	if b.size < 0 {
		st.Segments = nil // nothing a later run could resume
	}
	// Saved under mu, so states are written in the order they were taken.
	err := b.state.save(st)
	b.mu.Unlock()
	if err != nil {
		b.e.log.Warn("saving download state", "item", b.r.Item, "err", err)
	}
}

// absorbLocked extends seg over the segment that follows it when nobody
// owns that one, it holds nothing yet, and the response being read
// reaches past it (reqEnd). Callers hold mu.
func (b *blob) absorbLocked(seg *segment, reqEnd int64) {
	for i, s := range b.segs {
		if s.Start != seg.End {
			continue
		}
		if s.owner == -1 && s.Pos == s.Start && s.End <= reqEnd {
			seg.End = s.End
			b.segs = append(b.segs[:i], b.segs[i+1:]...)
		}
		return
	}
}

// contiguousLocked returns the length of the prefix of the blob that is in
// the part file. Callers hold mu.
func (b *blob) contiguousLocked() int64 {
	for _, s := range b.segs {
		if s.Pos < s.End {
			return s.Pos
		}
	}
	if len(b.segs) == 0 {
		return 0
	}
	return b.segs[len(b.segs)-1].End
}

// advanceHash hashes the prefix of the blob that is in the part file and
// not hashed yet: from p when p (just written at at) is where the hash
// stands, else read back from the file. Without wait it returns at once
// when another goroutine is hashing (which will see this write too).
func (b *blob) advanceHash(p []byte, at int64, wait bool) {
	for {
		if wait {
			b.hashMu.Lock()
		} else if !b.hashMu.TryLock() {
			return
		}
		b.hashLocked(p, at)
		b.hashMu.Unlock()
		p = nil
		b.mu.Lock()
		more := b.contiguousLocked() > b.hashed.Load()
		b.mu.Unlock()
		if !more {
			return
		}
	}
}

func (b *blob) hashLocked(p []byte, at int64) {
	var buf []byte
	for {
		b.mu.Lock()
		x := b.contiguousLocked()
		b.mu.Unlock()
		h := b.hashed.Load()
		if x <= h {
			return
		}
		if p != nil && at == h && at+int64(len(p)) <= x {
			b.h.Write(p)
			b.hashed.Add(int64(len(p)))
			p = nil
			continue
		}
		if buf == nil {
			buf = make([]byte, 1<<20)
		}
		n := min(int64(len(buf)), x-h)
		m, err := b.data.ReadAt(buf[:n], h)
		if m > 0 {
			b.h.Write(buf[:m])
			b.hashed.Add(int64(m))
		}
		if err != nil && m == 0 {
			return // the final check fails on the short hash
		}
	}
}

// backoff returns the wait before attempt n+1 after n attempts in a row
// without progress: base doubling per attempt up to max, with up to 50%
// jitter either way.
func backoff(base, limit time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	return d/2 + rand.N(d)
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// retryAfterError is a SourceError's cause when the server said when to
// come back.
type retryAfterError struct{ after time.Duration }

func (e *retryAfterError) Error() string {
	return fmt.Sprintf("asked to retry after %s", e.after.Round(time.Second))
}

func retryAfter(err error) time.Duration {
	var ra *retryAfterError
	if errors.As(err, &ra) {
		return ra.after
	}
	return 0
}

// statusError makes a SourceError of a response that is not a success.
func statusError(name string, resp *http.Response) error {
	e := &SourceError{Source: name, Status: resp.StatusCode}
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		if d := parseRetryAfter(resp.Header.Get("Retry-After")); d > 0 {
			e.Err = &retryAfterError{after: d}
		}
	case http.StatusNotFound, http.StatusGone, http.StatusBadRequest, http.StatusMethodNotAllowed:
		e.Permanent = true
	case http.StatusUnauthorized, http.StatusForbidden:
		e.Permanent = true
		e.Err = errors.New("access denied: check the credentials for this registry (docker login) or use another --mirror")
	}
	return e
}

// parseRetryAfter reads a Retry-After value: seconds or an HTTP date.
func parseRetryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return time.Until(t)
	}
	return 0
}

// contentRange parses "bytes FIRST-LAST/TOTAL" (TOTAL may be "*": -1).
func contentRange(v string) (first, total int64, err error) {
	rest, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, 0, fmt.Errorf("content-range %q", v)
	}
	rng, tot, ok := strings.Cut(rest, "/")
	if !ok {
		return 0, 0, fmt.Errorf("content-range %q", v)
	}
	f, _, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, fmt.Errorf("content-range %q", v)
	}
	if first, err = strconv.ParseInt(f, 10, 64); err != nil {
		return 0, 0, fmt.Errorf("content-range %q", v)
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil {
			return 0, 0, fmt.Errorf("content-range %q", v)
		}
	}
	return first, total, nil
}
