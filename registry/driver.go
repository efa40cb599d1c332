package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
)

// driverName is the name the bundle driver reports in errors, and the name
// its factory is registered under with distribution.
const driverName = "paimirror"

// maxGetContent bounds GetContent, which distribution uses for links,
// manifests and other small objects; blob data goes through Reader.
const maxGetContent = 32 << 20

// bundleDriver is a read-only storagedriver.StorageDriver over a tree
// synthesized from a bundle. Reads of blob data are sections of the bundle
// file; every write method fails with ErrReadOnly. It is safe for concurrent
// use.
//
// Every blob is checked against its digest the first time it is served
// whole (see Reader and GetContent, and blobSection for the blobs Registry
// sends itself) and remembered as good in the Bundle (bundle.Bundle.Good),
// which the file server shares, so later reads cost nothing extra.
type bundleDriver struct {
	b    *bundle.Bundle
	tree *tree
	log  *slog.Logger // bundle read errors; default discard

	// hashed counts whole-blob hashings that found a match; tests read it.
	hashed atomic.Int64
}

// readFailed logs a failed read of the bundle file: the bundle is damaged
// or its file changed under the registry.
func (d *bundleDriver) readFailed(blob digest.Digest, err error) {
	if d.log != nil {
		d.log.Error("reading the bundle failed; is the file damaged or replaced? (paimirror verify checks it)", "blob", blob.String(), "err", err)
	}
}

// damaged logs a blob whose bytes do not match its digest and returns the
// error the read fails with.
func (d *bundleDriver) damaged(ctx context.Context, blob, got digest.Digest) error {
	if d.log != nil {
		d.log.Error("blob is damaged: its bytes in the bundle do not match its digest, so the download was cut short; run 'paimirror verify BUNDLE' and rebuild or copy the bundle again",
			"blob", blob.String(), "hashed", got.String())
	}
	if f, ok := ctx.Value(damageKey{}).(*atomic.Bool); ok {
		f.Store(true)
	}
	return fmt.Errorf("blob %s: %w", blob, ErrDamaged)
}

// damageKey is the context key of an *atomic.Bool that the driver sets
// when it cuts a read of a damaged blob; Registry then aborts the
// response.
type damageKey struct{}

// good records that blob's bytes match its digest.
func (d *bundleDriver) good(blob digest.Digest) {
	d.b.MarkGood(blob)
	d.hashed.Add(1)
}

func (d *bundleDriver) isVerified(blob digest.Digest) bool {
	return d.b.Good(blob)
}

// verify hashes the whole blob (one read of its section of the bundle,
// bundle.Bundle.CheckBlob) and checks it against its digest.
func (d *bundleDriver) verify(ctx context.Context, blob digest.Digest) error {
	err := d.b.CheckBlob(blob)
	var de *bundle.DamagedError
	switch {
	case err == nil:
		d.hashed.Add(1)
		return nil
	case errors.As(err, &de):
		return d.damaged(ctx, blob, de.Got)
	default:
		d.readFailed(blob, err)
		return err
	}
}

// blobReader reads one blob section and logs read errors. With a hash
// (reads from offset 0 of a blob not yet verified) it hashes what it
// reads, and checks the digest before it hands over the last bytes: on a
// mismatch it returns ErrDamaged instead of them, so the client never
// receives a complete body.
type blobReader struct {
	*io.SectionReader
	d      *bundleDriver
	blob   digest.Digest
	logged bool

	ctx  context.Context
	hash hash.Hash // nil: not hashing
	pos  int64
	err  error // sticky ErrDamaged
}

func (r *blobReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.SectionReader.Read(p)
	if err != nil && err != io.EOF && !r.logged {
		r.logged = true
		r.d.readFailed(r.blob, err)
	}
	if r.hash == nil {
		return n, err
	}
	r.hash.Write(p[:n])
	r.pos += int64(n)
	if r.pos < r.SectionReader.Size() {
		return n, err
	}
	got := digest.NewDigest(r.blob.Algorithm(), r.hash)
	r.hash = nil
	if got != r.blob {
		r.err = r.d.damaged(r.ctx, r.blob, got)
		return 0, r.err
	}
	r.d.good(r.blob)
	return n, err
}

func (r *blobReader) Close() error { return nil }

var _ storagedriver.StorageDriver = (*bundleDriver)(nil)

func (d *bundleDriver) Name() string { return driverName }

func (d *bundleDriver) find(p string) (*node, error) {
	if !cleanPath(p) {
		return nil, storagedriver.InvalidPathError{Path: p, DriverName: driverName}
	}
	n, ok := d.tree.lookup(p)
	if !ok {
		return nil, storagedriver.PathNotFoundError{Path: p, DriverName: driverName}
	}
	return n, nil
}

