package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/opencontainers/go-digest"
	"log/slog"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/paimirror/paimirror/bundle/internal/fetch"
	"github.com/paimirror/paimirror/bundle/pypi"
	"github.com/paimirror/paimirror/manifests"
	"github.com/paimirror/paimirror/manifests/redact"
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
	// the first platform the manifest lists for the image. From an index
	// the build takes that platform's image; a reference that names one
	// image must be for it, as its config states (else a *PlatformError),
	// and the lock records the platform the config states, variant and
	// all.
	Platform string
	// Jobs is how many blobs and files download at once; default 4.
	Jobs int
	// Connections is how many connections one large blob (16 MiB or
	// more) may use at once, spread over its sources; default 5; 1 turns
	// segmenting off. All downloads together use at most 4×Connections.
	Connections int
	// Retries is how many attempts in a row that bring no bytes give a
	// source up for an item; default 5. Attempts that bring bytes (a
	// connection cut in the middle) are retried for as long as they do.
	Retries int
	// Transport is the HTTP transport for registries and files; default: a
	// clone of http.DefaultTransport, which honours HTTP(S)_PROXY.
	Transport http.RoundTripper
	// Keychain finds registry credentials; default authn.DefaultKeychain
	// (docker's config.json).
	Keychain authn.Keychain
	// Logger receives debug and warning records, the URLs in them
	// without their credentials (redact.Handler); default: discard.
	Logger *slog.Logger
	// Progress, when set, is called with build events, from one goroutine
	// at a time.
	Progress func(Event)
	// ToolVersion is recorded in the lock.
	ToolVersion string
	// Base, when set, makes the bundle a delta over the bundle whose lock
	// it gives (ReadBase reads it from a bundle, or from what `paimirror
	// inspect --lock` printed): every blob the base's lock names is
	// neither downloaded nor stored, except an image config whose platform
	// must be checked, which is downloaded and not stored. The lock is
	// still the complete lock of the new state, and records the base
	// (Lock.Base). Default nil: a whole bundle.
	Base *Base
}

// EventKind says what an Event reports.
type EventKind int

const (
	// EventResumed: a partial build was found; Bytes were kept from it.
	EventResumed EventKind = iota
	// EventPlanned: the size of the work is known: Total bytes to hold in
	// all, Items images and files. Images and files may have started
	// (and reported bytes) before it.
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
	// EventSized: Item's size became known (Total).
	EventSized
	// EventDiscarded: Bytes of Item already reported were thrown away
	// (the item starts over).
	EventDiscarded
	// EventItemDone: one of the items EventPlanned counted (an image, a
	// file, a python file, a .deb) is stored whole, or was already.
	// EventDone, by contrast, reports each blob.
	EventItemDone
)

// Event is a progress report from Build.
type Event struct {
	Kind  EventKind
	Item  string
	Bytes int64
	Total int64
	Items int
	// Resumed, with EventStart, is the bytes of Item kept from an earlier
	// run (part of Total, not of any EventBytes).
	Resumed int64
	// Source and Wait, with EventRetry: where the attempt went and how
	// long until the next.
	Source string
	Wait   time.Duration
	Err    error
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
	// InBase, for a delta, is the bytes of the blobs the lock names that
	// are left to the base.
	InBase int64
	// Duration is the wall time of the build.
	Duration time.Duration
}

// ItemError says which item of a build failed and why. Its message shows
// the URLs in it without their credentials (redact.Text), whichever
// package's error it holds.
type ItemError struct {
	Item string
	Err  error
}

func (e *ItemError) Error() string { return redact.Text(e.Item + ": " + e.Err.Error()) }
func (e *ItemError) Unwrap() error { return e.Err }

