package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/paimirror/paimirror/bundle/pypi"
	"github.com/paimirror/paimirror/manifests"
)

// BuildOptions configures Build. The zero value builds every default group
// of the manifest for linux/amd64 into "<manifest name>.tar".
type BuildOptions struct {
	// Output is the bundle path; default "<manifest name>.tar" in the
	// current directory. Work in progress lives in Output+".partial".
	Output string
	// Force replaces an existing Output; default false (refuse).
	Force bool
	// Mirrors redirect sources, tried in order before the origin.
	Mirrors []Mirror
	// Include and Exclude select groups (see manifests.Manifest.Select).
	Include, Exclude []string
	// Platform overrides each image's platform ("linux/amd64"); default:
	// the first platform the manifest lists for the image.
	Platform string
	// Jobs is how many downloads run at once; default 4.
	Jobs int
	// Retries is how many times a transient network error is retried per
	// source; default 2.
	Retries int
	// Transport is the HTTP transport for registries and files; default: a
	// clone of http.DefaultTransport, which honours HTTP(S)_PROXY.
	Transport http.RoundTripper
	// Keychain finds registry credentials; default authn.DefaultKeychain
	// (docker's config.json).
	Keychain authn.Keychain
	// Logger receives debug and warning records; default: discard.
	Logger *slog.Logger
	// Progress, when set, is called with build events, from one goroutine
	// at a time.
	Progress func(Event)
	// ToolVersion is recorded in the lock.
	ToolVersion string
}

// EventKind says what an Event reports.
type EventKind int

const (
	// EventResumed: a partial build was found; Bytes were kept from it.
	EventResumed EventKind = iota
	// EventPlanned: the size of the work is known: Total bytes to hold in
	// all, Items images and files.
	EventPlanned
	// EventStart: Item begins downloading; Total is its size when known.
	EventStart
	// EventBytes: Bytes more bytes of Item arrived.
	EventBytes
	// EventDone: Item is verified and stored (or was already).
	EventDone
	// EventRetry: Item failed from one source (Err) and another is tried.
	EventRetry
	// EventResolving: before EventPlanned, what is being resolved (Item,
	// e.g. "45 images, the python packages for 3 targets, 4 apt suites"):
	// image manifests, python indexes and apt metadata are fetched.
	EventResolving
)

// Event is a progress report from Build.
type Event struct {
	Kind  EventKind
	Item  string
	Bytes int64
	Total int64
	Items int
	Err   error
}

// Result summarises a finished build.
type Result struct {
	// Path is the bundle written.
	Path string
	// Lock is what the bundle holds.
	Lock *Lock
	// Size is the bundle file's size in bytes.
	Size int64
	// Fetched is the bytes downloaded by this run; Resumed the bytes kept
	// from an earlier, interrupted run.
	Fetched, Resumed int64
	// Shared is the bytes not stored twice because several images share a
	// blob.
	Shared int64
	// Duration is the wall time of the build.
	Duration time.Duration
}

// ItemError says which item of a build failed and why.
type ItemError struct {
	Item string
	Err  error
}

func (e *ItemError) Error() string { return e.Item + ": " + e.Err.Error() }
func (e *ItemError) Unwrap() error { return e.Err }

type builder struct {
	opts     BuildOptions
	log      *slog.Logger
	w        *partialWriter
	records  map[string]journalRecord
	sem      chan struct{}
	client   *http.Client
	progMu   sync.Mutex
	mu       sync.Mutex
	inflight map[string]*blobCall
	fetched  int64
	// transports holds a *transportOnce per source repository.
	transports sync.Map
	// pyCache holds the python files resolution downloaded; nil until it
	// runs.
	pyCache *fileCache
}

type blobCall struct {
	done chan struct{}
	res  stored
	err  error
}

