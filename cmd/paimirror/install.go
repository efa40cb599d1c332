package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/paimirror/paimirror/installer"
	"github.com/paimirror/paimirror/installer/steps"
	"github.com/paimirror/paimirror/installer/storage"
)

type installOptions struct {
	*globalOptions
	opts       installer.Options
	mirrorCA   string
	registryCA string
	yes        bool
	dryRun     bool
	restoreApt bool
	storage    storage.Options
}

// adminPasswordEnv holds the OpenPAI admin's password for the storage step;
// without it, install asks on the terminal. Never a flag: command lines are
// visible to every user of the machine.
const adminPasswordEnv = "PAIMIRROR_PAI_ADMIN_PASSWORD"

// registryPasswordEnv holds --registry-username's password; without it,
// install asks on the terminal.
const registryPasswordEnv = "PAIMIRROR_REGISTRY_PASSWORD"

func newInstallCmd(g *globalOptions) *cobra.Command {
	o := &installOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "install --mirror HOST:PORT [--pai DIR | --config FILE --layout FILE] [--bundle FILE]",
		Short: "Install OpenPAI from the mirror: patch pai, check and prepare the nodes, run the quick-start",
		Long: `Install runs, on the dev box, what the seed guide does by hand, with no
internet: ` + strings.Join(installer.Steps, " → ") + `.

Each step is idempotent and recorded in the state directory: a rerun resumes
after the last finished step; --only and --from choose steps. --dry-run shows
the patch as a diff (on standard output; warnings go to standard error), the
steps that would run and, with --storage-node, the storage step's plan, and
changes nothing.

The install reads what the bundle holds (its lock) from the mirror. With
--bundle FILE (each part of a split bundle as another --bundle), a dry run
reads it from the file instead and needs no running mirror; the diff then
shows ` + installer.MirrorPlaceholder + ` where --mirror's address goes. A real install still
needs --mirror, since the nodes download from it; given both, install warns
when the mirror serves another bundle.

config.yaml and layout.yaml default to the ones in the pai tree
(contrib/kubespray/config/), as in the guide. config.yaml's user and password
log in to every node over SSH (host keys are trusted on first use and
recorded); the password is never logged or stored.

When the bundle carries apt repositories, prepare points every machine's
apt at the mirror's repositories for its release (the original sources are
kept in /etc/apt/paimirror-backup/) and runs apt-get update; after the
install, --restore-apt puts the original sources back.

With --registry REGISTRY/PREFIX (after 'paimirror push BUNDLE REGISTRY/PREFIX'),
every image on the install path comes from that registry: kubespray's image
variables, pai's docker registry settings, the dev box image, pai's own
service images and the device plugins name it; prepare makes each node and
the dev box trust it (--registry-ca, or --registry-insecure for plain HTTP)
and, for a private project, log in to it (--registry-username, the password
from $` + registryPasswordEnv + ` or a prompt); preflight checks every node
fetches an image's manifest from it. Files, apt and Python packages still
come from --mirror.

pai's own requirement check looks docker.io, gcr.io and quay.io up in DNS,
which fails offline; the patch makes it ask the mirror instead. When it
still fails (NTP, resources), it stops at a prompt; --yes answers
"continue".`,
		Example: `  paimirror install --pai ~/pai --mirror 10.0.0.10:5000 --dry-run
  paimirror install --pai ~/pai --bundle openpai-v1.8.0.tar --dry-run
  paimirror install --pai ~/pai --mirror 10.0.0.10:5000 --yes
  paimirror install --pai ~/pai --mirror 10.0.0.10:5000 --only preflight
  paimirror install --pai ~/pai --mirror https://10.0.0.10:5000 --mirror-ca /srv/paimirror-tls/ca.crt --from kubespray --yes
  paimirror install --pai ~/pai --mirror 10.0.0.10:5000 --restore-apt
  paimirror install --pai ~/pai --mirror 10.0.0.10:5000 --registry harbor.lab/openpai --registry-ca lab-ca.pem --yes`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return runInstall(cmd.Context(), o) },
	}
	f := cmd.Flags()
	f.StringVar(&o.opts.PaiDir, "pai", "", "the pai v1.8.0 checkout (default: the bundle's pai v1.8.0 source, unpacked into the state directory; then --config and --layout are needed)")
	f.StringVar(&o.opts.Mirror, "mirror", "", "the mirror as the nodes reach it: HOST:PORT, or https://HOST:PORT (required, but for --dry-run with --bundle)")
	f.StringArrayVar(&o.opts.Bundle, "bundle", nil, "read the lock from this bundle file (repeat for each part of a split bundle): enough for --dry-run without --mirror; with --mirror, checks the mirror serves it")
	f.StringVar(&o.mirrorCA, "mirror-ca", "", "CA certificate of an https mirror (serve --tls-dir's ca.crt)")
	f.StringVar(&o.opts.Registry, "registry", "", "pull every image from this registry, REGISTRY[/PREFIX], where 'paimirror push' put them (files and packages still come from --mirror)")
	f.StringVar(&o.registryCA, "registry-ca", "", "CA certificate (PEM) of an HTTPS --registry with a certificate the nodes do not trust")
	f.BoolVar(&o.opts.RegistryInsecure, "registry-insecure", false, "the --registry serves plain HTTP")
	f.StringVar(&o.opts.RegistryUsername, "registry-username", "", "user of a private --registry project (password: $"+registryPasswordEnv+" or a prompt)")
	f.StringVar(&o.opts.ConfigPath, "config", "", "config.yaml (default: the pai tree's contrib/kubespray/config/config.yaml)")
	f.StringVar(&o.opts.LayoutPath, "layout", "", "layout.yaml (default: the pai tree's contrib/kubespray/config/layout.yaml)")
	f.StringVar(&o.opts.SSHKeyFile, "ssh-key", "", "private key for the nodes (default: config.yaml's ssh_key_file_path, else its password)")
	f.StringVar(&o.opts.StateDir, "state", "", "state directory (default: ~/.paimirror/install/<mirror>)")
	f.StringArrayVar(&o.opts.Only, "only", nil, "run only this step (repeatable): "+strings.Join(installer.Steps, ", "))
	f.StringVar(&o.opts.From, "from", "", "run this step and every one after it")
	f.BoolVar(&o.dryRun, "dry-run", false, "print the patch as a unified diff, the steps that would run and the storage plan; change nothing")
	f.BoolVarP(&o.yes, "yes", "y", false, "answer \"continue\" when pai's own requirement check fails")
	f.BoolVar(&o.restoreApt, "restore-apt", false, "put back every machine's and the dev box's original apt sources, which prepare kept, and remove paimirror's; run no step")
	f.StringVar(&o.opts.DevBox, "devbox", "", "address to prepare the dev box's own docker and apt through, over SSH (default 127.0.0.1; - to skip)")
	f.StringArrayVar(&o.opts.AcceptNewHostKey, "accept-new-host-key", nil, "trust NODE's new SSH host key, replacing the recorded one (repeatable)")
	f.StringVar(&o.opts.Kubeconfig, "kubeconfig", "", "kubeconfig for verify (default: ~/pai-deploy/kube/config)")

	f.StringVar(&o.storage.Node, "storage-node", "", "add the storage step: this worker serves NFS through storage-manager (the seed guide's 存储设置)")
	f.StringVar(&o.storage.SharePath, "share-path", storage.DefaultSharePath, "storage: the directory on the storage node that is shared")
	f.StringVar(&o.storage.Name, "name", storage.DefaultName, "storage: the PVC name groups are granted (the PV is NAME-pv)")
	f.StringVar(&o.storage.NFSPath, "nfs-path", storage.DefaultNFSPath, "storage: the exported path the volume mounts")
	f.StringSliceVar(&o.storage.Groups, "groups", []string{storage.DefaultGroup}, "storage: OpenPAI groups granted the storage, comma separated")
	f.BoolVar(&o.storage.ReadWrite, "read-write", false, "storage: jobs may write (default read-only, as the guide)")
	f.Bool("read-only", true, "storage: jobs may only read (the default)")
	f.BoolVar(&o.storage.Recreate, "recreate", false, "storage: replace a PV/PVC that exists with other settings (the guide's 重新生成存储)")
	f.StringVar(&o.storage.RestServer, "rest-server", "", "storage: the rest-server URL (default http://<master>/rest-server)")
	f.StringVar(&o.storage.AdminUser, "admin-user", "admin", "storage: the OpenPAI admin to grant as; the password comes from $"+adminPasswordEnv+" or a prompt")
	cmd.MarkFlagsMutuallyExclusive("read-write", "read-only")
	for _, f := range []string{"only", "from", "dry-run", "storage-node"} {
		cmd.MarkFlagsMutuallyExclusive("restore-apt", f)
	}
	cmd.RegisterFlagCompletionFunc("only", stepCompletion)
	cmd.RegisterFlagCompletionFunc("from", stepCompletion)
	return cmd
}