type builder struct {
	opts    BuildOptions
	log     *slog.Logger
	w       *partialWriter
	eng     *fetch.Engine
	records map[string]journalRecord
	sem     chan struct{}
	// rt is opts.Transport made patient (fetch.Engine.Patient) with
	// servers that ask to wait; client is over it.
	rt       http.RoundTripper
	client   *http.Client
	progMu   sync.Mutex
	mu       sync.Mutex
	inflight map[string]*blobCall
	// transports holds a *transportOnce per source repository.
	transports sync.Map
	// pySources maps the digest of each python file stored while
	// resolving (pythonDist) to the source it came from.
	pySources sync.Map
	// pyCache holds the python files resolution downloaded; nil until it
	// runs.
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
		opts.Retries = 5
	}
	if opts.Connections <= 0 {
		opts.Connections = 5
	}
	if opts.Transport == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		// Keep every connection the build may open to one host: with the
		// default 2, connections past two were closed as each request
		// ended and dialled again for the next one.
		tr.MaxIdleConnsPerHost = 4 * opts.Jobs * opts.Connections
		opts.Transport = tr
	}
	if opts.Keychain == nil {
		opts.Keychain = authn.DefaultKeychain
	}
	log := redact.Logger(opts.Logger) // for the engine, pypi and apt too
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if _, err := os.Stat(opts.Output); err == nil && !opts.Force {
		return nil, fmt.Errorf("%s already exists; remove it, choose another -o, or pass --force to replace it", opts.Output)
	}
	var baseRef *BaseRef
	var baseBlobs map[digest.Digest]int64
	if opts.Base != nil {
		bl, err := parseLock(opts.Base.Lock)
		if err != nil {
			return nil, fmt.Errorf("the base's lock: %w", err)
		}
		baseBlobs = lockBlobs(bl)
		baseRef = &BaseRef{LockSHA256: sha256hex(opts.Base.Lock), Manifest: bl.Manifest.Name, Created: bl.Created, File: opts.Base.File}
	}
	w, records, resumed, err := openPartial(opts.Output, baseBlobs)
	if err != nil {
		return nil, err
	}
	b := &builder{
		opts: opts, log: log, w: w, records: records,
		sem:      make(chan struct{}, opts.Jobs),
		client:   &http.Client{Transport: opts.Transport},
		inflight: map[string]*blobCall{},
	}
	b.eng, err = fetch.New(fetch.Options{
		Dir: w.blobsDir, Client: b.client, Retries: opts.Retries, Connections: opts.Connections,
		SegmentMin: segmentMin, Logger: log, Progress: b.engineEvent,
	})
	if err != nil {
		w.close()
		return nil, err
	}
	// Manifests, tokens, index pages and apt's signed indexes wait when a
	// server asks (429/503), as blobs do; the engine's own requests pass.
	b.rt = b.eng.Patient(withPlainHTTP(opts.Mirrors, opts.Transport))
	b.client.Transport = b.rt
	partBytes, partBlobs := b.eng.Partial()
	if resumed.Blobs > 0 || resumed.Dropped != "" || partBlobs > 0 {
		log.Info("resuming build", "partial", w.path, "blobs", resumed.Blobs, "bytes", resumed.Bytes, "dropped", resumed.Dropped, "unfinished", partBlobs, "unfinishedBytes", partBytes)
		b.emit(Event{Kind: EventResumed, Bytes: resumed.Bytes + partBytes, Items: resumed.Blobs})
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
		Base:   baseRef,
	}

	// Each image is pulled as soon as its manifest is resolved, and files
	// start at once; the python packages and .debs wait for their
	// resolution. EventPlanned comes when everything is resolved and the
	// total size is known.
	plans := make([]*imagePlan, len(sel.Images))
	// One error per image and file, then the python section's and the
	// apt entries'.
	errs := make([]error, len(sel.Images)+len(sel.Files)+2)
	pyErr := &errs[len(errs)-2]
	aptErr := &errs[len(errs)-1]
	var py *Python
	var la *Apt
	var wg, resolving sync.WaitGroup
	b.emit(Event{Kind: EventResolving, Item: resolvingWhat(sel, len(pyTargets))})
	if sel.Python != nil {
		resolving.Go(func() { py, *pyErr = b.resolvePython(ctx, sel, pyGroups, pyTargets) })
	}
	if len(sel.Apt) > 0 {
		resolving.Go(func() { la, *aptErr = b.resolveApt(ctx, sel) })
	}
	for i, img := range sel.Images {
		resolving.Add(1)
		wg.Go(func() {
			p, err := b.resolveImage(ctx, img)
			if err != nil {
				errs[i] = &ItemError{Item: img.Ref, Err: err}
				resolving.Done()
				return
			}
			plans[i] = p
			resolving.Done()
			img, err := b.pullImage(ctx, p)
			if err != nil {
				errs[i] = &ItemError{Item: p.item, Err: err}
				return
			}
			lock.Images[i] = img
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
	resolving.Wait()
	var total int64
	seen := map[digest.Digest]bool{}
	for _, p := range plans {
		if p == nil {
			continue
		}
		for _, bl := range append([]Blob{{Digest: p.image.Digest, Size: p.image.Size}}, p.image.Blobs()...) {
			if !seen[bl.Digest] && !w.inBase(bl.Digest) {
				seen[bl.Digest] = true
				total += bl.Size
			}
		}
	}
	for _, f := range sel.Files {
		if rec, ok := records[fileKey(f)]; ok && !w.inBase(rec.File.Digest()) {
			total += rec.File.Size
		}
	}
	items := len(sel.Images) + len(sel.Files)
	if py != nil {
		items += len(py.Files)
		for _, f := range py.Files {
			if !seen[f.Digest()] && f.Size > 0 && !w.inBase(f.Digest()) {
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
				if !seen[f.Digest()] && f.Size > 0 && !w.inBase(f.Digest()) {
					seen[f.Digest()] = true
					total += f.Size
				}
			}
		}
	}
	b.emit(Event{Kind: EventPlanned, Total: total, Items: items})

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
		be := buildFailure(errs, w.path)
		// Items that failed before they could be counted (a python
		// section or apt entries that did not resolve) count too.
		be.Items = items
		if sel.Python != nil && py == nil {
			be.Items += len(buildFailure([]error{*pyErr}, "").Errs)
		}
		if len(sel.Apt) > 0 && la == nil {
			be.Items += len(buildFailure([]error{*aptErr}, "").Errs)
		}
		return nil, be
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
		d := digest.FromBytes(data)
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
		Fetched: b.eng.Fetched(), Resumed: resumed.Bytes + partBytes, Shared: sharedBytes(lock),
		InBase: inBaseBytes(lock, baseBlobs), Duration: time.Since(start),
	}, nil
}

// BuildError is a build that failed some items (it keeps the others for a
// rerun). Its message lists each failed item, except those whose sources
// could not be reached, which it sums up once per host with the --mirror
// that would help; URLs in it are shown without their credentials
// (redact.Text).
type BuildError struct {
	// Items is how many items the build had; Errs has one error per
	// failed item (an *ItemError).
	Items int
	Errs  []error
	// Partial is the file that keeps what was stored.
	Partial string
}

func (e *BuildError) Error() string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "%d of %d items failed", len(e.Errs), e.Items)
	type host struct {
		first error
		items []string
	}
	hosts := map[string]*host{}
	var origins []string
	for _, err := range e.Errs {
		var ue *UnreachableError
		if !errors.As(err, &ue) {
			fmt.Fprintf(&sb, "\n  %v", err)
			continue
		}
		h := hosts[ue.Origin]
		if h == nil {
			h = &host{}
			hosts[ue.Origin] = h
			origins = append(origins, ue.Origin)
		}
		if !ue.Only {
			// Something besides the unreachable host went wrong.
			fmt.Fprintf(&sb, "\n  %v", err)
		} else if h.first == nil {
			h.first = err
		}
		item := err.Error()
		if ie := (*ItemError)(nil); errors.As(err, &ie) {
			item = ie.Item
		}
		h.items = append(h.items, item)
	}
	sort.Strings(origins)
	for _, o := range origins {
		h := hosts[o]
		what := "1 item needs"
		if len(h.items) > 1 {
			what = fmt.Sprintf("%d items need", len(h.items))
		}
		fmt.Fprintf(&sb, "\n%s %s, which cannot be reached from here", what, o)
		if h.first != nil {
			fmt.Fprintf(&sb, "; the first:\n  %v", h.first)
		}
		if len(h.items) > 1 {
			shown := h.items[1:]
			if len(shown) > 3 {
				shown = shown[:3]
			}
			more := ""
			if n := len(h.items) - 1 - len(shown); n > 0 {
				more = fmt.Sprintf(" and %d more", n)
			}
			fmt.Fprintf(&sb, "\n  also: %s%s", strings.Join(shown, ", "), more)
		}
		fmt.Fprintf(&sb, "\nhint: add --mirror %s=<a mirror you can reach>, or --preset cn inside China", o)
	}
	fmt.Fprintf(&sb, "\nthe items fetched so far are kept in %s; rerun the same command to resume", e.Partial)
	return redact.Text(sb.String())
}

