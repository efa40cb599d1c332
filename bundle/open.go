package bundle

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Bundle is a bundle opened in place: its tar headers have been read once and
// every blob is served as a section of the file(s). A Bundle is safe for
// concurrent use; it never writes.
type Bundle struct {
	// Lock is the bundle's paimirror.json.
	Lock *Lock
	// Index is the bundle's index.json as stored.
	Index ocispec.Index
	// Size is the total size in bytes of the bundle file(s).
	Size int64

	r        *partsReader
	lockData []byte
	sig      Signature
	signed   bool
	blobs    map[string]entry
	entries  []entry
}

// Open opens a bundle in place. paths are the bundle file, or its parts in
// order. Only tar headers and the small metadata entries are read, so Open
// takes the same time whatever the bundle's size. Open checks the structure:
// that the tar is whole, holds only the layout's names (and the signature
// members, when the bundle is signed), no links, and every blob the lock
// names with the size the lock gives. It does not hash blob contents;
// that is Verify's job, nor check a signature; that is bundle/sign's.
func Open(paths ...string) (*Bundle, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("opening bundle: no file given")
	}
	r, err := openParts(paths)
	if err != nil {
		return nil, err
	}
	b, err := open(r)
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("opening %s: %w", strings.Join(paths, ", "), err)
	}
	return b, nil
}

func open(r *partsReader) (*Bundle, error) {
	res, err := scanTar(r, r.size)
	if err != nil {
		return nil, err
	}
	if res.Torn != "" {
		hint := ""
		if len(r.names) == 1 {
			hint = " (if the bundle was split, name every part in order)"
		}
		return nil, fmt.Errorf("%w: %s%s", ErrCorrupt, res.Torn, hint)
	}
	if !res.Finished || len(res.Entries) == 0 {
		return nil, fmt.Errorf("%w: not a complete tar archive (no end marker); was the copy cut short?", ErrCorrupt)
	}
	b := &Bundle{r: r, Size: r.size, blobs: map[string]entry{}, entries: res.Entries}
	meta := map[string]entry{}
	for _, e := range res.Entries {
		switch e.Typeflag {
		case tar.TypeDir:
			if e.Name != "blobs/" && e.Name != blobDir {
				return nil, fmt.Errorf("%w: unexpected directory %q in the tar", ErrCorrupt, e.Name)
			}
			continue
		case tar.TypeReg:
		default:
			return nil, fmt.Errorf("%w: tar entry %q is a link or special file (type %q); bundles hold only regular files", ErrCorrupt, e.Name, e.Typeflag)
		}
		if d := blobDigest(e.Name); d != "" {
			if _, dup := b.blobs[d]; dup {
				return nil, fmt.Errorf("%w: blob %s appears twice", ErrCorrupt, d)
			}
			b.blobs[d] = e
			continue
		}
		switch e.Name {
		case LockName, IndexName, OCILayoutName, SignatureName, SignerName:
			if _, dup := meta[e.Name]; dup {
				return nil, fmt.Errorf("%w: %s appears twice", ErrCorrupt, e.Name)
			}
			meta[e.Name] = e
		default:
			return nil, fmt.Errorf("%w: tar entry %q is outside the bundle layout", ErrCorrupt, e.Name)
		}
	}
	for _, name := range []string{OCILayoutName, IndexName, LockName} {
		if _, ok := meta[name]; !ok {
			return nil, fmt.Errorf("%w: %s is missing (an unfinished build leaves a .partial file; rerun build to finish it)", ErrCorrupt, name)
		}
	}
	lockData, err := b.readEntry(meta[LockName], 64<<20)
	if err != nil {
		return nil, err
	}
	b.lockData = lockData
	if b.Lock, err = parseLock(lockData); err != nil {
		return nil, err
	}
	idxData, err := b.readEntry(meta[IndexName], 64<<20)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(idxData, &b.Index); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, IndexName, err)
	}
	if err := b.checkLock(); err != nil {
		return nil, err
	}
	if err := b.readSignature(meta); err != nil {
		return nil, err
	}
	return b, nil
}

// checkLock makes sure every blob the lock names is in the tar with the size
// the lock records.
func (b *Bundle) checkLock() error {
	want := func(what, digest string, size int64) error {
		e, ok := b.blobs[digest]
		if !ok {
			return fmt.Errorf("%w: %s: blob %s is not in the tar (the lock disagrees with the tar)", ErrCorrupt, what, digest)
		}
		if size >= 0 && e.Size != size {
			return fmt.Errorf("%w: %s: blob %s has %d bytes in the tar, the lock says %d", ErrCorrupt, what, digest, e.Size, size)
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

// Blob returns a reader over the blob with the given digest
// ("sha256:<hex>"). It reads the bundle in place.
func (b *Bundle) Blob(digest string) (*io.SectionReader, error) {
	e, ok := b.blobs[digest]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", digest, ErrNotFound)
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
func (b *Bundle) BlobRegion(digest string) (f *os.File, offset int64, ok bool) {
	e, found := b.blobs[digest]
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
func (b *Bundle) BlobSize(digest string) (int64, bool) {
	e, ok := b.blobs[digest]
	return e.Size, ok
}

// ReadBlob returns the whole content of a small blob (a manifest or config);
// it refuses blobs over limit bytes.
func (b *Bundle) ReadBlob(digest string, limit int64) ([]byte, error) {
	e, ok := b.blobs[digest]
	if !ok {
		return nil, fmt.Errorf("blob %s: %w", digest, ErrNotFound)
	}
	return b.readEntry(e, limit)
}

// Digests returns the digest of every blob in the bundle, sorted.
func (b *Bundle) Digests() []string {
	out := make([]string, 0, len(b.blobs))
	for d := range b.blobs {
		out = append(out, d)
	}
	sort.Strings(out)
	return out
}

// Close releases the bundle's files.
func (b *Bundle) Close() error { return b.r.Close() }