func stepCompletion(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return installer.Steps, cobra.ShellCompDirectiveNoFileComp
}

func runInstall(ctx context.Context, o *installOptions) error {
	switch {
	case o.opts.Mirror != "":
	case len(o.opts.Bundle) == 0:
		return usageError{errors.New(`required flag(s) "mirror" not set: --mirror HOST:PORT, the mirror as the nodes reach it (a --dry-run with --bundle FILE does without)`)}
	case !o.dryRun:
		return usageError{errors.New("--bundle without --mirror works only with --dry-run: the nodes download from the mirror, so a real install needs --mirror HOST:PORT of the paimirror serve of this bundle")}
	}
	if o.mirrorCA != "" {
		pem, err := os.ReadFile(o.mirrorCA)
		if err != nil {
			return usageError{fmt.Errorf("--mirror-ca: %w", err)}
		}
		o.opts.MirrorCA = pem
	}
	if o.registryCA != "" {
		pem, err := os.ReadFile(o.registryCA)
		if err != nil {
			return usageError{fmt.Errorf("--registry-ca: %w", err)}
		}
		o.opts.RegistryCA = pem
	}
	if o.opts.RegistryUsername != "" {
		pw, err := readSecret(o.stderr, registryPasswordEnv, "--registry-username needs its password", "Registry password for "+o.opts.RegistryUsername+": ")
		if err != nil {
			return err
		}
		o.opts.RegistryPassword = pw
	}
	o.opts.ContinueOnRequirementFailure = o.yes
	if o.restoreApt {
		o.opts.Logger = o.logger()
		r := &installReporter{g: o.globalOptions, tty: isTerminal(o.stderr)}
		o.opts.Report = r.report
		return installer.RestoreApt(ctx, o.opts)
	}
	if o.storage.Node != "" {
		if !o.dryRun { // a dry run only shows the plan
			pw, err := adminPassword(o.stderr)
			if err != nil {
				return err
			}
			o.storage.AdminPassword = pw
		}
		o.storage.Output = nil
		o.opts.Storage = &o.storage
	}
	o.opts.Logger = o.logger()
	r := &installReporter{g: o.globalOptions, tty: isTerminal(o.stderr)}
	o.opts.Report = r.report
	if o.dryRun {
		p, err := installer.DryRun(ctx, o.opts)
		if p != nil {
			r.text(renderPreview(p))
		}
		return err
	}
	err := installer.Install(ctx, o.opts)
	r.endStatus()
	return err
}

