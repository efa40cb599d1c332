package registry

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"

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
type bundleDriver struct {
	b    *bundle.Bundle
	tree *tree
	log  *slog.Logger // bundle read errors; default discard
}

// readFailed logs a failed read of the bundle file: the bundle is damaged
// or its file changed under the registry.
func (d *bundleDriver) readFailed(blob string, err error) {
	if d.log != nil {
		d.log.Error("reading the bundle failed; is the file damaged or replaced? (paimirror verify checks it)", "blob", blob, "err", err)
	}
}

// blobReader reads one blob section and logs read errors.
type blobReader struct {
	*io.SectionReader
	d      *bundleDriver
	blob   string
	logged bool
}

func (r *blobReader) Read(p []byte) (int, error) {
	n, err := r.SectionReader.Read(p)
	if err != nil && err != io.EOF && !r.logged {
		r.logged = true
		r.d.readFailed(r.blob, err)
	}
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

// GetContent returns a link's digest or a small blob's bytes.
func (d *bundleDriver) GetContent(_ context.Context, p string) ([]byte, error) {
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
		return data, nil
	}
}

// Reader returns the content at p from offset on. Blob data is read in
// place from the bundle.
func (d *bundleDriver) Reader(_ context.Context, p string, offset int64) (io.ReadCloser, error) {
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
