package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/api/errcode"
	v2 "github.com/distribution/distribution/v3/registry/api/v2"
	"github.com/distribution/distribution/v3/registry/handlers"
	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/distribution/distribution/v3/registry/storage/driver/base"
	"github.com/distribution/distribution/v3/registry/storage/driver/filesystem"
	"github.com/distribution/reference"
	"github.com/gorilla/mux"
	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/fileserver/logclip"
)

// maxManifestBody is the largest manifest a push may carry; distribution
// enforces the same limit.
const maxManifestBody = 4 << 20

// Registry is the registry API (/v2/) over one bundle: distribution's
// handlers.App on the bundle driver, or on the overlay driver with
// WithWritable. It is an http.Handler, safe for concurrent use; the caller
// routes /v2/ to it and owns the bundle, which must stay open until Close.
type Registry struct {
	id        string
	app       *handlers.App
	tree      *tree
	log       *slog.Logger
	accessLog bool
	writable  bool
	driver    storagedriver.StorageDriver
	// bundleDriver is the driver over the bundle (the lower layer when
	// writable).
	bundleDriver *bundleDriver
	closeOnce    sync.Once
	stop         context.CancelFunc // ends the background work

	seq      atomic.Uint64
	requests sync.Map // request id -> *requestLog
	subjects sync.Map // manifest digest -> manifestInfo (referrers cache)
}

// Option configures New.
type Option func(*options)

type options struct {
	log         *slog.Logger
	accessLog   bool
	writableDir string
}

// WithLogger sets the logger for errors, warnings, distribution's own
// messages and the access log. Default: discard.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.log = l
		}
	}
}

// WithAccessLog turns on one Info record per request (method, path, status,
// bytes, duration, client). Default: off.
func WithAccessLog(on bool) Option {
	return func(o *options) { o.accessLog = on }
}

// WithWritable accepts pushes and stores them in dir (created if missing),
// layered over the bundle: pulls see pushed content and bundle content
// together, and tag lists and the catalog merge both. The bundle is never
// modified; replacing or deleting content that comes from it is refused
// with 403 DENIED. A manifest whose sizes disagree with the blobs it names
// is refused with 400 MANIFEST_INVALID. Uploads left unfinished for more
// than 24 hours are removed from dir, at New and every hour after.
// Default: read-only, where every push and delete gets 405 UNSUPPORTED.
func WithWritable(dir string) Option {
	return func(o *options) { o.writableDir = dir }
}

// New builds the registry for b. It reads only b's lock, never its blob
// data, so it takes the same time whatever the bundle's size. ctx bounds
// the registry's background work; cancel it or call Close to stop.
func New(ctx context.Context, b *bundle.Bundle, opts ...Option) (*Registry, error) {
	o := options{log: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(&o)
	}
	if b == nil || b.Lock == nil {
		return nil, errors.New("creating registry: no bundle")
	}
	t, err := newTree(b, o.log)
	if err != nil {
		return nil, fmt.Errorf("creating registry: %w", err)
	}
	lower := &bundleDriver{b: b, tree: t, log: o.log}
	var drv storagedriver.StorageDriver = lower
	writableDir := ""
	if o.writableDir != "" {
		dir, err := filepath.Abs(o.writableDir)
		if err != nil {
			return nil, fmt.Errorf("creating registry: writable directory: %w", err)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating registry: writable directory: %w", err)
		}
		upper := filesystem.New(filesystem.DriverParameters{RootDirectory: dir, MaxThreads: 100})
		drv = &overlayDriver{upper: upper, lower: lower}
		purgeUploads(dir, uploadMaxAge, time.Now(), o.log)
		writableDir = dir
	}

	var idb [16]byte
	rand.Read(idb[:])
	r := &Registry{
		id:        hex.EncodeToString(idb[:]),
		tree:      t,
		log:       o.log,
		accessLog: o.accessLog,
		writable:  o.writableDir != "",

		bundleDriver: lower,
	}

	registerFactory()
	takeOverLogrus()
	r.driver = &base.Base{StorageDriver: drv}
	pending.Store(r.id, r.driver)
	defer pending.Delete(r.id)
	setLive(r, true)
	bgCtx, stop := context.WithCancel(ctx)
	r.stop = stop

	secret := make([]byte, 32)
	rand.Read(secret)
	cfg := &configuration.Configuration{}
	cfg.HTTP.Secret = hex.EncodeToString(secret)
	cfg.HTTP.Headers = http.Header{"X-Content-Type-Options": {"nosniff"}}
	// The defaults configuration.Parse would fill in (Parse is not used:
	// it also reads REGISTRY_* variables from the environment).
	cfg.Catalog.MaxEntries = 1000
	cfg.Tags.MaxTags = 1000
	cfg.Storage = configuration.Storage{
		driverName: configuration.Parameters{instanceParam: r.id},
		"maintenance": configuration.Parameters{
			// distribution's purger first runs after a random delay of up
			// to an hour; purgeUploads runs at start and then hourly.
			"uploadpurging": map[any]any{"enabled": false},
			"readonly":      map[any]any{"enabled": !r.writable},
		},
		"delete":   configuration.Parameters{"enabled": r.writable},
		"redirect": configuration.Parameters{"disable": true},
	}
	// Non-distributable (foreign) layers may point at http(s) URLs, as on
	// Docker Hub; distribution's default refuses every URL.
	cfg.Validation.Manifests.URLs.Allow = []string{"^https?://"}
	//lint:ignore SA1029 distribution reads this exact string key
	appCtx := context.WithValue(ctx, instanceKey, r.id) //nolint:staticcheck
	r.app, err = newApp(appCtx, cfg)
	if err != nil {
		stop()
		setLive(r, false)
		return nil, fmt.Errorf("creating registry: %w", err)
	}
	if writableDir != "" {
		go purgeUploadsEvery(bgCtx, writableDir, uploadPurgeEvery, o.log)
	}
	r.log.Debug("registry ready", "repositories", len(t.repos), "nodes", len(t.nodes), "writable", o.writableDir)
	return r, nil
}