// installReporter prints steps as lines, what they found or did (their
// results, rendered) as blocks on standard output, and the current play or
// task as one status line that a terminal overwrites.
type installReporter struct {
	g      *globalOptions
	tty    bool
	status bool
}

func (r *installReporter) report(e steps.Event) {
	if e.Parent != "" {
		r.substep(e)
		return
	}
	switch e.Kind {
	case steps.NotSelected:
		return
	case steps.Status:
		r.statusLine(e.Text)
		return
	case steps.Warning:
		// Even with --quiet: each says what will fail later.
		r.endStatus()
		fmt.Fprintf(r.g.stderr, "warning: %s\n", e.Text)
		return
	}
	if e.Result != nil {
		r.text(renderResult(e.Result))
	}
	r.endStatus()
	if r.g.quiet && e.Kind != steps.Failed {
		return
	}
	switch {
	case e.Kind == steps.Failed:
		fmt.Fprintf(r.g.stderr, "%s failed\n", e.Step)
	case e.Total == 0: // a step outside the install's plan (restore-apt)
		fmt.Fprintln(r.g.stderr, e.Text)
	case e.Kind == steps.Started:
		fmt.Fprintf(r.g.stderr, "[%d/%d] %s\n", e.N, e.Total, e.Step)
	case e.Kind == steps.Done:
		fmt.Fprintf(r.g.stderr, "%s done in %s\n", e.Step, e.Elapsed.Round(time.Second))
	case e.Kind == steps.UpToDate:
		fmt.Fprintf(r.g.stderr, "[%d/%d] %s: already done\n", e.N, e.Total, e.Step)
	}
}

