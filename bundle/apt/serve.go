package apt

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"
)

// OpenFunc opens the stored bytes of the file with a sha256 (lowercase
// hex): a reader positioned at the start, and its size. An error wrapping
// fs.ErrNotExist makes the answer a 404.
type OpenFunc func(sha256 string) (io.ReadSeeker, int64, error)

// File is a file a Repository serves: its path from the repository root
// ("dists/bookworm/InRelease", "dists/bookworm/main/binary-amd64/Packages.gz",
// "pool/main/a/apt/apt_2.6.1_amd64.deb") and the sha256 of its bytes.
type File struct {
	Path   string
	SHA256 string
}

// Repository is an http.Handler serving stored files in the layout of an
// apt repository:
//
//	{prefix}/dists/{suite}/InRelease, Release, Release.gpg
//	{prefix}/dists/{suite}/{component}/binary-{arch}/Packages.xz, .gz, ...
//	{prefix}/dists/{suite}/{component}/i18n/Translation-en.xz, ...
//	{prefix}/dists/{suite}/{dir}/by-hash/SHA256/{sha256}   any stored file of {dir}
//	{prefix}/pool/...                                      the .deb files
//
// Paths are looked up exactly, as given to NewRepository: nothing is
// derived from the file system, so there is no traversal to guard. Bytes
// are served as stored (metadata as signed upstream), with Range and HEAD.
type Repository struct {
	prefix string
	log    *slog.Logger
	open   OpenFunc
	files  map[string]string // path → sha256
}

// RepositoryOption configures a Repository.
type RepositoryOption func(*Repository)

// WithPrefix mounts the repository under a path prefix such as
// "/debian" (then apt's sources line is "deb http://HOST:PORT/debian
// bookworm main"); default "" (the root).
func WithPrefix(prefix string) RepositoryOption {
	return func(r *Repository) { r.prefix = strings.TrimRight(prefix, "/") }
}

// WithLogger sets the logger for requests that fail on the server's side;
// default: discard.
func WithLogger(l *slog.Logger) RepositoryOption {
	return func(r *Repository) { r.log = l }
}

// NewRepository returns a handler serving files, whose bytes open gives.
// Each path must be clean and relative; one path listed twice must have
// one sha256.
func NewRepository(files []File, open OpenFunc, opts ...RepositoryOption) (*Repository, error) {
	r := &Repository{log: slog.New(slog.DiscardHandler), open: open, files: map[string]string{}}
	for _, o := range opts {
		o(r)
	}
	if r.prefix != "" && !strings.HasPrefix(r.prefix, "/") {
		return nil, fmt.Errorf("apt repository prefix %q: must start with /", r.prefix)
	}
	for _, f := range files {
		if !cleanRel(f.Path) {
			return nil, fmt.Errorf("apt repository: %q is not a clean relative path", f.Path)
		}
		if !isSHA256(f.SHA256) {
			return nil, fmt.Errorf("apt repository: %s: sha256 %q is not 64 lowercase hex digits", f.Path, f.SHA256)
		}
		if prev, ok := r.files[f.Path]; ok && prev != f.SHA256 {
			return nil, fmt.Errorf("apt repository: %s is listed with two sha256s, %s and %s", f.Path, prev, f.SHA256)
		}
		r.files[f.Path] = f.SHA256
		if strings.HasPrefix(f.Path, "dists/") {
			r.files[path.Dir(f.Path)+"/by-hash/SHA256/"+f.SHA256] = f.SHA256
		}
	}
	return r, nil
}

// ServeHTTP answers GET and HEAD requests for stored files.
func (r *Repository) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodGet && req.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p, ok := strings.CutPrefix(DropDotSegments(req.URL.Path), r.prefix+"/")
	sum, found := r.files[p]
	if !ok || !found {
		http.NotFound(w, req)
		return
	}
	rs, _, err := r.open(sum)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			http.NotFound(w, req)
			return
		}
		r.log.Error("opening a stored file", "path", p, "sha256", sum, "err", err)
		http.Error(w, "cannot read the stored file", http.StatusInternalServerError)
		return
	}
	if c, ok := rs.(io.Closer); ok {
		defer c.Close()
	}
	ct := "application/octet-stream"
	switch base := path.Base(p); {
	case strings.HasSuffix(base, ".deb"):
		ct = "application/vnd.debian.binary-package"
	case strings.HasSuffix(base, ".gz"): // as stored: never Content-Encoding
		ct = "application/gzip"
	case strings.HasSuffix(base, ".xz"):
		ct = "application/x-xz"
	case strings.HasSuffix(base, ".bz2"):
		ct = "application/x-bzip2"
	case base == "Release.gpg":
		ct = "application/pgp-signature"
	case base == "InRelease" || base == "Release" || base == "Packages" || strings.HasPrefix(base, "Translation-"):
		ct = "text/plain; charset=utf-8"
	}
	// dists/ names other than by-hash ones change when the mirror is
	// remade; by-hash and pool/ names never do.
	cache := "public, max-age=31536000, immutable"
	if strings.HasPrefix(p, "dists/") && !strings.Contains(p, "/by-hash/") {
		cache = "max-age=300"
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("ETag", `"`+sum+`"`)
	w.Header().Set("Cache-Control", cache)
	http.ServeContent(w, req, "", time.Time{}, rs)
}

// DropDotSegments removes the "." segments of a request path ("/a/./b" is
// "/a/b"), and nothing else: apt asks a flat repository ("deb URL ./") for
// "URL/./InRelease".
func DropDotSegments(p string) string {
	for strings.Contains(p, "/./") {
		p = strings.ReplaceAll(p, "/./", "/")
	}
	return p
}