// newApp calls handlers.NewApp, which reports configuration problems by
// panicking.
func newApp(ctx context.Context, cfg *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("distribution: %v", p)
		}
	}()
	return handlers.NewApp(ctx, cfg), nil
}

// Close stops the registry's background work and detaches it from
// distribution's logger. It does not close the bundle.
func (r *Registry) Close() error {
	var err error
	r.closeOnce.Do(func() {
		r.stop()
		err = r.app.Shutdown()
		setLive(r, false)
	})
	return err
}

// ServeHTTP serves the registry API.
func (r *Registry) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.ServeCounted(w, req, nil)
}

// ServeCounted serves the registry API like ServeHTTP and then, unless
// count is nil, calls count once with what the client got: the status
// code, the body bytes sent (none for HEAD) and whether the body was cut
// short (the client went away, the bundle could not be read, or a damaged
// blob was refused). It lets a caller count requests without wrapping w in
// a recorder of its own (fileserver.Server.Handler does): every request
// passes through exactly one, the registry's.
//
// GET and HEAD of a blob the bundle holds in the named repository are
// answered here (serveBlob), the body sent by the kernel from the bundle
// file; every other request goes to distribution.
func (r *Registry) ServeCounted(w http.ResponseWriter, req *http.Request, count func(code int, bytes int64, aborted bool)) {
	start := time.Now()
	rec := &recorder{ResponseWriter: w, head: req.Method == http.MethodHead}
	damaged := false
	if n := r.bundleBlob(req); n != nil {
		s := r.serveBlob(rec, req, n)
		if rec.held != nil {
			r.answerServerError(rec, req)
		}
		damaged = s != nil && errors.Is(s.err, ErrDamaged)
		rec.aborted = rec.aborted || (s != nil && s.err != nil)
	} else {
		damaged = r.serveDistribution(rec, req)
	}
	status := rec.code()
	if r.accessLog {
		r.log.LogAttrs(req.Context(), slog.LevelInfo, "request",
			slog.String("method", req.Method),
			slog.String("path", logclip.Clip(req.URL.RequestURI())),
			slog.Int("status", status),
			slog.Int64("bytes", rec.written),
			slog.Duration("duration", time.Since(start)),
			slog.String("client", req.RemoteAddr),
			slog.String("agent", req.UserAgent()),
		)
	}
	if count != nil {
		sent := rec.written
		if rec.head {
			sent = 0 // net/http drops a HEAD answer's body
		}
		count(status, sent, rec.aborted || damaged)
	}
	if damaged {
		// A damaged blob was cut short or refused; make sure the client
		// sees a broken connection, not an answer.
		panic(http.ErrAbortHandler)
	}
}