// Unwrap returns the items' errors.
func (e *BuildError) Unwrap() []error { return e.Errs }

// buildFailure makes the BuildError of a build's per-item errors (nil
// where an item succeeded; joins of several items flattened).
func buildFailure(errs []error, partial string) *BuildError {
	be := &BuildError{Partial: partial}
	var add func(err error)
	add = func(err error) {
		switch e := err.(type) {
		case nil:
		case *ItemError, *UnreachableError:
			be.Errs = append(be.Errs, err)
		case interface{ Unwrap() []error }:
			for _, c := range e.Unwrap() {
				add(c)
			}
		default:
			be.Errs = append(be.Errs, err)
		}
	}
	for _, err := range errs {
		add(err)
	}
	return be
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

// segmentMin is the smallest segment of a blob fetched over several
// connections: blobs of 16 MiB and more are split.
const segmentMin = 8 << 20

// stored says where a blob came from.
type stored struct {
	source string // "" when it was already in the bundle; without credentials (redact.URL)
	digest digest.Digest
	size   int64
}

// fetchBlob stores the blob digest of size bytes from sources (see
// fetch.Engine.Fetch). size < 0 means unknown; digest "" means unknown (a
// file whose upstream publishes no checksum: the digest is taken from the
// bytes). Concurrent calls for the same digest download it once.
func (b *builder) fetchBlob(ctx context.Context, item string, d digest.Digest, size int64, sources []fetch.Source) (stored, error) {
	key := string(d)
	if key == "" {
		key = "item:" + item
	}
	b.mu.Lock()
	if d != "" && b.w.has(d) {
		b.mu.Unlock()
		return stored{digest: d, size: b.w.size(d)}, nil
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

	c.res, c.err = b.download(ctx, item, d, size, sources)
	b.mu.Lock()
	delete(b.inflight, key)
	b.mu.Unlock()
	close(c.done)
	return c.res, c.err
}

// download runs one item through the engine, at most Jobs at once, and
// appends the verified bytes to the bundle.
func (b *builder) download(ctx context.Context, item string, d digest.Digest, size int64, sources []fetch.Source) (stored, error) {
	select {
	case b.sem <- struct{}{}:
	case <-ctx.Done():
		return stored{}, ctx.Err()
	}
	defer func() { <-b.sem }()
	res, err := b.eng.Fetch(ctx, fetch.Request{
		Item: item, Digest: d, Size: size, Sources: sources,
		// Known blobs are written straight into their member of the
		// bundle; others (no size or digest given) go through a part
		// file and are appended once verified.
		Place: func(n int64) (fetch.Part, error) {
			s, err := b.w.place(d, n)
			if s == nil || err != nil {
				return nil, err
			}
			return s, nil
		},
		Commit: func(f *os.File, d digest.Digest, size int64) error { return b.w.add(d, size, f) },
	})
	if err != nil {
		return stored{}, err
	}
	src := res.Source
	if src == "" && len(sources) > 0 {
		src = redact.URL(sources[0].Name) // kept whole from an earlier run
	}
	return stored{source: src, digest: res.Digest, size: res.Size}, nil
}

// engineEvent turns the engine's events into Build's.
func (b *builder) engineEvent(ev fetch.Event) {
	switch ev.Kind {
	case fetch.Started:
		b.emit(Event{Kind: EventStart, Item: ev.Item, Total: ev.Total, Resumed: ev.Resumed})
	case fetch.Sized:
		b.emit(Event{Kind: EventSized, Item: ev.Item, Total: ev.Total})
	case fetch.Received:
		b.emit(Event{Kind: EventBytes, Item: ev.Item, Bytes: ev.Bytes})
	case fetch.Discarded:
		b.emit(Event{Kind: EventDiscarded, Item: ev.Item, Bytes: ev.Bytes})
	case fetch.Retrying:
		b.emit(Event{Kind: EventRetry, Item: ev.Item, Source: ev.Source, Wait: ev.Wait, Err: ev.Err})
		b.log.Warn("download attempt failed", "item", ev.Item, "source", ev.Source, "retryIn", ev.Wait, "err", ev.Err)
	case fetch.Finished:
		b.emit(Event{Kind: EventDone, Item: ev.Item})
	}
}

// urlSources makes engine sources of URLs.
func urlSources(urls []string) []fetch.Source {
	out := make([]fetch.Source, 0, len(urls))
	for _, u := range urls {
		out = append(out, fetch.Source{Name: u, URL: u})
	}
	return out
}

// DigestError reports bytes that did not match their expected digest. They
// were not stored.
type DigestError = fetch.DigestError

func metadata(lock *Lock) ([]namedData, error) {
	lockData, err := json.MarshalIndent(lock, "", "  ")
	if err != nil {
		return nil, err
	}
	index := ociIndex(lock)
	// The lock cannot hold its own digest; index.json carries it, and
	// Verify checks it (see AnnotationLockSHA256).
	index.Annotations = map[string]string{AnnotationLockSHA256: sha256hex(lockData)}
	idx, err := json.MarshalIndent(index, "", "  ")
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
	seen := map[digest.Digest]bool{}
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
