package main

import (
	"context"
	"crypto/ecdsa"
	"fmt"
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
		Use:   "verify BUNDLE [PART...]",
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
transparency log, no certificate authority).`,
		Example: `  paimirror verify openpai-v1.8.0.tar
  paimirror verify openpai-v1.8.0.tar --key lab.pub`,
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
	b, err := bundle.Open(paths...)
	if err != nil {
		return err
	}
	defer b.Close()
	if pub != nil {
		if err := checkSignature(b, pub, paths[0]); err != nil {
			return err
		}
		fmt.Fprintf(o.stdout, "%s: the lock's signature verifies against %s (key %s)\n", paths[0], o.key, sign.Fingerprint(pub))
	}
	rep, err := verifyWithProgress(ctx, o.globalOptions, b, o.jobs, "verifying")
	if err != nil {
		return err
	}
	if !rep.OK() {
		printProblems(o.globalOptions, rep)
		return fmt.Errorf("%w: %d problems in %s; rebuild it, or copy it again from a good copy", errDamaged, len(rep.Problems), paths[0])
	}
	fmt.Fprintf(o.stdout, "%s is intact: %d blobs, %s checked in %s\n", paths[0], rep.Blobs, bundle.HumanSize(rep.Bytes), time.Since(start).Round(time.Millisecond))
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