// serveDistribution passes a request on to distribution, with the
// registry's own checks and additions in front (serve), holds
// distribution's log entries until the status is known, and answers a
// server error without distribution's details. It reports whether the
// driver cut a damaged blob short.
func (r *Registry) serveDistribution(rec *recorder, req *http.Request) bool {
	reqID := r.id + "/" + strconv.FormatUint(r.seq.Add(1), 10)
	held := r.beginRequest(reqID)
	var damaged atomic.Bool
	//lint:ignore SA1029 distribution reads this exact string key
	ctx := context.WithValue(req.Context(), instanceKey, reqID) //nolint:staticcheck
	req = req.WithContext(context.WithValue(ctx, damageKey{}, &damaged))
	r.serve(rec, req)
	if rec.held != nil {
		r.answerServerError(rec, req)
	}
	r.endRequest(reqID, held, rec.code())
	return damaged.Load()
}

func (r *Registry) serve(w *recorder, req *http.Request) {
	if badPath(w, req) || r.refused(w, req) {
		return
	}
	if name, dgst, ok := referrersPath(req.URL.Path); ok {
		r.serveReferrers(w, req, name, dgst)
		return
	}
	if r.writable && manifestPush(req) {
		body, err := peekBody(req)
		if err == nil && r.wrongSizes(w, req, body) {
			return
		}
		r.noteSubject(w, body)
	}
	r.app.ServeHTTP(w, req)
}

// maxPath bounds the path of a registry request: the longest the API has
// (a 255-character name, then a referrers or blob route with a sha512
// digest) is about 400 bytes.
const maxPath = 2048

// badPath answers, before distribution sees them, requests whose
// repository name is longer than the 255 characters names may have (400
// NAME_INVALID) and requests whose path is longer than any the API has
// (414), and reports whether it did. distribution answers a long name with
// a 500 that echoes it, and logs it at error level. Neither answer echoes
// the path.
func badPath(w http.ResponseWriter, req *http.Request) bool {
	if name, ok := repositoryName(req.URL.Path); ok && len(name) > reference.RepositoryNameTotalLengthMax {
		serveError(w, errcode.ErrorCodeNameInvalid.WithMessage(fmt.Sprintf(
			"repository name is %d characters long; at most %d are allowed", len(name), reference.RepositoryNameTotalLengthMax)))
		return true
	}
	if len(req.URL.Path) > maxPath {
		http.Error(w, fmt.Sprintf("414 request path is %d bytes long; the registry API has none longer than %d", len(req.URL.Path), maxPath), http.StatusRequestURITooLong)
		return true
	}
	return false
}

// repositoryName returns the repository name in a registry API path
// ("/v2/<name>/manifests/<reference>", ".../blobs/<digest>",
// ".../blobs/uploads/[<id>]", ".../tags/list", ".../referrers/<digest>"),
// or false for a path that has none (the ping, the catalog, no route).
func repositoryName(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return "", false
	}
	if name, ok := strings.CutSuffix(rest, "/tags/list"); ok {
		return name, true
	}
	const uploads = "/blobs/uploads/"
	if i := strings.LastIndex(rest, uploads); i >= 0 && !strings.Contains(rest[i+len(uploads):], "/") {
		return rest[:i], true
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return "", false
	}
	rest = rest[:i] // the reference or digest
	for _, route := range []string{"/manifests", "/blobs", "/referrers"} {
		if name, ok := strings.CutSuffix(rest, route); ok {
			return name, true
		}
	}
	return "", false
}