// substep shows a step of a step (storage's): its start as the status
// line, its end as a line of the output.
func (r *installReporter) substep(e steps.Event) {
	switch e.Kind {
	case steps.Started:
		r.statusLine(fmt.Sprintf("%d/%d %s", e.N, e.Total, e.Text))
	case steps.Done:
		r.text(fmt.Sprintf("  %d/%d %s: %s", e.N, e.Total, e.Step, e.Text))
	}
}

// statusLine shows line as the one status line on a terminal, or with
// --verbose as a line of its own; nothing with --quiet.
func (r *installReporter) statusLine(line string) {
	if r.g.quiet {
		return
	}
	if r.tty {
		if len(line) > 100 {
			line = line[:97] + "..."
		}
		fmt.Fprintf(r.g.stderr, "\r\033[K  %s", line)
		r.status = true
	} else if r.g.verbose {
		fmt.Fprintf(r.g.stderr, "  %s\n", line)
	}
}

// text writes a block to standard output, ending it with a newline.
func (r *installReporter) text(s string) {
	r.endStatus()
	fmt.Fprint(r.g.stdout, s)
	if !strings.HasSuffix(s, "\n") {
		fmt.Fprintln(r.g.stdout)
	}
}

func (r *installReporter) endStatus() {
	if r.status {
		fmt.Fprint(r.g.stderr, "\r\033[K")
		r.status = false
	}
}

// adminPassword reads the OpenPAI admin's password from the environment or,
// on a terminal, a prompt that does not echo.
func adminPassword(stderr io.Writer) (string, error) {
	return readSecret(stderr, adminPasswordEnv, "the storage step needs the OpenPAI admin's password", "OpenPAI admin password: ")
}

// readSecret returns $env or, on a terminal, what a prompt that does not
// echo reads; need says what it is for in the error otherwise.
func readSecret(stderr io.Writer, env, need, prompt string) (string, error) {
	if pw := os.Getenv(env); pw != "" {
		return pw, nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return "", usageError{fmt.Errorf("%s: set $%s or run on a terminal to be asked", need, env)}
	}
	fmt.Fprint(stderr, prompt)
	pw, err := term.ReadPassword(fd)
	fmt.Fprintln(stderr)
	if err != nil {
		return "", fmt.Errorf("reading the password: %w", err)
	}
	return string(pw), nil
}
