package registry

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
)

// overlayDriver layers a writable driver (distribution's filesystem driver
// rooted at the WithWritable directory) over the read-only bundle driver.
// Reads look at the upper layer first, then at the bundle; lists merge
// both; writes go to the upper layer only. Bundle content is never
// replaced or removed: a write that would change it and a delete that would
// remove it fail with ErrBundleContent. It is safe for concurrent use as far
// as the upper driver is.
type overlayDriver struct {
	upper storagedriver.StorageDriver
	lower *bundleDriver
}

var _ storagedriver.StorageDriver = (*overlayDriver)(nil)

func (o *overlayDriver) Name() string { return driverName + "+" + o.upper.Name() }

func notFound(err error) bool {
	var nf storagedriver.PathNotFoundError
	return errors.As(err, &nf)
}

// inBundle reports whether p is a file or directory of the bundle's tree.
func (o *overlayDriver) inBundle(p string) bool { return o.lower.tree.contains(p) }

func (o *overlayDriver) GetContent(ctx context.Context, p string) ([]byte, error) {
	data, err := o.upper.GetContent(ctx, p)
	if notFound(err) {
		return o.lower.GetContent(ctx, p)
	}
	return data, err
}

func (o *overlayDriver) Reader(ctx context.Context, p string, offset int64) (io.ReadCloser, error) {
	rc, err := o.upper.Reader(ctx, p, offset)
	if notFound(err) {
		return o.lower.Reader(ctx, p, offset)
	}
	return rc, err
}

func (o *overlayDriver) Stat(ctx context.Context, p string) (storagedriver.FileInfo, error) {
	fi, err := o.upper.Stat(ctx, p)
	if notFound(err) {
		return o.lower.Stat(ctx, p)
	}
	return fi, err
}

// List merges the children of p in both layers.
func (o *overlayDriver) List(ctx context.Context, p string) ([]string, error) {
	up, uerr := o.upper.List(ctx, p)
	if uerr != nil && !notFound(uerr) {
		return nil, uerr
	}
	low, lerr := o.lower.List(ctx, p)
	if lerr != nil && !notFound(lerr) {
		return nil, lerr
	}
	if uerr != nil && lerr != nil {
		return nil, storagedriver.PathNotFoundError{Path: p, DriverName: o.Name()}
	}
	out := append(up, low...)
	slices.Sort(out)
	return slices.Compact(out), nil
}

func (o *overlayDriver) Walk(ctx context.Context, p string, f storagedriver.WalkFn, options ...func(*storagedriver.WalkOptions)) error {
	return storagedriver.WalkFallback(ctx, o, p, f, options...)
}

// PutContent writes to the upper layer. Writing a bundle path again with
// the bytes it already holds (a link re-pushed unchanged) succeeds without
// writing; any other content for a bundle path is refused.
func (o *overlayDriver) PutContent(ctx context.Context, p string, content []byte) error {
	if o.inBundle(p) {
		have, err := o.lower.GetContent(ctx, p)
		if err == nil && bytes.Equal(have, content) {
			return nil
		}
		return fmt.Errorf("writing %s: %w", p, ErrBundleContent)
	}
	return o.upper.PutContent(ctx, p, content)
}

func (o *overlayDriver) Writer(ctx context.Context, p string, append bool) (storagedriver.FileWriter, error) {
	if o.inBundle(p) {
		return nil, fmt.Errorf("writing %s: %w", p, ErrBundleContent)
	}
	return o.upper.Writer(ctx, p, append)
}

// Move moves within the upper layer. A destination the bundle already holds
// is content-addressed blob data with the same bytes, so the source is
// dropped instead.
func (o *overlayDriver) Move(ctx context.Context, src, dst string) error {
	if o.inBundle(src) {
		return fmt.Errorf("moving %s: %w", src, ErrBundleContent)
	}
	if o.inBundle(dst) {
		if n, _ := o.lower.tree.lookup(dst); n == nil || n.blob == "" {
			return fmt.Errorf("moving to %s: %w", dst, ErrBundleContent)
		}
		return o.upper.Delete(ctx, src)
	}
	return o.upper.Move(ctx, src, dst)
}

// Delete deletes from the upper layer; it refuses paths that hold bundle
// content.
func (o *overlayDriver) Delete(ctx context.Context, p string) error {
	if o.inBundle(p) {
		return fmt.Errorf("deleting %s: %w", p, ErrBundleContent)
	}
	return o.upper.Delete(ctx, p)
}

func (o *overlayDriver) RedirectURL(*http.Request, string) (string, error) { return "", nil }