// GetContent returns a link's digest or a small blob's bytes. A blob not
// yet verified is checked against its digest (it is in memory whole
// anyway); a damaged one is an error wrapping ErrDamaged.
func (d *bundleDriver) GetContent(ctx context.Context, p string) ([]byte, error) {
	n, err := d.find(p)
	if err != nil {
		return nil, err
	}
	switch {
	case n.dir:
		return nil, storagedriver.PathNotFoundError{Path: p, DriverName: driverName}
	case n.link != nil:
		return bytes.Clone(n.link), nil
	default:
		data, err := d.b.ReadBlob(n.blob, maxGetContent)
		if err != nil {
			d.readFailed(n.blob, err)
			return nil, fmt.Errorf("reading %s: %w", n.blob, err)
		}
		if !d.isVerified(n.blob) {
			if got := n.blob.Algorithm().FromBytes(data); got != n.blob {
				return nil, d.damaged(ctx, n.blob, got)
			}
			d.good(n.blob)
		}
		return data, nil
	}
}

// Reader returns the content at p from offset on. Blob data is read in
// place from the bundle.
//
// A blob is verified the first time it is served whole; once good, reads
// cost no more than the section read. Until then:
//   - from offset 0 (a full GET, or a Range from byte 0), the reader hashes
//     as it goes and checks the digest before it returns the last bytes;
//     on a mismatch it fails with ErrDamaged instead, so the response is
//     cut short (never complete with wrong bytes). A read that stops
//     before the end (Range: bytes=0-N, a client that hangs up) verifies
//     nothing and serves what it read unchecked.
//   - from any other offset (a resumed download, Range: bytes=N-), Reader
//     first hashes the whole blob: one extra read of the blob from the
//     local disk, before the first byte goes out. A damaged blob fails
//     with ErrDamaged and nothing of it is served.
//
// Concurrent first reads of one blob from offset 0 each hash what they
// stream; those from another offset share one reading of it
// (bundle.Bundle.CheckBlob). A damaged blob is not remembered: every
// attempt to serve it is checked, fails and is logged.
func (d *bundleDriver) Reader(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	n, err := d.find(p)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return nil, storagedriver.PathNotFoundError{Path: p, DriverName: driverName}
	}
	if offset < 0 || offset > n.size {
		return nil, storagedriver.InvalidOffsetError{Path: p, Offset: offset, DriverName: driverName}
	}
	if n.link != nil {
		return io.NopCloser(bytes.NewReader(n.link[offset:])), nil
	}
	sr, err := d.b.Blob(n.blob)
	if err != nil {
		return nil, fmt.Errorf("opening %s: %w", n.blob, err)
	}
	if !d.isVerified(n.blob) {
		if offset == 0 {
			return &blobReader{SectionReader: sr, d: d, blob: n.blob, ctx: ctx, hash: n.blob.Algorithm().Hash()}, nil
		}
		if err := d.verify(ctx, n.blob); err != nil {
			return nil, err
		}
	}
	return &blobReader{SectionReader: io.NewSectionReader(sr, offset, n.size-offset), d: d, blob: n.blob}, nil
}

// Stat describes p.
func (d *bundleDriver) Stat(_ context.Context, p string) (storagedriver.FileInfo, error) {
	n, err := d.find(p)
	if err != nil {
		return nil, err
	}
	return storagedriver.FileInfoInternal{FileInfoFields: storagedriver.FileInfoFields{
		Path:    p,
		Size:    n.size,
		ModTime: d.tree.modTime,
		IsDir:   n.dir,
	}}, nil
}

// List returns the full paths of p's children.
func (d *bundleDriver) List(_ context.Context, p string) ([]string, error) {
	n, err := d.find(p)
	if err != nil {
		return nil, err
	}
	if !n.dir {
		return nil, storagedriver.PathNotFoundError{Path: p, DriverName: driverName}
	}
	return append([]string(nil), n.children...), nil
}

// Walk visits the tree below p in lexical order.
func (d *bundleDriver) Walk(ctx context.Context, p string, f storagedriver.WalkFn, options ...func(*storagedriver.WalkOptions)) error {
	return storagedriver.WalkFallback(ctx, d, p, f, options...)
}

// RedirectURL never redirects: the bundle is served by this process.
func (d *bundleDriver) RedirectURL(*http.Request, string) (string, error) { return "", nil }

func (d *bundleDriver) PutContent(_ context.Context, p string, _ []byte) error {
	return fmt.Errorf("writing %s: %w", p, ErrReadOnly)
}

func (d *bundleDriver) Writer(_ context.Context, p string, _ bool) (storagedriver.FileWriter, error) {
	return nil, fmt.Errorf("writing %s: %w", p, ErrReadOnly)
}

func (d *bundleDriver) Move(_ context.Context, src, _ string) error {
	return fmt.Errorf("moving %s: %w", src, ErrReadOnly)
}

func (d *bundleDriver) Delete(_ context.Context, p string) error {
	return fmt.Errorf("deleting %s: %w", p, ErrReadOnly)
}
