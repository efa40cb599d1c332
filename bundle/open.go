package bundle

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Bundle is a bundle opened in place: its tar headers have been read once and
// every blob is served as a section of the file(s). A base bundle opened
// with its deltas is one Bundle: the newest lock, and every blob from
// whichever of them holds it. A Bundle is safe for concurrent use; it never
// writes.
type Bundle struct {
	// Lock is the bundle's paimirror.json: for a base and its deltas, the
	// last delta's, which is the complete lock of the new state.
	Lock *Lock
	// Index is the bundle's index.json as stored (the last delta's).
	Index ocispec.Index
	// Size is the total size in bytes of the bundle file(s).
	Size int64

	r        *partsReader
	lockData []byte
	sig      Signature
	signed   bool
	blobs    map[digest.Digest]entry
	// layers are the whole bundles given, base first; one for a bundle
	// without deltas.
	layers []*layer
	// baseMissing: a delta opened alone (OpenOptions.NoBase); the blobs
	// only its base holds are absent.
	baseMissing bool
	// good holds the digests of blobs hashed whole from this Bundle's
	// file(s) and found to match (see CheckBlob).
	good sync.Map
	// checking holds the CheckBlob in progress for each digest
	// (*checking), which other callers for it wait for.
	checking sync.Map
	// hashings counts CheckBlob's reads of a blob, for tests.
	hashings atomic.Int64
}

// layer is one whole bundle of those Open was given: a bundle, or a
// delta over the one before it.
type layer struct {
	names      []string // its file(s)
	start, end int64    // where it lies in the concatenation of the files
	lockData   []byte
	lock       *Lock
	index      ocispec.Index
	blobs      map[digest.Digest]entry
	sig        Signature
	signed     bool
}

func (l *layer) name() string { return strings.Join(l.names, " ") }

// OpenOptions configures OpenWith. The zero value opens as Open does.
type OpenOptions struct {
	// NoBase opens a delta bundle given without its base, to describe or
	// sign it: Lock is the new state's complete lock, but the blobs only
	// the base holds are absent (Blob returns ErrNotFound for them) and
	// Verify checks only the blobs the delta holds. Default false: a delta
	// given without its base is refused (ErrWrongBase).
	NoBase bool
}

// Open opens a bundle in place. paths are the bundle file, or its parts in
// order; or a base bundle followed by deltas built over it (each given as
// one file or as its parts), which open as one Bundle serving the last
// delta's lock. Only tar headers and the small metadata entries are read,
// so Open takes the same time whatever the bundle's size. Open checks the
// structure: that each tar is whole, holds only the layout's names (and
// the signature members, when the bundle is signed), no links, every blob
// the lock names with the size the lock gives, and that each delta follows
// the base it was built over (the sha256 of the base's lock as stored;
// ErrWrongBase otherwise, naming both). It does not hash blob contents;
// that is Verify's job, nor check a signature; that is bundle/sign's.
//
// Bundles and parts are told apart by where each tar ends: a tar that ends
// (its end-of-archive marker) before the last file is a whole bundle, and
// the next file begins the next one.
func Open(paths ...string) (*Bundle, error) { return OpenWith(OpenOptions{}, paths...) }

// OpenWith is Open with options.
func OpenWith(opts OpenOptions, paths ...string) (*Bundle, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("opening bundle: no file given")
	}
	r, err := openParts(paths)
	if err != nil {
		return nil, err
	}
	b, err := open(r, opts)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("opening %s: %w", strings.Join(paths, ", "), err)
	}
	return b, nil
}

func open(r *partsReader, opts OpenOptions) (*Bundle, error) {
	b := &Bundle{r: r, Size: r.size, blobs: map[digest.Digest]entry{}}
	for i := 0; i < len(r.files); {
		l, next, err := b.openLayer(i)
		if err != nil {
			return nil, err
		}
		b.layers = append(b.layers, l)
		i = next
	}
	if err := b.checkChain(opts); err != nil {
		return nil, err
	}
	for _, l := range b.layers {
		for d, e := range l.blobs {
			b.blobs[d] = e // a later layer's copy wins; they hash the same
		}
	}
	top := b.layers[len(b.layers)-1]
	b.Lock, b.Index, b.lockData, b.sig, b.signed = top.lock, top.index, top.lockData, top.sig, top.signed
	if err := b.checkLock(); err != nil {
		return nil, err
	}
	return b, nil
}

