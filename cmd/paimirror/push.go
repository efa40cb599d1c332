package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/spf13/cobra"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/push"
)

type pushOptions struct {
	*globalOptions
	username      string
	passwordStdin bool
	ca            string
	insecure      bool
	include       []string
	exclude       []string
	jobs          int
	retries       int
	dryRun        bool
}

func newPushCmd(g *globalOptions) *cobra.Command {
	o := &pushOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "push BUNDLE [PART...] [DELTA...] REGISTRY[/PREFIX]",
		Short: "Copy a bundle's images into the lab's own registry (Harbor, registry, zot)",
		Long: `Push copies every image of a bundle into a registry under its mirror names
below PREFIX (for Harbor, PREFIX starts with the project): the bundle's
openpai/rest-server:v1.8.0 goes to REGISTRY/PREFIX/openpai/rest-server:v1.8.0,
byte for byte, so every digest stays the lock's.

A blob the registry already has is not sent, and one that another repository
of the push holds is mounted rather than sent, so each blob crosses the network
once. A rerun sends only what is missing: nothing after a finished push.

A delta bundle is pushed with its base, given first as to serve: every image
of the delta's lock (the new state) goes to the registry, each blob read from
whichever file holds it. After the base's own push only the delta's new
blobs are sent; one the registry holds from that push is mounted, even into a
repository the base had no image in. A delta alone is refused.

Credentials come from docker's config.json (docker login), or --username with
the password on standard input (--password-stdin). HTTPS is required unless
--insecure (or http://REGISTRY) says the registry serves plain HTTP; --ca
trusts the CA that signed a self-signed registry's certificate.

Then install with: paimirror install --registry REGISTRY/PREFIX --mirror MIRROR`,
		Example: `  paimirror push openpai-v1.8.0.tar harbor.lab/openpai
  echo "$HARBOR_PASSWORD" | paimirror push openpai-v1.8.0.tar harbor.lab:8443/openpai --username 'robot$openpai' --password-stdin --ca lab-ca.pem
  paimirror push openpai-v1.8.0.tar 127.0.0.1:5000 --insecure --exclude devbox
  paimirror push openpai-v1.8.0.tar harbor.lab/openpai --dry-run
  paimirror push openpai-v1.8.0.tar delta.tar harbor.lab/openpai`,
		Args: minArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPush(cmd.Context(), o, cmd.InOrStdin(), args[:len(args)-1], args[len(args)-1])
		},
	}
	f := cmd.Flags()
	f.StringVarP(&o.username, "username", "u", "", "user to push as (the password is read from standard input with --password-stdin)")
	f.BoolVar(&o.passwordStdin, "password-stdin", false, "read the password (or token) from standard input")
	f.StringVar(&o.ca, "ca", "", "trust the CA certificate (PEM) in this file for the registry, besides the system's")
	f.BoolVar(&o.insecure, "insecure", false, "the registry serves plain HTTP (credentials then cross the network in clear)")
	f.StringArrayVar(&o.include, "include", nil, "push a group that is off by default (the bundle must hold it; repeatable)")
	f.StringArrayVar(&o.exclude, "exclude", nil, "leave out a group's images (repeatable)")
	f.IntVarP(&o.jobs, "jobs", "j", 4, "blobs sent at once")
	f.IntVar(&o.retries, "retries", 3, "send a blob or manifest again this many times after a failure that may pass (a cut connection, 5xx, 429)")
	f.BoolVar(&o.dryRun, "dry-run", false, "ask the registry what is missing and say what would be sent; send nothing")
	cmd.MarkFlagsRequiredTogether("username", "password-stdin")
	return cmd
}

func runPush(ctx context.Context, o *pushOptions, stdin io.Reader, paths []string, registry string) error {
	target, err := push.ParseTarget(registry, o.insecure)
	if err != nil {
		return usageError{err}
	}
	opts := push.Options{
		Jobs: o.jobs, Retries: o.retries, Include: o.include, Exclude: o.exclude,
		DryRun: o.dryRun, Username: o.username, Logger: o.logger(),
	}
	if o.username != "" {
		pw, err := readPassword(stdin)
		if err != nil {
			return err
		}
		opts.Auth = &authn.Basic{Username: o.username, Password: pw}
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if o.ca != "" {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pemData, err := os.ReadFile(o.ca)
		if err != nil {
			return fmt.Errorf("reading --ca: %w", err)
		}
		if !pool.AppendCertsFromPEM(pemData) {
			return usageError{fmt.Errorf("--ca %s holds no PEM certificate", o.ca)}
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	defer tr.CloseIdleConnections()
	opts.Transport = tr

	b, err := openBundle(paths)
	if err != nil {
		return deltaAlone(err, paths, registry)
	}
	defer b.Close()
	prog := newBuildProgress(o.globalOptions)
	prog.verb = "pushed"
	if !o.dryRun {
		opts.Progress = prog.event
	}
	res, err := push.Push(ctx, b, target, opts)
	prog.finish()
	if res != nil && o.dryRun {
		fmt.Fprintf(o.stdout, "would push %d of %d images to %s: %d manifest names, %d blobs to send (%s), %d to mount from another repository, %d already there\n",
			res.Pushed, res.Images, target, res.Manifests, res.Uploaded, bundle.HumanSize(res.UploadedBytes), res.Mounted, res.Present)
		return err
	}
	if err != nil {
		if errors.Is(err, context.Canceled) {
			fmt.Fprintln(o.stderr, "interrupted: rerun the same command to send what is still missing")
		}
		return err
	}
	if !o.quiet {
		fmt.Fprintf(o.stdout, "pushed %d of %d images to %s (%d were there already): %d blobs sent (%s), %d mounted, %d already there\n",
			res.Pushed, res.Images, target, res.Images-res.Pushed, res.Uploaded, bundle.HumanSize(res.UploadedBytes), res.Mounted, res.Present)
	}
	return nil
}

// deltaAlone returns err, the refusal of the bundles paths, or when they
// are a delta (and deltas over it) given without its base, a refusal that
// says how to push them.
func deltaAlone(err error, paths []string, registry string) error {
	if !errors.Is(err, bundle.ErrWrongBase) {
		return err
	}
	sa, serr := findSplits(paths)
	if serr != nil {
		return err
	}
	nb, nerr := bundle.OpenWith(bundle.OpenOptions{NoBase: true}, sa.Paths...)
	if nerr != nil {
		return err // another mistake than the base left out
	}
	defer nb.Close()
	base := nb.Locks()[0].Base
	if base == nil {
		return err
	}
	file, named := "BASE.tar", ""
	if base.File != "" {
		file, named = base.File, ", file "+base.File
	}
	return fmt.Errorf("%w: %s is a delta bundle over the bundle whose lock is sha256:%s (manifest %s, built %s%s); it holds only the blobs that bundle lacks, and push sends every image of the new state: give the base first, as to serve and verify: paimirror push %s %s %s",
		bundle.ErrWrongBase, paths[0], base.LockSHA256, base.Manifest, base.Created.Format(time.RFC3339), named, file, strings.Join(paths, " "), registry)
}

// readPassword reads one line from r, without its line ending.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("reading the password from standard input: %w", err)
	}
	pw := strings.TrimRight(line, "\r\n")
	if pw == "" {
		return "", usageError{errors.New("--password-stdin: standard input held no password")}
	}
	return pw, nil
}
