package main

import (
	"context"
	"fmt"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/paimirror/paimirror/bundle"
)

type verifyOptions struct {
	*globalOptions
	jobs int
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
with status 3 if anything is.`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runVerify(cmd.Context(), o, args) },
	}
	cmd.Flags().IntVarP(&o.jobs, "jobs", "j", 0, "blobs hashed at once (default: one per CPU)")
	return cmd
}

func runVerify(ctx context.Context, o *verifyOptions, paths []string) error {
	start := time.Now()
	b, err := bundle.Open(paths...)
	if err != nil {
		return err
	}
	defer b.Close()
	var bar *progressbar.ProgressBar
	if !o.quiet && isTerminal(o.stderr) {
		bar = progressbar.NewOptions64(b.Size, progressbar.OptionSetWriter(o.stderr), progressbar.OptionShowBytes(true),
			progressbar.OptionClearOnFinish(), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionSetDescription("verifying"))
	}
	rep, err := b.Verify(ctx, bundle.VerifyOptions{Jobs: o.jobs, Progress: func(n int64) {
		if bar != nil {
			bar.Add64(n)
		}
	}})
	if bar != nil {
		bar.Finish()
	}
	if err != nil {
		return err
	}
	if !rep.OK() {
		for _, p := range rep.Problems {
			fmt.Fprintln(o.stdout, "DAMAGED:", p)
		}
		return fmt.Errorf("%w: %d problems in %s; rebuild it, or copy it again from a good copy", errDamaged, len(rep.Problems), paths[0])
	}
	fmt.Fprintf(o.stdout, "%s is intact: %d blobs, %s checked in %s\n", paths[0], rep.Blobs, bundle.HumanSize(rep.Bytes), time.Since(start).Round(time.Millisecond))
	return nil
}
