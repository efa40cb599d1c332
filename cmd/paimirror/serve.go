package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/fileserver"
	"github.com/paimirror/paimirror/registry"
)

// caPath is where serve --tls-dir publishes its CA certificate.
const caPath = "/paimirror-ca.crt"

// defaultIdleTimeout is how long serve keeps a keep-alive connection with
// no request in flight before closing it (--idle-timeout). Only idle time
// counts: a pull or push of any length is never cut, as serve sets no
// read or write timeout (request bodies are bounded by serveHandler).
const defaultIdleTimeout = 2 * time.Minute

type serveOptions struct {
	*globalOptions
	addr      string
	advertise string
	writable  string
	tlsCert   string
	tlsKey    string
	tlsDir    string
	accessLog bool
	drain     time.Duration
	idle      time.Duration
	key       string
}

func newServeCmd(g *globalOptions) *cobra.Command {
	o := &serveOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "serve BUNDLE [PART...] [DELTA...]",
		Short: "Serve a bundle as a registry and a file server on one port",
		Long: `Serve opens the bundle in place (no extraction, no copy) and serves it on one
port: /v2/ is an OCI registry (distribution v3, embedded) holding every image
under each of its mirror names; /pypi/simple/ is a pip index of the bundle's
Python packages; everything else is the file server, with a page at / that
shows what the bundle holds and the exact config to paste.

A delta bundle (build --base) is served after its base: 'paimirror serve
BASE.tar DELTA.tar' serves the delta's lock, each blob from whichever file
holds it; a delta given without its base, or after another bundle, is
refused (exit status 2) naming both.

Read-only unless --writable DIR is given: pushes then go to DIR, layered over
the bundle, which is never modified.

Each blob is checked against its digest the first time it is served; a
damaged one is never sent whole (the download is cut and the log names the
blob: run 'paimirror verify'). When file descriptors run short, serve closes
the longest idle keep-alive connections to accept new clients, and logs it.

On SIGINT/SIGTERM every answer closes its connection, and serve keeps
answering until no request has been in flight for 1s (so a pull between two
of its requests finishes) or --drain has passed; then it stops accepting and
lets in-flight requests finish within what is left of --drain.`,
		Example: `  paimirror serve openpai-v1.8.0.tar
  paimirror serve openpai-v1.8.0.tar --addr :5000 --advertise 10.0.0.10:5000
  paimirror serve openpai-v1.8.0.tar --writable /srv/paimirror-pushed --tls-dir /srv/paimirror-tls`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runServe(cmd.Context(), o, args) },
	}
	f := cmd.Flags()
	f.StringVar(&o.addr, "addr", ":5000", "address to listen on, HOST:PORT")
	f.StringVar(&o.advertise, "advertise", "", "HOST:PORT or http(s)://HOST[:PORT] the nodes reach this server at, for the config shown at / (default: each request's Host)")
	f.StringVar(&o.writable, "writable", "", "accept pushes and store them in DIR, layered over the bundle")
	f.StringVar(&o.tlsCert, "tls-cert", "", "serve TLS with this certificate (PEM; with --tls-key)")
	f.StringVar(&o.tlsKey, "tls-key", "", "the key of --tls-cert (PEM)")
	f.StringVar(&o.tlsDir, "tls-dir", "", "serve TLS with a CA and certificate generated once into DIR; the CA is served at "+caPath)
	f.BoolVar(&o.accessLog, "access-log", false, "log every request")
	f.DurationVar(&o.idle, "idle-timeout", defaultIdleTimeout, "close a keep-alive connection after this long with no request (0: never)")
	f.DurationVar(&o.drain, "drain", 30*time.Second, "on SIGINT/SIGTERM, how long pulls under way and in-flight requests may take to finish")
	f.StringVar(&o.key, "key", "", "serve only a bundle whose lock's signature verifies against this public key (cosign.pub; see 'paimirror sign')")
	return cmd
}

