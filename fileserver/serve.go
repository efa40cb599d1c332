package fileserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/fileserver/tlsca"
)

// ServeOptions configures Serve. The zero value serves plain HTTP on
// :5000, read-only, with no log, never closing idle connections and
// stopping at once when ctx ends.
type ServeOptions struct {
	// Addr is the address to listen on, HOST:PORT. Default ":5000".
	Addr string
	// Advertise is the HOST:PORT the nodes reach the mirror at, and
	// AdvertiseScheme its scheme when given as a URL (ParseAdvertise
	// returns both), for the snippets and Listening.URL. Default: each
	// request's Host, and the scheme served here.
	Advertise, AdvertiseScheme string
	// TLSCert and TLSKey (PEM files, both or neither) serve TLS with that
	// certificate. Default: plain HTTP.
	TLSCert, TLSKey string
	// TLSDir serves TLS with a CA and server certificate generated once
	// into the directory (tlsca.Ensure, for tlsca.Hosts of Addr and
	// Advertise), and serves the CA at PathCA. Not with TLSCert.
	TLSDir string
	// Uploads says the registry accepts pushes: their bodies are read
	// under the progress rule (see Serve). Default: no request body is
	// ever waited for.
	Uploads bool
	// IdleTimeout closes a keep-alive connection after this long with no
	// request. Default 0: never.
	IdleTimeout time.Duration
	// Drain is how long, once ctx ends, pulls under way and in-flight
	// requests may take to finish. Default 0: stop at once.
	Drain time.Duration
	// AccessLog logs one Info record per request, of every kind
	// (WithAccessLog). Default: off.
	AccessLog bool
	// Logger gets the access log, errors and warnings (the CA's, a
	// descriptor shortage). Default: discard.
	Logger *slog.Logger
	// OnListening, when set, is called once the listener is open, before
	// the first request is accepted.
	OnListening func(Listening)
	// OnDrain, when set, is called once ctx has ended, as the drain
	// begins.
	OnDrain func()
}

// Listening is where Serve listens, for OnListening.
type Listening struct {
	// Addr is the listener's address.
	Addr net.Addr
	// Scheme is "https" when serving TLS, else "http".
	Scheme string
	// URL is what the nodes reach the mirror at: the advertised address
	// and scheme, else Addr (127.0.0.1 for a wildcard host) and Scheme;
	// "http://HOST:PORT", no trailing slash.
	URL string
}

// Serve serves b on one listener until ctx ends, then drains: registry
// answers /v2 and below, the bundle's files and pages everything else
// (Server.Handler), every request counted in one Metrics and, with
// AccessLog, logged. It returns nil once drained, or why it could not
// listen or stopped early.
//
// Guarantees:
//   - no read or write timeout, so a pull or push of any length is never
//     cut; a keep-alive connection is closed after IdleTimeout idle.
//   - request bodies are bounded: an upload's (POST, PUT or PATCH under
//     /v2/, with Uploads) must bring 64 KiB a minute, and any other
//     request's body is never waited for (its answer closes the
//     connection).
//   - when file descriptors run short, the longest idle keep-alive
//     connections are closed to accept new clients (logged at most once a
//     minute).
//   - once ctx ends, every answer closes its connection and new
//     connections are still accepted until no request has been in flight
//     for 1s (a pull between two of its requests finishes) or Drain has
//     passed; then it stops accepting and in-flight requests have what is
//     left of Drain. net/http's Shutdown runs with a fresh context.
//
// Its cost is a connection-state hook per connection (a lock) and a
// deadline update per 64 KiB of upload; start-up reads only b's lock (and,
// with TLSDir, the directory).
func Serve(ctx context.Context, b *bundle.Bundle, registry http.Handler, o ServeOptions) error {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	addr := o.Addr
	if addr == "" {
		addr = ":5000"
	}
	opts := []Option{WithLogger(log), WithAdvertise(o.Advertise), WithAccessLog(o.AccessLog)}
	var tlsConfig *tls.Config
	switch {
	case o.TLSCert != "" && o.TLSDir != "":
		return fmt.Errorf("give either a TLS certificate or a TLS directory, not both")
	case o.TLSCert != "":
		cert, err := tls.LoadX509KeyPair(o.TLSCert, o.TLSKey)
		if err != nil {
			return fmt.Errorf("loading --tls-cert/--tls-key: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	case o.TLSDir != "":
		certs, err := tlsca.Ensure(o.TLSDir, tlsca.Hosts(addr, o.Advertise), log)
		if err != nil {
			return err
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{certs.Server}, MinVersion: tls.VersionTLS12}
		opts = append(opts, WithCA(PathCA, certs.CAPEM))
	}
	scheme := "http"
	if tlsConfig != nil {
		scheme = "https"
	}
	// The nodes use the advertised URL's scheme (a proxy in front may
	// terminate TLS), else the one served here.
	shownScheme := scheme
	if o.AdvertiseScheme != "" {
		shownScheme = o.AdvertiseScheme
	}
	if tlsConfig != nil || o.AdvertiseScheme != "" {
		opts = append(opts, WithScheme(shownScheme))
	}
	s := New(b, opts...)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w (is another server on that port? choose one with --addr)", addr, err)
	}
	conns := newConnTracker()
	ln = &shedListener{Listener: ln, conns: conns, log: log}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	var draining atomic.Bool
	srv := &http.Server{
		Handler:           limitBodies(s.Handler(registry), o.Uploads, defaultBodyLimits, &draining),
		ReadHeaderTimeout: 30 * time.Second,
		// No ReadTimeout or WriteTimeout: they would cut long blob pulls
		// and pushes. Idle keep-alive connections are closed, and request
		// bodies bounded (limitBodies).
		IdleTimeout: o.IdleTimeout,
		ConnState:   conns.state,
	}
	if o.OnListening != nil {
		shown := o.Advertise
		if shown == "" {
			shown = displayAddr(ln.Addr())
		}
		o.OnListening(Listening{Addr: ln.Addr(), Scheme: scheme, URL: shownScheme + "://" + shown})
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	if o.OnDrain != nil {
		o.OnDrain()
	}
	return drain(srv, conns, &draining, o.Drain)
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
	// A fresh context: the caller's is already cancelled.
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
