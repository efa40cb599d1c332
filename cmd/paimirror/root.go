package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/paimirror/paimirror/bundle"
)

// Exit codes.
const (
	exitOK      = 0
	exitError   = 1
	exitUsage   = 2
	exitDamaged = 3 // verify found damage
)

// globalOptions are the flags every command has.
type globalOptions struct {
	quiet   bool
	verbose bool
	stdout  io.Writer
	stderr  io.Writer
}

// serveLogger logs errors always, and more with --verbose or --access-log.
func (o *serveOptions) serveLogger() *slog.Logger {
	level := slog.LevelWarn
	if o.verbose || o.accessLog {
		level = slog.LevelDebug
		if !o.verbose {
			level = slog.LevelInfo
		}
	}
	return slog.New(slog.NewTextHandler(o.stderr, &slog.HandlerOptions{Level: level}))
}

func (g *globalOptions) logger() *slog.Logger {
	level := slog.LevelError
	if g.verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(g.stderr, &slog.HandlerOptions{Level: level}))
}

// errDamaged marks a verify that found damage: exit status exitDamaged.
var errDamaged = errors.New("bundle is damaged")

// usageError marks a command-line mistake: exit status exitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func newRoot(g *globalOptions) *cobra.Command {
	root := &cobra.Command{
		Use:   "paimirror",
		Short: "Carry an OpenPAI v1.8.0 install across an air gap",
		Long: `paimirror installs OpenPAI v1.8.0 where the internet is blocked or absent.

  paimirror build     on a box with internet: pull every image and file into one bundle
  paimirror serve     in the lab: serve the bundle as a registry and file server
  paimirror install   on the dev box: point pai and kubespray at the mirror and install`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       currentVersion().String(),
		// The root runs so that an unknown verb reaches rootArgs and is a
		// usage error; with no verb it prints help.
		Args: rootArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		// Cobra checks required flags after this hook and returns a plain
		// error; checking them here makes them usage errors.
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := cmd.ValidateRequiredFlags(); err != nil {
				return usageError{err}
			}
			if err := cmd.ValidateFlagGroups(); err != nil {
				return usageError{err}
			}
			return nil
		},
	}
	root.SuggestionsMinimumDistance = 2
	root.SetVersionTemplate("{{.Version}}\n")
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	root.PersistentFlags().BoolVarP(&g.quiet, "quiet", "q", false, "print only errors and the final result")
	root.PersistentFlags().BoolVarP(&g.verbose, "verbose", "v", false, "log every retry and source tried")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(
		newBuildCmd(g),
		newServeCmd(g),
		newPushCmd(g),
		newInstallCmd(g),
		newVerifyCmd(g),
		newSplitCmd(g),
		newKeygenCmd(g),
		newSignCmd(g),
		newInspectCmd(g),
		newManifestCmd(g),
		newVersionCmd(g),
	)
	addCompletions(root)
	return root
}

// run executes the command line and maps its error to an exit status, in
// one place.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	g := &globalOptions{stdout: stdout, stderr: stderr}
	root := newRoot(g)
	root.SetArgs(args)
	root.InitDefaultCompletionCmd(args...)
	usageArgs(root)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintln(stderr, "paimirror:", err)
	var ue usageError
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "run '%s --help' for usage\n", cmd.CommandPath())
		return exitUsage
	case errors.Is(err, bundle.ErrWrongBase):
		return exitUsage // the files are sound; the command line names the wrong ones
	case errors.Is(err, errDamaged), errors.Is(err, bundle.ErrCorrupt):
		return exitDamaged
	case errors.Is(err, context.Canceled):
		return 130
	}
	return exitError
}

// rootArgs refuses an unknown verb, as cobra would but with a usage error.
func rootArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t") + "\n"
	}
	return usageError{errors.New(msg)}
}

// usageArgs makes the argument checks of cmd and every command under it
// (cobra's own completion command too) return usage errors.
func usageArgs(cmd *cobra.Command) {
	if check := cmd.Args; check != nil {
		cmd.Args = func(cmd *cobra.Command, args []string) error {
			err := check(cmd, args)
			var ue usageError
			if err != nil && !errors.As(err, &ue) {
				return usageError{err}
			}
			return err
		}
	}
	for _, c := range cmd.Commands() {
		usageArgs(c)
	}
}

// exactArgs is cobra.ExactArgs with a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.ExactArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func minArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := cobra.MinimumNArgs(n)(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