// Build pulls every selected image and file of m, resolves its python
// section (when selected) for every target and downloads the files chosen,
// verifies each byte against its digest, checksum or the package index's
// sha256, and writes the bundle. It resumes from an earlier interrupted
// build of the same output. When some items fail, the others are still
// stored and the partial file is kept for a rerun; the returned error joins
// an *ItemError per failed item (a python target that cannot be resolved is
// one item, each python file another).
func Build(ctx context.Context, m *manifests.Manifest, opts BuildOptions) (*Result, error) {
	start := time.Now()
	sel, err := m.Select(opts.Include, opts.Exclude)
	if err != nil {
		return nil, err
	}
	var pyGroups []pypi.Group
	var pyTargets []pypi.Target
	if sel.Python != nil {
		// Requirements are parsed before anything is fetched: no rerun
		// mends a manifest.
		if pyGroups, pyTargets, err = pythonInputs(sel); err != nil {
			return nil, err
		}
	}
	if opts.Output == "" {
		opts.Output = m.Name + ".tar"
	}
	if opts.Jobs <= 0 {
		opts.Jobs = 4
	}
	if opts.Retries <= 0 {
		opts.Retries = 2
	}
	if opts.Transport == nil {
		opts.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	if opts.Keychain == nil {
		opts.Keychain = authn.DefaultKeychain
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, err := os.Stat(opts.Output); err == nil && !opts.Force {
		return nil, fmt.Errorf("%s already exists; remove it, choose another -o, or pass --force to replace it", opts.Output)
	}
	w, records, resumed, err := openPartial(opts.Output)
	if err != nil {
		return nil, err
	}
	b := &builder{
		opts: opts, log: log, w: w, records: records,
		sem:      make(chan struct{}, opts.Jobs),
		client:   &http.Client{Transport: opts.Transport},
		inflight: map[string]*blobCall{},
	}
	if resumed.Blobs > 0 || resumed.Dropped != "" {
		log.Info("resuming build", "partial", w.path, "blobs", resumed.Blobs, "bytes", resumed.Bytes, "dropped", resumed.Dropped)
		b.emit(Event{Kind: EventResumed, Bytes: resumed.Bytes, Items: resumed.Blobs})
	}

	lock := &Lock{
		FormatVersion: FormatVersion,
		ToolVersion:   opts.ToolVersion,
		Manifest: ManifestInfo{
			Name: m.Name, Source: m.Source, SHA256: sha256hex(m.Raw),
			Include: opts.Include, Exclude: opts.Exclude, Platform: opts.Platform,
			Text: string(m.Raw),
		},
		Images: make([]Image, len(sel.Images)),
		Files:  make([]File, len(sel.Files)),
	}

	// Resolve images (small manifests) and python packages first, so the
	// total size is known.
	plans := make([]*imagePlan, len(sel.Images))
	// One error per image and file, then the python section's and the
	// apt entries'.
	errs := make([]error, len(sel.Images)+len(sel.Files)+2)
	pyErr := &errs[len(errs)-2]
	aptErr := &errs[len(errs)-1]
	var py *Python
	var la *Apt
	var wg sync.WaitGroup
	b.emit(Event{Kind: EventResolving, Item: resolvingWhat(sel, len(pyTargets))})
	if sel.Python != nil {
		wg.Go(func() { py, *pyErr = b.resolvePython(ctx, sel, pyGroups, pyTargets) })
	}
	if len(sel.Apt) > 0 {
		wg.Go(func() { la, *aptErr = b.resolveApt(ctx, sel) })
	}
	for i, img := range sel.Images {
		wg.Go(func() {
			p, err := b.resolveImage(ctx, img)
			if err != nil {
				errs[i] = &ItemError{Item: img.Ref, Err: err}
				return
			}
			plans[i] = p
		})
	}
	wg.Wait()
	var total int64
	seen := map[string]bool{}
	for _, p := range plans {
		if p == nil {
			continue
		}
		for _, bl := range append([]Blob{{Digest: p.image.Digest, Size: p.image.Size}}, p.image.Blobs()...) {
			if !seen[bl.Digest] {
				seen[bl.Digest] = true
				total += bl.Size
			}
		}
	}
	for _, f := range sel.Files {
		if rec, ok := records[fileKey(f)]; ok {
			total += rec.File.Size
		}
	}
	items := len(sel.Images) + len(sel.Files)
	if py != nil {
		items += len(py.Files)
		for _, f := range py.Files {
			if !seen[f.Digest()] && f.Size > 0 {
				seen[f.Digest()] = true
				total += f.Size
			}
		}
	}
	if la != nil {
		for _, r := range la.Repositories {
			for _, f := range r.Files {
				if f.Package != "" {
					items++
				}
				if !seen[f.Digest()] && f.Size > 0 {
					seen[f.Digest()] = true
					total += f.Size
				}
			}
		}
	}
	b.emit(Event{Kind: EventPlanned, Total: total, Items: items})

	for i, p := range plans {
		if p == nil {
			continue
		}
		wg.Go(func() {
			if err := b.pullImage(ctx, p); err != nil {
				errs[i] = &ItemError{Item: p.item, Err: err}
				return
			}
			lock.Images[i] = p.image
		})
	}
	for i, f := range sel.Files {
		wg.Go(func() {
			lf, err := b.pullFile(ctx, f)
			if err != nil {
				errs[len(sel.Images)+i] = &ItemError{Item: f.URL, Err: err}
				return
			}
			lock.Files[i] = *lf
		})
	}
	if py != nil {
		wg.Go(func() {
			if *pyErr = b.pullPython(ctx, py); *pyErr == nil {
				lock.Python = py
			}
		})
	}
	if la != nil {
		wg.Go(func() {
			if *aptErr = b.pullApt(ctx, la); *aptErr == nil {
				lock.Apt = la
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		w.close()
		return nil, fmt.Errorf("%w\nthe items fetched so far are kept in %s; rerun the same command to resume", err, w.path)
	}
	if err := ctx.Err(); err != nil {
		w.close()
		return nil, err
	}

	for i := range lock.Images {
		data, err := layoutIndex(lock.Images[i])
		if err != nil {
			w.close()
			return nil, err
		}
		d := "sha256:" + sha256hex(data)
		if err := w.add(d, int64(len(data)), bytes.NewReader(data)); err != nil {
			w.close()
			return nil, err
		}
		lock.Images[i].LayoutIndex = Blob{Digest: d, Size: int64(len(data)), MediaType: ocispec.MediaTypeImageIndex}
	}
	lock.Created = time.Now().UTC().Truncate(time.Second)
	meta, err := metadata(lock)
	if err != nil {
		w.close()
		return nil, err
	}
	if err := w.finish(opts.Output, meta); err != nil {
		w.close()
		return nil, err
	}
	st, err := os.Stat(opts.Output)
	if err != nil {
		return nil, err
	}
	return &Result{
		Path: opts.Output, Lock: lock, Size: st.Size(),
		Fetched: b.fetched, Resumed: resumed.Bytes, Shared: sharedBytes(lock),
		Duration: time.Since(start),
	}, nil
}

// resolvingWhat says what Build resolves before it can plan: "45 images,
// the python packages for 3 targets, 4 apt suites".
func resolvingWhat(m *manifests.Manifest, pyTargets int) string {
	parts := []string{fmt.Sprintf("%d images", len(m.Images))}
	if m.Python != nil {
		parts = append(parts, fmt.Sprintf("the python packages for %d targets", pyTargets))
	}
	if len(m.Apt) > 0 {
		n := 0
		for _, e := range m.Apt {
			n += len(aptSuites(e))
		}
		parts = append(parts, fmt.Sprintf("%d apt suites", n))
	}
	return strings.Join(parts, ", ")
}

func (b *builder) emit(e Event) {
	if b.opts.Progress == nil {
		return
	}
	b.progMu.Lock()
	defer b.progMu.Unlock()
	b.opts.Progress(e)
}

// blobSource is one place a blob can be read from.
type blobSource struct {
	name string
	open func(ctx context.Context) (io.ReadCloser, error)
}

// stored says where a blob came from.
type stored struct {
	source string // "" when it was already in the bundle
	digest string
	size   int64
}

// fetchBlob stores the blob digest of size bytes, trying sources in order.
// size < 0 means unknown; digest "" means unknown (a file whose upstream
// publishes no checksum: the digest is taken from the bytes). Concurrent
// calls for the same digest download it once.
func (b *builder) fetchBlob(ctx context.Context, item, digest string, size int64, sources []blobSource) (stored, error) {
	key := digest
	if key == "" {
		key = "item:" + item
	}
	b.mu.Lock()
	if digest != "" && b.w.has(digest) {
		b.mu.Unlock()
		return stored{digest: digest, size: b.w.size(digest)}, nil
	}
	if c, ok := b.inflight[key]; ok {
		b.mu.Unlock()
		select {
		case <-c.done:
			return c.res, c.err
		case <-ctx.Done():
			return stored{}, ctx.Err()
		}
	}
	c := &blobCall{done: make(chan struct{})}
	b.inflight[key] = c
	b.mu.Unlock()

	c.res, c.err = b.download(ctx, item, digest, size, sources)
	b.mu.Lock()
	delete(b.inflight, key)
	b.mu.Unlock()
	close(c.done)
	return c.res, c.err
}

// download tries each source (each transient failure retried) until one
// gives bytes that hash to digest, then appends them to the bundle.
func (b *builder) download(ctx context.Context, item, digest string, size int64, sources []blobSource) (stored, error) {
	select {
	case b.sem <- struct{}{}:
	case <-ctx.Done():
		return stored{}, ctx.Err()
	}
	defer func() { <-b.sem }()
	tmp, err := b.w.tempFile()
	if err != nil {
		return stored{}, err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	b.emit(Event{Kind: EventStart, Item: item, Total: size})
	var errs []error
	for _, src := range sources {
		for attempt := 0; attempt <= b.opts.Retries; attempt++ {
			got, n, err := b.attempt(ctx, tmp, item, digest, size, src)
			if err == nil {
				if _, err := tmp.Seek(0, io.SeekStart); err != nil {
					return stored{}, err
				}
				if err := b.w.add(got, n, tmp); err != nil {
					return stored{}, err
				}
				b.mu.Lock()
				b.fetched += n
				b.mu.Unlock()
				b.emit(Event{Kind: EventDone, Item: item})
				return stored{source: src.name, digest: got, size: n}, nil
			}
			b.emit(Event{Kind: EventRetry, Item: item, Bytes: -n, Err: err})
			b.log.Warn("download failed", "item", item, "source", src.name, "attempt", attempt+1, "err", err)
			if ctx.Err() != nil {
				return stored{}, ctx.Err()
			}
			if !transient(err) || attempt == b.opts.Retries {
				errs = append(errs, err)
				break
			}
			backoff(ctx, attempt)
		}
	}
	return stored{}, errors.Join(errs...)
}

func backoff(ctx context.Context, attempt int) {
	t := time.NewTimer(time.Duration(200<<attempt) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// attempt downloads once from src into tmp, verifying size and digest. It
// returns the digest of the bytes and how many were written.
func (b *builder) attempt(ctx context.Context, tmp *os.File, item, digest string, size int64, src blobSource) (string, int64, error) {
	if err := tmp.Truncate(0); err != nil {
		return "", 0, err
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return "", 0, err
	}
	rc, err := src.open(ctx)
	if err != nil {
		return "", 0, err
	}
	defer rc.Close()
	h := sha256.New()
	cw := &countingWriter{w: io.MultiWriter(tmp, h), report: func(n int64) {
		b.emit(Event{Kind: EventBytes, Item: item, Bytes: n})
	}}
	var r io.Reader = rc
	if size >= 0 {
		// Read one byte more than expected to notice an oversized body.
		r = io.LimitReader(rc, size+1)
	}
	if _, err := io.Copy(cw, r); err != nil {
		return "", cw.n, &SourceError{Source: src.name, Err: err}
	}
	if size >= 0 && cw.n != size {
		return "", cw.n, &SourceError{Source: src.name, Err: fmt.Errorf("got %d bytes, want %d", cw.n, size), Permanent: cw.n > size}
	}
	got := "sha256:" + hex.EncodeToString(h.Sum(nil))
	if digest != "" && got != digest {
		return "", cw.n, &DigestError{Item: item, Source: src.name, Want: digest, Got: got}
	}
	return got, cw.n, nil
}

// DigestError reports bytes that did not match their expected digest. They
// were not stored.
type DigestError struct {
	Item, Source string
	Want, Got    string
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("%s from %s: content hashes to %s, want %s; the bytes were not stored", e.Item, e.Source, e.Got, e.Want)
}

func (e *DigestError) Unwrap() error { return ErrDigestMismatch }

type countingWriter struct {
	w      io.Writer
	n      int64
	report func(int64)
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if n > 0 && c.report != nil {
		c.report(int64(n))
	}
	return n, err
}

func metadata(lock *Lock) ([]namedData, error) {
	lockData, err := json.MarshalIndent(lock, "", "  ")
	if err != nil {
		return nil, err
	}
	idx, err := json.MarshalIndent(ociIndex(lock), "", "  ")
	if err != nil {
		return nil, err
	}
	return []namedData{
		{OCILayoutName, []byte(`{"imageLayoutVersion":"1.0.0"}`)},
		{IndexName, idx},
		{LockName, lockData},
	}, nil
}

func sharedBytes(lock *Lock) int64 {
	seen := map[string]bool{}
	var shared int64
	for _, img := range lock.Images {
		for _, bl := range append([]Blob{{Digest: img.Digest, Size: img.Size}}, img.Blobs()...) {
			if seen[bl.Digest] {
				shared += bl.Size
			}
			seen[bl.Digest] = true
		}
	}
	for _, f := range lock.Files {
		if seen[f.Digest()] {
			shared += f.Size
		}
		seen[f.Digest()] = true
	}
	for _, f := range lock.PythonFiles() {
		if seen[f.Digest()] {
			shared += f.Size
		}
		seen[f.Digest()] = true
	}
	return shared
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func trimDigest(d string) string { return strings.TrimPrefix(d, "sha256:") }
