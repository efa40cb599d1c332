package fileserver

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// bodyLimits bounds how Serve reads request bodies (see limitBodies).
type bodyLimits struct {
	// window is how long an upload's body may take to bring progress
	// more bytes.
	window time.Duration
	// progress is the number of bytes that moves an upload's read
	// deadline window on.
	progress int64
}

// defaultBodyLimits: an upload must bring 64 KiB a minute (about 1 KiB/s).
var defaultBodyLimits = bodyLimits{window: time.Minute, progress: 64 << 10}

// limitBodies wraps the listener's handler h with the rules for request
// bodies and for the drain. Serve sets no read timeout, since a push may
// take any time, so without these a body that trickles in (or never comes)
// would hold its connection, and a drain, for ever:
//
//   - the body of an upload (POST, PUT or PATCH under /v2/, with uploads
//     on: ServeOptions.Uploads) is read under a deadline that moves on by
//     limits.window each time limits.progress more bytes arrive; a body
//     that stops or crawls fails with a read timeout and its connection is
//     closed.
//   - any other request's body is never read: the answer goes out at once
//     and closes the connection (net/http would otherwise wait for the
//     body to arrive, to find the next request).
//   - once draining is set, every answer closes its connection
//     (Connection: close), so clients leave after their current request.
//
// It costs a deadline update per progress bytes of upload; requests
// without a body are passed through untouched.
func limitBodies(h http.Handler, uploads bool, limits bodyLimits, draining *atomic.Bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining.Load() {
			w.Header().Set("Connection", "close")
		}
		if r.ContentLength != 0 { // -1: a body of unknown length
			rc := http.NewResponseController(w)
			if uploads && isUpload(r) {
				if err := rc.SetReadDeadline(time.Now().Add(limits.window)); err == nil {
					r.Body = &progressBody{ReadCloser: r.Body, rc: rc, limits: limits}
				}
			} else {
				w.Header().Set("Connection", "close")
				// A deadline already passed: the body is not waited for,
				// and what remains of it is never taken for a request.
				rc.SetReadDeadline(time.Unix(1, 0))
			}
		}
		h.ServeHTTP(w, r)
	})
}

// isUpload reports whether r may carry a body the registry reads: a blob
// upload or a manifest push.
func isUpload(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPut, http.MethodPatch:
		return strings.HasPrefix(r.URL.Path, "/v2/")
	}
	return false
}

// progressBody moves its connection's read deadline on each time another
// limits.progress bytes have been read.
type progressBody struct {
	io.ReadCloser
	rc     *http.ResponseController
	limits bodyLimits
	since  int64 // bytes read since the deadline last moved
}

func (b *progressBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.since += int64(n)
	// Only while the body goes on: at its end net/http clears the
	// deadline to watch the connection, and must not find one set.
	if err == nil && b.since >= b.limits.progress {
		b.since = 0
		b.rc.SetReadDeadline(time.Now().Add(b.limits.window))
	}
	return n, err
}