// openLayer reads the whole bundle that begins with file i, and returns
// it and the index of the file after it.
func (b *Bundle) openLayer(i int) (*layer, int, error) {
	r := b.r
	off := r.offs[i]
	res, err := scanTar(io.NewSectionReader(r, off, r.size-off), r.size-off)
	if err != nil {
		return nil, 0, err
	}
	if res.Torn != "" {
		hint := ""
		if len(r.names) == 1 {
			hint = " (if the bundle was split, name every part in order)"
		}
		return nil, 0, fmt.Errorf("%w: %s%s", ErrCorrupt, res.Torn, hint)
	}
	if !res.Finished || len(res.Entries) == 0 {
		return nil, 0, fmt.Errorf("%w: not a complete tar archive (no end marker); was the copy cut short?", ErrCorrupt)
	}
	// The tar ends after its marker's two blocks; the bundle, at the end
	// of the file holding them (anything after the marker is ignored, as
	// tar does).
	tarEnd := off + res.End + 2*512
	next := i + 1
	for next < len(r.offs) && r.offs[next] < tarEnd {
		next++
	}
	l := &layer{names: r.names[i:next], start: off, end: r.size, blobs: map[digest.Digest]entry{}}
	if next < len(r.offs) {
		l.end = r.offs[next]
	}
	meta := map[string]entry{}
	for _, e := range res.Entries {
		e.HeaderOff += off
		e.DataOff += off
		switch e.Typeflag {
		case tar.TypeDir:
			if e.Name != "blobs/" && e.Name != blobDir {
				return nil, 0, fmt.Errorf("%w: unexpected directory %q in the tar", ErrCorrupt, e.Name)
			}
			if e.Name == "blobs/" && e.HeaderOff != off {
				// Every bundle begins with it: a file ended at a member
				// boundary without the end marker, and another bundle
				// follows.
				return nil, 0, fmt.Errorf("%w: the tar of %s has no end marker before offset %d, where another bundle begins; was a copy cut short, or are parts missing or out of order?", ErrCorrupt, l.name(), e.HeaderOff)
			}
			continue
		case tar.TypeReg:
		default:
			return nil, 0, fmt.Errorf("%w: tar entry %q is a link or special file (type %q); bundles hold only regular files", ErrCorrupt, e.Name, e.Typeflag)
		}
		if d := blobDigest(e.Name); d != "" {
			if _, dup := l.blobs[d]; dup {
				return nil, 0, fmt.Errorf("%w: blob %s appears twice", ErrCorrupt, d)
			}
			l.blobs[d] = e
			continue
		}
		switch e.Name {
		case LockName, IndexName, OCILayoutName, SignatureName, SignerName:
			if _, dup := meta[e.Name]; dup {
				return nil, 0, fmt.Errorf("%w: %s appears twice", ErrCorrupt, e.Name)
			}
			meta[e.Name] = e
		default:
			return nil, 0, fmt.Errorf("%w: tar entry %q is outside the bundle layout", ErrCorrupt, e.Name)
		}
	}
	for _, name := range []string{OCILayoutName, IndexName, LockName} {
		if _, ok := meta[name]; !ok {
			return nil, 0, fmt.Errorf("%w: %s is missing (an unfinished build leaves a .partial file; rerun build to finish it)", ErrCorrupt, name)
		}
	}
	lockData, err := b.readEntry(meta[LockName], maxLockSize)
	if err != nil {
		return nil, 0, err
	}
	l.lockData = lockData
	if l.lock, err = parseLock(lockData); err != nil {
		return nil, 0, err
	}
	idxData, err := b.readEntry(meta[IndexName], 64<<20)
	if err != nil {
		return nil, 0, err
	}
	if err := json.Unmarshal(idxData, &l.index); err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %v", ErrCorrupt, IndexName, err)
	}
	if l.sig, l.signed, err = b.readSignature(meta); err != nil {
		return nil, 0, err
	}
	return l, next, nil
}

// checkChain makes sure the first bundle given is a whole bundle (or, with
// opts.NoBase, a delta alone) and each one after it a delta over the one
// before.
func (b *Bundle) checkChain(opts OpenOptions) error {
	first := b.layers[0]
	if base := first.lock.Base; base != nil {
		if !opts.NoBase {
			file := "BASE.tar"
			if base.File != "" {
				file = base.File
			}
			return fmt.Errorf("%w: %s is a delta bundle over %s; it holds only what that bundle lacks: name its base first, as in 'paimirror serve %s %s' (verify, inspect and push take them the same way)",
				ErrWrongBase, first.name(), base.describe(), file, first.name())
		}
		b.baseMissing = true
	}
	for i, l := range b.layers[1:] {
		prev := b.layers[i]
		have := sha256hex(prev.lockData)
		switch {
		case l.lock.Base == nil:
			return fmt.Errorf("%w: %s is a whole bundle, not a delta; give one bundle (or its parts, in order), or a base bundle followed by deltas built over it",
				ErrWrongBase, l.name())
		case l.lock.Base.LockSHA256 == have:
			continue
		case prev.index.Annotations[AnnotationLockSHA256] != "" && prev.index.Annotations[AnnotationLockSHA256] != have:
			return fmt.Errorf("%w: the lock of %s hashes to sha256:%s, its %s records sha256:%s, so %s cannot be checked against it; copy %s again from a good copy",
				ErrCorrupt, prev.name(), have, IndexName, prev.index.Annotations[AnnotationLockSHA256], l.name(), prev.name())
		default:
			return fmt.Errorf("%w: %s is a delta over %s, but %s is another bundle (lock sha256:%s, manifest %s, built %s); give the base %s was built over",
				ErrWrongBase, l.name(), l.lock.Base.describe(), prev.name(), have, prev.lock.Manifest.Name, prev.lock.Created.Format(time.RFC3339), l.name())
		}
	}
	return nil
}

