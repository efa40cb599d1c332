package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/fileserver"
	"github.com/paimirror/paimirror/fileserver/files"
	"github.com/paimirror/paimirror/registry"
)

// defaultIdleTimeout is how long serve keeps a keep-alive connection with
// no request in flight before closing it (--idle-timeout). Only idle time
// counts: a pull or push of any length is never cut, as serve sets no
// read or write timeout (request bodies are bounded: see fileserver.Serve).
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
	f.StringVar(&o.tlsDir, "tls-dir", "", "serve TLS with a CA and certificate generated once into DIR; the CA is served at "+fileserver.PathCA)
	f.BoolVar(&o.accessLog, "access-log", false, "log every request")
	f.DurationVar(&o.idle, "idle-timeout", defaultIdleTimeout, "close a keep-alive connection after this long with no request (0: never)")
	f.DurationVar(&o.drain, "drain", 30*time.Second, "on SIGINT/SIGTERM, how long pulls under way and in-flight requests may take to finish")
	f.StringVar(&o.key, "key", "", "serve only a bundle whose lock's signature verifies against this public key (cosign.pub; see 'paimirror sign')")
	return cmd
}

// runServe opens the bundle (checking its signature with --key), builds
// the registry over it, and hands both to fileserver.Serve, which owns the
// listener until ctx ends and the drain is over.
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
	sopts := fileserver.ServeOptions{
		Addr: o.addr, TLSCert: o.tlsCert, TLSKey: o.tlsKey, TLSDir: o.tlsDir,
		Uploads: o.writable != "", IdleTimeout: o.idle, Drain: o.drain,
		AccessLog: o.accessLog, Logger: o.serveLogger(),
	}
	if o.advertise != "" {
		var err error
		if sopts.Advertise, sopts.AdvertiseScheme, err = fileserver.ParseAdvertise(o.advertise); err != nil {
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
	// The access log is the listener's, for every kind of request: the
	// registry's own stays off, or /v2/ would be logged twice.
	regOpts := []registry.Option{registry.WithLogger(sopts.Logger)}
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
	if !o.quiet {
		sopts.OnListening = func(l fileserver.Listening) { o.printListening(l, filesNamed(paths), b, time.Since(start)) }
		sopts.OnDrain = func() {
			fmt.Fprintln(o.stderr, "stopping: letting in-flight requests finish, and pulls between two requests")
		}
	}
	return fileserver.Serve(ctx, b, reg, sopts)
}

// filesNamed names the files a command was given for messages: each of
// up to three ("base.tar + delta.tar"), or the first and the last of
// more (a bundle split in parts).
func filesNamed(paths []string) string {
	if len(paths) <= 3 {
		return strings.Join(paths, " + ")
	}
	return fmt.Sprintf("%s … %s (%d files)", paths[0], paths[len(paths)-1], len(paths))
}

// printListening says what is served where, and the URLs to give the nodes.
func (o *serveOptions) printListening(l fileserver.Listening, path string, b *bundle.Bundle, took time.Duration) {
	fmt.Fprintf(o.stderr, "serving %s (%d images, %d files, %d python files, %d .debs, %s) on %s://%s, ready in %s\n",
		path, len(b.Lock.Images), len(b.Lock.Files), len(b.Lock.PythonFiles()), b.Lock.AptDebs(), bundle.HumanSize(b.Size), l.Scheme, l.Addr, took.Round(time.Millisecond))
	fmt.Fprintf(o.stderr, "index page with the config to paste: %s/\n", l.URL)
	if len(b.Lock.PythonFiles()) > 0 {
		fmt.Fprintf(o.stderr, "pip index: %s%s/simple/\n", l.URL, files.PathPyPI)
	}
	for _, r := range b.Lock.AptRepositories() {
		fmt.Fprintf(o.stderr, "apt repository %s: %s%s %s\n", r.Name, l.URL, r.Prefix, strings.Join(r.Suites, " "))
	}
}
