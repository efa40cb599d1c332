package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/manifests/redact"
)

var (
	// ErrDigestMismatch means bytes from a source did not hash to the
	// expected digest; they were not kept.
	ErrDigestMismatch = errors.New("digest mismatch")
	// ErrUnreachable means a source's host could not be reached at all.
	ErrUnreachable = errors.New("source unreachable")
	// ErrTooLarge means a body of unknown size went past Request.Limit.
	ErrTooLarge = errors.New("larger than the limit")
)

// SourceError is a failure to read from one source. Its message shows the
// URLs in it without their credentials (redact.Text): a CDN's presigned
// query, a mirror's password.
type SourceError struct {
	// Source is the source's name (a URL or a repository).
	Source string
	// Status is the HTTP status, when the source answered.
	Status int
	// Err is the underlying error, when there is one.
	Err error
	// Permanent marks failures that retrying the same source cannot fix
	// (404, a wrong size, a request that cannot be made).
	Permanent bool
}

func (e *SourceError) Error() string {
	if e.Status != 0 {
		msg := fmt.Sprintf("%s: HTTP %d %s", e.Source, e.Status, http.StatusText(e.Status))
		if e.Err != nil {
			msg += ": " + e.Err.Error()
		}
		return redact.Text(msg)
	}
	return redact.Text(fmt.Sprintf("%s: %v", e.Source, e.Err))
}

func (e *SourceError) Unwrap() error { return e.Err }

// DigestError reports bytes that did not match their expected digest. They
// were not kept.
type DigestError struct {
	Item, Source string
	Want, Got    digest.Digest
}

func (e *DigestError) Error() string {
	return redact.Text(fmt.Sprintf("%s from %s: content hashes to %s, want %s; the bytes were not stored", e.Item, e.Source, e.Got, e.Want))
}

// Unwrap returns ErrDigestMismatch.
func (e *DigestError) Unwrap() error { return ErrDigestMismatch }

// Transient reports whether retrying the same source may help: network
// errors, 5xx, 408 and 429. Digest mismatches, cancellation, unreachable
// hosts and permanent source errors are not.
func Transient(err error) bool {
	var de *DigestError
	if errors.As(err, &de) || errors.Is(err, context.Canceled) {
		return false
	}
	var se *SourceError
	if errors.As(err, &se) {
		if se.Permanent {
			return false
		}
		if se.Status != 0 {
			return se.Status >= 500 || se.Status == http.StatusTooManyRequests || se.Status == http.StatusRequestTimeout
		}
	}
	if Unreachable(err) {
		return false
	}
	if cut(err) {
		return true
	}
	var t interface{ Temporary() bool }
	if errors.As(err, &t) && !t.Temporary() {
		return false
	}
	return true
}

// cut reports whether err is a connection that ended early: closed or
// reset before the answer or in the middle of its body, what a link that
// resets connections does. net/http reports a connection closed before
// any header as a *url.Error whose Temporary is false, which would
// otherwise read as permanent.
func cut(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EPIPE)
}

// Unreachable reports whether err means the host could not be reached at
// all (no DNS answer, connection refused, no route).
func Unreachable(err error) bool {
	if err == nil {
		return false
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && (opErr.Op == "dial" || opErr.Op == "proxyconnect") {
		return true
	}
	// go-containerregistry's registry ping flattens the errors of its
	// https and http attempts into text.
	msg := err.Error()
	for _, s := range []string{"no such host", "connection refused", "proxyconnect", "network is unreachable", "no route to host"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}
