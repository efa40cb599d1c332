package registry

import "errors"

var (
	// ErrReadOnly means a write reached the read-only bundle driver. The
	// registry refuses pushes and deletes before they get that far (405
	// UNSUPPORTED) unless it was made with WithWritable.
	ErrReadOnly = errors.New("the bundle is read-only")
	// ErrBundleContent means a write or delete would have changed content
	// that comes from the bundle; with WithWritable only content pushed to
	// the registry can be replaced or deleted (403 DENIED).
	ErrBundleContent = errors.New("content belongs to the read-only bundle")
	// ErrDamaged means a blob's bytes in the bundle do not match its
	// digest: the bundle file is damaged (paimirror verify finds where).
	ErrDamaged = errors.New("the blob's bytes in the bundle do not match its digest")
)