// refused answers requests that may not change the registry and reports
// whether it did. Read-only, every method other than GET, HEAD and OPTIONS
// gets 405 UNSUPPORTED (distribution's own read-only mode answers 405 with a
// plain-text body; clients show the registry error better). Writable,
// replacing or deleting a manifest, tag or blob that comes from the bundle
// gets 403 DENIED.
func (r *Registry) refused(w http.ResponseWriter, req *http.Request) bool {
	switch req.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	if !r.writable {
		serveError(w, errcode.ErrorCodeUnsupported.WithDetail("this registry serves a read-only bundle; pushes and deletes need a writable registry (paimirror serve --writable DIR)"))
		return true
	}
	var m mux.RouteMatch
	if !v2.Router().Match(req, &m) || m.Route == nil {
		return false
	}
	br := r.tree.repos[m.Vars["name"]]
	if br == nil {
		return false
	}
	deny := func(what string) bool {
		serveError(w, errcode.ErrorCodeDenied.WithDetail(what+" comes from the read-only bundle and cannot be replaced or deleted"))
		return true
	}
	switch m.Route.GetName() {
	case v2.RouteNameManifest:
		ref := m.Vars["reference"]
		switch req.Method {
		case http.MethodDelete:
			if _, ok := br.tags[ref]; ok || br.manifests[digest.Digest(ref)] {
				return deny(m.Vars["name"] + ":" + ref)
			}
		case http.MethodPut:
			have, ok := br.tags[ref]
			if !ok {
				return false // a new tag, or a digest (content-addressed)
			}
			body, err := peekBody(req)
			if err != nil {
				return false // distribution reports the broken upload
			}
			if digest.FromBytes(body) != have {
				return deny(m.Vars["name"] + ":" + ref)
			}
		}
	case v2.RouteNameBlob:
		if req.Method == http.MethodDelete && br.blobs[digest.Digest(m.Vars["digest"])] {
			return deny("blob " + m.Vars["digest"])
		}
	}
	return false
}

func serveError(w http.ResponseWriter, err errcode.Error) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	_ = errcode.ServeJSON(w, err)
}

// recorder notes the status and size of a response for the access log
// and ServeCounted, and holds back the body of a server error (5xx) for
// answerServerError. It is the only wrapper of the client's
// ResponseWriter; its ReadFrom lets a blob's bytes go to the kernel
// (blobSection.sendTo).
type recorder struct {
	http.ResponseWriter
	status int
	// written counts the body bytes handed on (or, for a HEAD, that would
	// have been).
	written int64
	head    bool // the request is a HEAD
	// aborted is set when writing the body failed, or its content could
	// not be read: the client got less than it was told.
	aborted bool
	// onCreated adds headers to a 201 response.
	onCreated func(http.Header)
	// held is the body of a server error, kept from the client (up to
	// maxHeldBody bytes); nil for any other response.
	held *bytes.Buffer
}

func (rec *recorder) WriteHeader(code int) {
	if rec.held != nil {
		return
	}
	if rec.status == 0 {
		rec.status = code
		if code == http.StatusCreated && rec.onCreated != nil {
			rec.onCreated(rec.Header())
		}
		if code >= 500 {
			rec.held = &bytes.Buffer{}
			return
		}
	}
	rec.ResponseWriter.WriteHeader(code)
}

func (rec *recorder) Write(p []byte) (int, error) {
	if rec.status == 0 {
		rec.WriteHeader(http.StatusOK)
	}
	if rec.held != nil {
		if room := maxHeldBody - rec.held.Len(); room > 0 {
			rec.held.Write(p[:min(len(p), room)])
		}
		return len(p), nil
	}
	n, err := rec.ResponseWriter.Write(p)
	rec.written += int64(n)
	if err != nil {
		rec.aborted = true
	}
	return n, err
}

// ReadFrom copies src to the client, as io.Copy would, except that
// ServeContent's view of a blobSection goes out through the kernel
// (sendTo) when the client's writer can take a reader, as net/http's
// response can.
func (rec *recorder) ReadFrom(src io.Reader) (int64, error) {
	if rec.status == 0 {
		rec.WriteHeader(http.StatusOK)
	}
	rf, canTake := rec.ResponseWriter.(io.ReaderFrom)
	if rec.held != nil || !canTake {
		return io.Copy(writerOnly{rec}, src)
	}
	var n int64
	var err error
	if lr, ok := src.(*io.LimitedReader); ok {
		if s, ok := lr.R.(*blobSection); ok {
			n, err = s.sendTo(rf, lr)
		} else {
			n, err = rf.ReadFrom(src)
		}
	} else {
		n, err = rf.ReadFrom(src)
	}
	rec.written += n
	if err != nil {
		rec.aborted = true
	}
	return n, err
}

// writerOnly hides a writer's ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }

// code is the status the client got: 200 when nothing was written.
func (rec *recorder) code() int {
	if rec.status == 0 {
		return http.StatusOK
	}
	return rec.status
}

// Flush lets streamed responses through.
func (rec *recorder) Flush() {
	if rec.held != nil {
		return
	}
	if f, ok := rec.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap gives http.ResponseController the underlying writer.
func (rec *recorder) Unwrap() http.ResponseWriter { return rec.ResponseWriter }