func runServe(ctx context.Context, o *serveOptions, paths []string) error {
	start := time.Now()
	if (o.tlsCert == "") != (o.tlsKey == "") {
		return usageError{errors.New("--tls-cert and --tls-key go together")}
	}
	if o.tlsCert != "" && o.tlsDir != "" {
		return usageError{errors.New("give either --tls-cert/--tls-key or --tls-dir, not both")}
	}
	if o.idle < 0 {
		return usageError{errors.New("--idle-timeout may not be negative")}
	}
	advertise, advertiseScheme := "", ""
	if o.advertise != "" {
		var err error
		if advertise, advertiseScheme, err = fileserver.ParseAdvertise(o.advertise); err != nil {
			return usageError{fmt.Errorf("--advertise: %w", err)}
		}
	}
	b, err := openBundle(paths)
	if err != nil {
		return fmt.Errorf("%w\n(serve checks the bundle's structure only; damage inside a blob is what 'paimirror verify' finds)", err)
	}
	defer b.Close()
	if o.key != "" {
		pub, err := loadPublicKey("--key", o.key)
		if err != nil {
			return err
		}
		if err := checkSignature(b, pub, b.Name()); err != nil {
			return fmt.Errorf("refusing to serve %w", err)
		}
	}

	log := o.serveLogger()
	regOpts := []registry.Option{registry.WithLogger(log), registry.WithAccessLog(o.accessLog)}
	if o.writable != "" {
		regOpts = append(regOpts, registry.WithWritable(o.writable))
	}
	// The registry keeps its context for the life of the app; detach it from
	// the signal so that nothing it derives is cancelled while pulls drain.
	reg, err := registry.New(context.WithoutCancel(ctx), b, regOpts...)
	if err != nil {
		return err
	}
	defer reg.Close()

	fsOpts := []fileserver.Option{fileserver.WithLogger(log), fileserver.WithAdvertise(advertise)}
	var tlsConfig *tls.Config
	scheme := "http"
	switch {
	case o.tlsCert != "":
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return fmt.Errorf("loading --tls-cert/--tls-key: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	case o.tlsDir != "":
		certs, err := ensureCerts(o.tlsDir, certHosts(o.addr, advertise), log)
		if err != nil {
			return err
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{certs.server}, MinVersion: tls.VersionTLS12}
		fsOpts = append(fsOpts, fileserver.WithCA(caPath, certs.caPEM))
	}
	if tlsConfig != nil {
		scheme = "https"
	}
	// The nodes use the advertised URL's scheme (a proxy in front may
	// terminate TLS), else the one served here.
	shownScheme := scheme
	if advertiseScheme != "" {
		shownScheme = advertiseScheme
	}
	if tlsConfig != nil || advertiseScheme != "" {
		fsOpts = append(fsOpts, fileserver.WithScheme(shownScheme))
	}
	files := fileserver.New(b, fsOpts...)

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w (is another server on that port? choose one with --addr)", o.addr, err)
	}
	conns := newConnTracker()
	ln = &shedListener{Listener: ln, conns: conns, log: log}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	var draining atomic.Bool
	srv := &http.Server{
		Handler:           serveHandler(files.Handler(reg), o.writable != "", defaultBodyLimits, &draining),
		ReadHeaderTimeout: 30 * time.Second,
		// No ReadTimeout or WriteTimeout: they would cut long blob pulls
		// and pushes. Idle keep-alive connections are closed, and request
		// bodies bounded (serveHandler).
		IdleTimeout: o.idle,
		ConnState:   conns.state,
		ErrorLog:    nil,
	}
	shown := advertise
	if shown == "" {
		shown = displayAddr(ln.Addr())
	}
	if !o.quiet {
		fmt.Fprintf(o.stderr, "serving %s (%d images, %d files, %d python files, %d .debs, %s) on %s://%s, ready in %s\n",
			paths[0], len(b.Lock.Images), len(b.Lock.Files), len(b.Lock.PythonFiles()), b.Lock.AptDebs(), bundle.HumanSize(b.Size), scheme, ln.Addr(), time.Since(start).Round(time.Millisecond))
		fmt.Fprintf(o.stderr, "index page with the config to paste: %s://%s/\n", shownScheme, shown)
		if len(b.Lock.PythonFiles()) > 0 {
			fmt.Fprintf(o.stderr, "pip index: %s://%s%s/simple/\n", shownScheme, shown, fileserver.PathPyPI)
		}
		for _, r := range b.Lock.AptRepositories() {
			fmt.Fprintf(o.stderr, "apt repository %s: %s://%s%s %s\n", r.Name, shownScheme, shown, r.Prefix, strings.Join(r.Suites, " "))
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if !o.quiet {
		fmt.Fprintln(o.stderr, "stopping: letting in-flight requests finish, and pulls between two requests")
	}
	return drain(srv, conns, &draining, o.drain)
}

// drainQuiet is how long serve, stopping, waits with no request in flight
// before it stops accepting: far longer than the gap between two requests
// of one pull.
const drainQuiet = time.Second

// drain stops srv within limit and reports whether every request finished.
// net/http's Shutdown alone would stop accepting and close idle keep-alive
// connections at once, breaking every pull that is between two of its
// requests (its next one is refused). So first, for as long as requests
// keep coming (up to limit): every answer closes its connection
// (draining), so clients leave after their current request, and new
// connections are still accepted, so a pull's next request is served.
// Once no request has been in flight for drainQuiet, Shutdown stops
// accepting, closes the idle connections and waits for what is left of
// limit for in-flight requests. It checks for quiet every 50 ms.
func drain(srv *http.Server, conns *connTracker, draining *atomic.Bool, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	draining.Store(true)
	start := time.Now()
	for {
		busy, since := conns.busy()
		if busy == 0 && time.Since(since) >= drainQuiet && time.Since(start) >= drainQuiet {
			break
		}
		if !time.Now().Before(deadline) {
			break
		}
		time.Sleep(min(50*time.Millisecond, time.Until(deadline)))
	}
	// A fresh context: the command's is already cancelled.
	sctx, cancel := context.WithDeadline(context.Background(), deadline)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("draining: %w (requests still in flight after --drain %s)", err, limit)
	}
	return nil
}

// displayAddr turns a wildcard listen address into one a browser can open.
func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// bodyLimits bounds how serve reads request bodies (see serveHandler).
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

// serveHandler wraps serve's handler h with the rules for request bodies
// and for the drain. serve sets no read timeout, since a push may take any
// time, so without these a body that trickles in (or never comes) would
// hold its connection, and a drain, for ever:
//
//   - the body of an upload (POST, PUT or PATCH under /v2/, with uploads
//     on: --writable) is read under a deadline that moves on by
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
func serveHandler(h http.Handler, uploads bool, limits bodyLimits, draining *atomic.Bool) http.Handler {
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
