package bundle

import (
	"errors"

	"github.com/paimirror/paimirror/bundle/internal/fetch"
)

var (
	// ErrCorrupt means the bundle is damaged: a truncated tar, a missing
	// blob, a digest that does not match.
	ErrCorrupt = errors.New("bundle is damaged")
	// ErrUnsupported means the bundle was written by a newer paimirror.
	ErrUnsupported = errors.New("bundle format not supported")
	// ErrWrongBase means the bundles given together are not a base and
	// its deltas in order: a delta given without its base, after another
	// bundle than the one it was built over, or a whole bundle given after
	// another as if it were a delta. Nothing is damaged; the command line
	// names the wrong files.
	ErrWrongBase = errors.New("not a base bundle and its deltas")
	// ErrNotFound means no blob or entry with that digest or name exists.
	ErrNotFound = errors.New("not found in bundle")
	// ErrDigestMismatch means bytes from a source did not hash to the
	// expected digest; they were not stored.
	ErrDigestMismatch = fetch.ErrDigestMismatch
	// ErrSchema1 means an image exists only as a Docker schema 1 manifest,
	// which cannot be mirrored byte for byte.
	ErrSchema1 = errors.New("image is only available as a Docker schema 1 manifest")
	// ErrUnreachable means no source of an item could be reached.
	ErrUnreachable = fetch.ErrUnreachable
)
