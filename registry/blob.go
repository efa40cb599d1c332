package registry

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
)

// blobCacheControl is the Cache-Control distribution puts on every blob
// (its blobCacheControlMaxAge, a year).
const blobCacheControl = "max-age=31536000"

// extraHeaders go on every answer of the registry: distribution adds them
// from its http.headers configuration, and serveBlob the same way.
var extraHeaders = http.Header{"X-Content-Type-Options": {"nosniff"}}

// bundleBlob returns the blob a GET or HEAD of /v2/<name>/blobs/<digest>
// asks for, when the bundle holds it in that repository, else nil (the
// request is distribution's). Only the bundle's own repositories and blobs
// are answered here: a name or digest it does not hold, a pushed
// repository, any other route or method all go to distribution, which
// answers them as before (404 BLOB_UNKNOWN, 400 DIGEST_INVALID, ...).
// With WithWritable the upper layer never holds a bundle blob's link or
// data (the overlay refuses such writes), so the answer is the same as
// distribution would give through the overlay. It costs two map lookups.
func (r *Registry) bundleBlob(req *http.Request) *node {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		return nil
	}
	rest, ok := strings.CutPrefix(req.URL.Path, "/v2/")
	if !ok {
		return nil
	}
	i := strings.LastIndex(rest, "/blobs/")
	if i < 0 {
		return nil
	}
	// The path's digest is not checked here: the tree holds only valid
	// digests, so a malformed one is in no map and distribution answers
	// it (DIGEST_INVALID), as it answers every digest the bundle lacks.
	dgst := digest.Digest(rest[i+len("/blobs/"):])
	if br := r.tree.repos[rest[:i]]; br == nil || !br.blobs[dgst] {
		return nil
	}
	return r.tree.blobs[dgst]
}

// serveBlob answers a GET or HEAD of a blob of the bundle exactly as
// distribution v3.1.2 does (its blobServer.ServeBlob behind its app's
// dispatcher): the same headers (Docker-Distribution-API-Version,
// X-Content-Type-Options, ETag, Cache-Control, Docker-Content-Digest,
// Content-Type application/octet-stream, Content-Length, Accept-Ranges),
// and http.ServeContent for Range (206, multiple ranges, 416), HEAD and
// If-None-Match/If-Match/If-Range on the ETag. What differs is the cost:
// the body goes from the bundle file to the socket with sendfile(2)
// (blobSection, through recorder.ReadFrom), and no distribution code
// runs.
//
// A blob not yet verified is hashed whole from the bundle before its first
// byte is sent (one read of it from the local disk); a damaged one sends
// nothing, logs one Error record and aborts the response (see
// bundleDriver.verify). It returns the section, for the caller to learn
// whether it was damaged.
func (r *Registry) serveBlob(w *recorder, req *http.Request, n *node) *blobSection {
	h := w.Header()
	h.Add("Docker-Distribution-API-Version", "registry/2.0")
	for k, vs := range extraHeaders {
		for _, v := range vs {
			h.Add(k, v)
		}
	}
	h.Set("ETag", `"`+n.blob.String()+`"`)
	h.Set("Cache-Control", blobCacheControl)
	h.Set("Docker-Content-Digest", n.blob.String())
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(n.size, 10))
	s, err := r.bundleDriver.section(req, n)
	if err != nil {
		// Not while the bundle is open: New found every blob in it.
		r.bundleDriver.readFailed(n.blob, err)
		h.Del("Content-Length")
		serveError(w, errcode.ErrorCodeUnknown.WithDetail("the server's log says why"))
		return nil
	}
	http.ServeContent(w, req, n.blob.String(), time.Time{}, s)
	s.Close()
	return s
}

// blobSection is one blob's bytes in the bundle file, as http.ServeContent
// reads them. Reads use ReadAt on the bundle (no shared offset); when the
// response is sent through recorder.ReadFrom (ServeContent's copy of the
// body), sendTo hands the bytes to the kernel from a descriptor of the
// section's own onto the bundle file.
//
// The blob is verified against its digest (once per process, see
// bundleDriver.verify) before the first byte is read or sent; on a
// mismatch every read fails with ErrDamaged. Close releases the
// descriptor. A blobSection is used by one request at a time.
type blobSection struct {
	d    *bundleDriver
	req  *http.Request
	blob digest.Digest
	sr   *io.SectionReader
	// file and base are where the blob lies in one part file (BlobRegion);
	// file is nil when it crosses two parts.
	file *os.File
	base int64

	pos     int64
	checked bool
	err     error    // sticky: ErrDamaged, or a failed read of the bundle
	own     *os.File // the section's own descriptor, once opened
}

// section returns the blob of n as a blobSection for req.
func (d *bundleDriver) section(req *http.Request, n *node) (*blobSection, error) {
	sr, err := d.b.Blob(n.blob)
	if err != nil {
		return nil, err
	}
	f, base, _ := d.b.BlobRegion(n.blob)
	return &blobSection{d: d, req: req, blob: n.blob, sr: sr, file: f, base: base}, nil
}

// ready verifies the blob the first time it is about to be read.
func (s *blobSection) ready() error {
	if !s.checked {
		s.checked = true
		if !s.d.isVerified(s.blob) {
			if err := s.d.verify(s.req.Context(), s.blob); err != nil {
				s.err = err
			}
		}
	}
	return s.err
}

func (s *blobSection) Read(p []byte) (int, error) {
	if err := s.ready(); err != nil {
		return 0, err
	}
	if s.pos >= s.sr.Size() {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), s.sr.Size()-s.pos)]
	n, err := s.sr.ReadAt(p, s.pos)
	s.pos += int64(n)
	if err == io.EOF && n == len(p) {
		err = nil
	}
	if err != nil {
		s.failed(err)
	}
	return n, err
}

// failed notes a failed read of the bundle (logged once) and makes it
// sticky.
func (s *blobSection) failed(err error) {
	if s.err == nil {
		s.err = err
		s.d.readFailed(s.blob, err)
	}
}

func (s *blobSection) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += s.pos
	case io.SeekEnd:
		off += s.sr.Size()
	}
	if off < 0 {
		return 0, errors.New("blob section: seek before the start")
	}
	s.pos = off
	return off, nil
}

// Close closes the section's own descriptor, if it opened one.
func (s *blobSection) Close() error {
	if s.own == nil {
		return nil
	}
	err := s.own.Close()
	s.own = nil
	return err
}

// sendTo copies lr (ServeContent's limited view of s) to dst, which can
// take a reader (net/http's response can): from a descriptor of the
// section's own onto the bundle file, positioned at the section's current
// offset, so that net/http passes it to sendfile(2) and the bytes never
// enter this process. The descriptor is opened onto the very file the
// bundle holds open (reopen), never by name. Where no such descriptor can
// be had (a blob across two part files, no /proc), dst reads s instead.
func (s *blobSection) sendTo(dst io.ReaderFrom, lr *io.LimitedReader) (int64, error) {
	if err := s.ready(); err != nil {
		return 0, err
	}
	if s.own == nil && s.file != nil {
		s.own, _ = bundle.Reopen(s.file)
	}
	if s.own == nil {
		return dst.ReadFrom(lr)
	}
	if _, err := s.own.Seek(s.base+s.pos, io.SeekStart); err != nil {
		s.failed(err)
		return 0, err
	}
	n, err := dst.ReadFrom(&io.LimitedReader{R: s.own, N: lr.N})
	lr.N -= n
	s.pos += n
	if err != nil && errors.Is(err, syscall.EIO) {
		s.failed(err)
	}
	return n, err
}
