package main

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/sign"
)

type verifyOptions struct {
	*globalOptions
	jobs int
	key  string
}

func newVerifyCmd(g *globalOptions) *cobra.Command {
	o := &verifyOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "verify BUNDLE [PART...] [DELTA...]",
		Short: "Check every blob of a bundle offline",
		Long: `Verify reads the whole bundle: every blob must hash to its digest, every blob
the lock or an image manifest names must be present, the tar must be well
formed, and the lock must match the digest index.json records for it and the
image names index.json is annotated with. It names what is damaged and exits
with status 3 if anything is.

With --key PUB (a cosign public key, carried into the lab apart from the
bundle), the signature of the lock is checked first: a bundle with no
signature, or one that does not verify against PUB, exits with status 3
before any blob is read. Only PUB is trusted; nothing is looked up (no
transparency log, no certificate authority).

A delta bundle (build --base) is verified after its base, as one:
'paimirror verify BASE.tar DELTA.tar' checks that the delta was built over
that base (else exit status 2, naming both), that every blob the delta's
lock names is in one of them, and every blob of both; --key checks the
delta's signature, which covers the new state whole.

A bundle split into parts ('paimirror split', build --part-size) is given
as its parts in order (PREFIX.part*) or as its split index PREFIX.split.json
alone; with parts, the index beside the first is used. Every part is checked
against the index first, its size and then its sha256: a missing, cut short
or damaged part is named ("part 3 of 5, PREFIX.part003: sha256 mismatch")
and verify exits with status 3 before reading anything else; parts left
out, named twice or out of order are a usage error (status 2). Parts
without an index are verified as one bundle, damage named by blob.`,
		Example: `  paimirror verify openpai-v1.8.0.tar
  paimirror verify openpai-v1.8.0.tar --key lab.pub
  paimirror verify /media/usb/openpai-v1.8.0.tar.split.json`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runVerify(cmd.Context(), o, args) },
	}
	cmd.Flags().IntVarP(&o.jobs, "jobs", "j", 0, "blobs hashed at once (default: one per CPU)")
	cmd.Flags().StringVar(&o.key, "key", "", "check the lock's signature against this public key (cosign.pub) first")
	return cmd
}

func runVerify(ctx context.Context, o *verifyOptions, paths []string) error {
	start := time.Now()
	var pub *ecdsa.PublicKey
	if o.key != "" {
		var err error
		if pub, err = loadPublicKey("--key", o.key); err != nil {
			return err
		}
	}
	// Parts with a split index are checked first: a damaged one is named.
	paths, label, err := checkSplits(ctx, o.globalOptions, paths)
	if err != nil {
		return err
	}
	b, err := bundle.Open(paths...)
	if err != nil {
		return err
	}
	defer b.Close()
	// A delta's lock and signature are the newest; its base's blobs are
	// checked against that lock.
	name := b.Name()
	if label != "" {
		name = label
	}
	if pub != nil {
		if err := checkSignature(b, pub, name); err != nil {
			return err
		}
		fmt.Fprintf(o.stdout, "%s: the lock's signature verifies against %s (key %s)\n", name, o.key, sign.Fingerprint(pub))
	}
	if b.Lock.Base != nil {
		name = strings.Join(paths, " + ")
	}
	rep, err := verifyWithProgress(ctx, o.globalOptions, b, o.jobs, "verifying")
	if err != nil {
		return err
	}
	if !rep.OK() {
		printProblems(o.globalOptions, rep)
		return fmt.Errorf("%w: %d problems in %s; rebuild it, or copy it again from a good copy", errDamaged, len(rep.Problems), name)
	}
	fmt.Fprintf(o.stdout, "%s is intact: %d blobs, %s checked in %s\n", name, rep.Blobs, bundle.HumanSize(rep.Bytes), time.Since(start).Round(time.Millisecond))
	return nil
}

// checkSignature checks the bundle's signature against pub; a missing or
// wrong one exits with status 3 (exitDamaged).
func checkSignature(b *bundle.Bundle, pub *ecdsa.PublicKey, path string) error {
	if err := sign.Check(b, pub); err != nil {
		return signatureError{fmt.Errorf("%s: %w", path, err)}
	}
	return nil
}

// signatureError is a missing or wrong signature: its message as is, and
// exit status 3, as damage.
type signatureError struct{ err error }

func (e signatureError) Error() string        { return e.err.Error() }
func (e signatureError) Unwrap() error        { return e.err }
func (e signatureError) Is(target error) bool { return target == errDamaged }

// verifyWithProgress runs Verify, with a bar on a terminal (desc, its
// text) unless --quiet.
func verifyWithProgress(ctx context.Context, g *globalOptions, b *bundle.Bundle, jobs int, desc string) (*bundle.Report, error) {
	var bar *progressbar.ProgressBar
	if !g.quiet && isTerminal(g.stderr) {
		bar = progressbar.NewOptions64(b.Size, progressbar.OptionSetWriter(g.stderr), progressbar.OptionShowBytes(true),
			progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetDescription(desc))
	}
	rep, err := b.Verify(ctx, bundle.VerifyOptions{Jobs: jobs, Progress: func(n int64) {
		if bar != nil {
			bar.Add64(n)
		}
	}})
	if bar != nil {
		bar.Finish()
	}
	return rep, err
}

func printProblems(g *globalOptions, rep *bundle.Report) {
	for _, p := range rep.Problems {
		fmt.Fprintln(g.stdout, "DAMAGED:", p)
	}
}
