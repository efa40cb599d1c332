package bundle

import (
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
)

// A server trusts a blob of the bundle once it has hashed it whole from
// the file and found its digest: the file may have been damaged on disk
// or in the copy since it was built. These three methods keep that
// knowledge per open Bundle, shared by every server handed the same
// Bundle (a blob and a file with one digest are one blob). A Bundle opened
// again (after the file was replaced) starts with nothing known good.

// Good reports whether blob d was hashed whole from this Bundle and
// matched its digest. It costs a map lookup.
func (b *Bundle) Good(d digest.Digest) bool {
	_, ok := b.good.Load(d)
	return ok
}

// MarkGood records that blob d was hashed whole from this Bundle and
// matched: for a server that hashes as it sends, once the last byte is
// checked.
func (b *Bundle) MarkGood(d digest.Digest) { b.good.Store(d, struct{}{}) }

// CheckBlob makes sure blob d's bytes in the bundle match d. Unless d is
// already Good, it reads the blob whole from the file and hashes it (one
// read of its bytes), and records a match. Callers that ask for the same
// blob while it is being hashed wait for that one reading and get its
// answer: a file that every node fetches at once is read once. A
// mismatch is a *DamagedError (which wraps ErrCorrupt) and is not
// remembered: a later call hashes again and fails again. A blob the
// bundle does not hold is an error wrapping ErrNotFound; a failed read
// returns the read's error.
func (b *Bundle) CheckBlob(d digest.Digest) error {
	if b.Good(d) {
		return nil
	}
	c := &checking{done: make(chan struct{})}
	if v, loaded := b.checking.LoadOrStore(d, c); loaded {
		first := v.(*checking)
		<-first.done
		return first.err
	}
	c.err = b.hashBlob(d)
	b.checking.Delete(d)
	close(c.done)
	return c.err
}

// checking is one CheckBlob reading a blob, which others wait for.
type checking struct {
	done chan struct{} // closed when err is set
	err  error
}

// hashBlob reads blob d whole, hashes it, and marks it Good on a match.
func (b *Bundle) hashBlob(d digest.Digest) error {
	if b.Good(d) { // checked while this call waited to start
		return nil
	}
	sr, err := b.Blob(d)
	if err != nil {
		return err
	}
	if err := d.Validate(); err != nil {
		return fmt.Errorf("blob %s: %w", d, err)
	}
	b.hashings.Add(1)
	got, err := readDigest(sr, d.Algorithm(), nil)
	if err != nil {
		return fmt.Errorf("reading blob %s from %s: %w", d, b.Name(), err)
	}
	if got != d {
		return &DamagedError{Bundle: b.Name(), Digest: d, Got: got}
	}
	b.MarkGood(d)
	return nil
}

// readDigest reads r to its end and returns what its bytes hash to with
// alg, passing the size of each read to report when it is not nil. It is
// the one whole-blob hashing of a bundle's content (CheckBlob, Verify).
func readDigest(r io.Reader, alg digest.Algorithm, report func(int64)) (digest.Digest, error) {
	h := alg.Hash()
	var w io.Writer = h
	if report != nil {
		w = reportingWriter{w: h, report: report}
	}
	if _, err := io.Copy(w, r); err != nil {
		return "", err
	}
	return digest.NewDigest(alg, h), nil
}

// DamagedError is a blob whose bytes in the bundle do not hash to its
// digest. It wraps ErrCorrupt.
type DamagedError struct {
	Bundle string        // the bundle's name (Bundle.Name)
	Digest digest.Digest // what the lock says
	Got    digest.Digest // what the bytes hash to
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("%v: blob %s in %s hashes to %s; run 'paimirror verify %s' and copy or build the bundle again", ErrCorrupt, e.Digest, e.Bundle, e.Got, e.Bundle)
}

func (e *DamagedError) Unwrap() error { return ErrCorrupt }
