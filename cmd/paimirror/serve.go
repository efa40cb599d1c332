package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
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
// read or write timeout.
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
}

func newServeCmd(g *globalOptions) *cobra.Command {
	o := &serveOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "serve BUNDLE [PART...]",
		Short: "Serve a bundle as a registry and a file server on one port",
		Long: `Serve opens the bundle in place (no extraction, no copy) and serves it on one
port: /v2/ is an OCI registry (distribution v3, embedded) holding every image
under each of its mirror names; /pypi/simple/ is a pip index of the bundle's
Python packages; everything else is the file server, with a page at / that
shows what the bundle holds and the exact config to paste.

Read-only unless --writable DIR is given: pushes then go to DIR, layered over
the bundle, which is never modified.`,
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
	f.DurationVar(&o.drain, "drain", 30*time.Second, "on SIGINT/SIGTERM, how long in-flight requests may finish")
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
	b, err := bundle.Open(paths...)
	if err != nil {
		return fmt.Errorf("%w\n(serve checks the bundle's structure only; damage inside a blob is what 'paimirror verify' finds)", err)
	}
	defer b.Close()

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
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	srv := &http.Server{
		Handler:           files.Handler(reg),
		ReadHeaderTimeout: 30 * time.Second,
		// No ReadTimeout or WriteTimeout: they would cut long blob pulls
		// and pushes. Only idle keep-alive connections are closed.
		IdleTimeout: o.idle,
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
		fmt.Fprintln(o.stderr, "stopping: letting in-flight requests finish")
	}
	// A fresh context: the command's is already cancelled.
	sctx, cancel := context.WithTimeout(context.Background(), o.drain)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("draining: %w", err)
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