// describe names a base for messages.
func (r *BaseRef) describe() string {
	s := fmt.Sprintf("the bundle whose lock is sha256:%s (manifest %s, built %s", r.LockSHA256, r.Manifest, r.Created.Format(time.RFC3339))
	if r.File != "" {
		s += ", file " + r.File
	}
	return s + ")"
}

// checkLock makes sure every blob the lock names is in the tar (or, for a
// delta, in it or its base) with the size the lock records. A delta opened
// without its base is checked for the sizes of the blobs it holds only.
func (b *Bundle) checkLock() error {
	where := "the tar"
	if len(b.layers) > 1 {
		where = "the delta or its base"
	}
	want := func(what string, d digest.Digest, size int64) error {
		e, ok := b.blobs[d]
		if !ok {
			if b.baseMissing {
				return nil
			}
			return fmt.Errorf("%w: %s: blob %s is not in %s (the lock disagrees with the tar)", ErrCorrupt, what, d, where)
		}
		if size >= 0 && e.Size != size {
			return fmt.Errorf("%w: %s: blob %s has %d bytes in the tar, the lock says %d", ErrCorrupt, what, d, e.Size, size)
		}
		return nil
	}
	for _, img := range b.Lock.Images {
		if err := want(img.Ref+" manifest", img.Digest, img.Size); err != nil {
			return err
		}
		for _, bl := range append(img.Blobs(), img.LayoutIndex) {
			if err := want(img.Ref, bl.Digest, bl.Size); err != nil {
				return err
			}
		}
	}
	for _, f := range b.Lock.Files {
		if err := want(f.URL, f.Digest(), f.Size); err != nil {
			return err
		}
	}
	for _, f := range b.Lock.PythonFiles() {
		if err := want("python file "+f.Filename, f.Digest(), f.Size); err != nil {
			return err
		}
	}
	for _, f := range b.Lock.AptServed() {
		if err := want(f.URL, f.Digest(), f.Size); err != nil {
			return err
		}
	}
	return nil
}

func (b *Bundle) readEntry(e entry, limit int64) ([]byte, error) {
	if e.Size > limit {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than the %d allowed", ErrCorrupt, e.Name, e.Size, limit)
	}
	buf := make([]byte, e.Size)
	if _, err := b.r.ReadAt(buf, e.DataOff); err != nil && err != io.EOF {
		return nil, fmt.Errorf("reading %s: %w", e.Name, err)
	}
	return buf, nil
}

// LockBytes returns paimirror.json exactly as stored in the bundle.
func (b *Bundle) LockBytes() []byte { return b.lockData }

// Blob returns a reader over the blob with the given digest. It reads
// the bundle in place. A digest the bundle does not hold, whatever its
// form, is ErrNotFound: callers taking a digest from outside check its
// form first (digest.Digest.Validate).
func (b *Bundle) Blob(d digest.Digest) (*io.SectionReader, error) {
	e, ok := b.blobs[d]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", d, ErrNotFound)
	}
	return io.NewSectionReader(b.r, e.DataOff, e.Size), nil
}

// BlobRegion returns where a blob's bytes lie when they lie in one part
// file: the part Open opened (held until Close, so it stays the same file
// when another is renamed over its path) and the offset there. Servers use
// it to hand the bytes to the kernel (sendfile) instead of copying them.
// The file is shared: callers must not Close it, nor Read or Seek it (its
// offset is shared too); use ReadAt, or open a descriptor of their own onto
// it. ok is false when the blob is unknown or crosses a part boundary.
func (b *Bundle) BlobRegion(d digest.Digest) (f *os.File, offset int64, ok bool) {
	e, found := b.blobs[d]
	if !found {
		return nil, 0, false
	}
	for i, start := range b.r.offs {
		end := b.r.size
		if i+1 < len(b.r.offs) {
			end = b.r.offs[i+1]
		}
		if e.DataOff >= start && e.DataOff+e.Size <= end {
			return b.r.files[i], e.DataOff - start, true
		}
	}
	return nil, 0, false
}

// BlobSize returns the size of the blob with the given digest.
func (b *Bundle) BlobSize(d digest.Digest) (int64, bool) {
	e, ok := b.blobs[d]
	return e.Size, ok
}

// ReadBlob returns the whole content of a small blob (a manifest or config);
// it refuses blobs over limit bytes.
func (b *Bundle) ReadBlob(d digest.Digest, limit int64) ([]byte, error) {
	e, ok := b.blobs[d]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", d, ErrNotFound)
	}
	return b.readEntry(e, limit)
}

// Digests returns the digest of every blob in the bundle, sorted.
func (b *Bundle) Digests() []digest.Digest {
	out := make([]digest.Digest, 0, len(b.blobs))
	for d := range b.blobs {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// Close releases the bundle's files.
func (b *Bundle) Close() error { return b.r.Close() }

// Name names the bundle for messages: its first file; for a base and its
// deltas, the last delta's, which holds the lock and its signature.
func (b *Bundle) Name() string { return b.layers[len(b.layers)-1].names[0] }
