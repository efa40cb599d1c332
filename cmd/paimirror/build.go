package main

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/sign"
	"github.com/paimirror/paimirror/manifests"
)

type buildOptions struct {
	*globalOptions
	manifest    string
	output      string
	mirrors     []string
	mirrorsFile string
	presets     []string
	include     []string
	exclude     []string
	platform    string
	jobs        int
	connections int
	retries     int
	force       bool
	signKey     string
	partSize    int64
	base        []string
}

func newBuildCmd(g *globalOptions) *cobra.Command {
	o := &buildOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "build [-f MANIFEST] [-o BUNDLE]",
		Short: "Pull every image and file of a manifest into one bundle",
		Long: `Build pulls every image and downloads every file a manifest lists, resolves
its Python packages (the python section) for every target and downloads
them, verifies each byte against its digest or sha256, and writes one bundle
file.

Without -f it builds the embedded manifest "` + manifests.DefaultName + `".
An interrupted build resumes: rerun the same command.

Mirrors: --mirror FROM=TO redirects a source. FROM is a registry, optionally
with a repository path (docker.io, gcr.io/google-containers, docker.io/library
for Docker Hub's official images), and TO a registry with an optional path
(http:// for plain HTTP); FROM's path is replaced by TO's:
gcr.io/google-containers=registry.k8s.io pulls gcr.io/google-containers/pause:3.1
as registry.k8s.io/pause:3.1. Or FROM is a URL prefix (https://github.com,
https://pypi.org, http://archive.ubuntu.com/ubuntu) and TO another. Mirrors
with the longest FROM are tried first, those with one FROM in the order given
(--mirror, --mirrors-file, --preset), then the origin. A --mirror that matches
nothing the selected groups hold is an error; the lines of --mirrors-file and
--preset need not match. --preset NAME adds a built-in list (` + strings.Join(bundle.Presets(), ", ") + `); cn holds
public mirrors commonly used inside China.`,
		Example: `  paimirror build
  paimirror build --preset cn
  paimirror build --mirror docker.io=docker.m.daocloud.io --mirror gcr.io=gcr.m.daocloud.io
  paimirror build --mirror gcr.io/google-containers=registry.k8s.io --mirror docker.io=http://10.0.0.5:5000/hub
  paimirror build --mirror https://pypi.org=https://mirrors.example.cn/pypi --mirror https://files.pythonhosted.org=https://mirrors.example.cn/pypi-files
  paimirror build -f my-manifest.yaml -o lab.tar --exclude devbox --exclude devbox-python --include smoke-test
  paimirror build -f v2.yaml -o delta.tar --base openpai-v1.8.0.tar`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error { return runBuild(cmd.Context(), o) },
	}
	f := cmd.Flags()
	f.StringVarP(&o.manifest, "file", "f", "", "manifest file (default: the embedded "+manifests.DefaultName+")")
	f.StringVarP(&o.output, "output", "o", "", "bundle to write (default: <manifest name>.tar)")
	f.StringArrayVar(&o.mirrors, "mirror", nil, "redirect a source, FROM=TO: a registry (with an optional path) or a URL prefix (repeatable; tried in order, then the origin)")
	f.StringVar(&o.mirrorsFile, "mirrors-file", "", "read mirrors from a file, one FROM=TO per line (# comments); they may match nothing")
	f.StringArrayVar(&o.presets, "preset", nil, "add a built-in mirror list, tried after --mirror and --mirrors-file: "+strings.Join(bundle.Presets(), ", ")+" (repeatable)")
	f.StringArrayVar(&o.include, "include", nil, "add a group that is off by default (repeatable)")
	f.StringArrayVar(&o.exclude, "exclude", nil, "leave out a group (repeatable)")
	f.Var(platformFlag{&o.platform}, "platform", "platform of every image, os/arch[/variant] (default: each image's own, linux/amd64)")
	f.IntVarP(&o.jobs, "jobs", "j", 4, "blobs and files downloading at once")
	f.IntVar(&o.connections, "connections", 5, "connections per large blob (16 MiB and more), spread over its mirrors; 1 turns splitting off")
	f.IntVar(&o.retries, "retries", 5, "give a source up for an item after this many attempts in a row that bring no bytes (attempts that do are retried for as long as they do)")
	f.BoolVar(&o.force, "force", false, "replace the bundle if it exists")
	f.StringArrayVar(&o.base, "base", nil, "write a delta: only the blobs this bundle (or its parts, repeated in order; or its lock from 'inspect --lock') lacks; serve it as 'serve BASE DELTA'")
	f.Var(sizeFlag{&o.partSize}, "part-size", "write the bundle as parts of SIZE (4095M, 4.7GB; see 'paimirror split') with an index of their sha256, for removable media; the parts need the bundle's size again in free space while they are written")
	f.StringVar(&o.signKey, "sign-key", "", "sign the lock with this cosign private key (password: $"+sign.PasswordEnv+" or asked first); see 'paimirror sign'")
	return cmd
}

func loadManifest(path string) (*manifests.Manifest, error) {
	if path == "" {
		return manifests.Default(), nil
	}
	return manifests.Load(path)
}

func runBuild(ctx context.Context, o *buildOptions) error {
	m, err := loadManifest(o.manifest)
	if err != nil {
		return err
	}
	mirrors, err := o.buildMirrors()
	if err != nil {
		return err
	}
	sel, err := m.Select(o.include, o.exclude)
	if err != nil {
		return err
	}
	if err := bundle.CheckMirrors(sel, mirrors); err != nil {
		return usageError{err}
	}
	// The key is opened before hours of downloads, not after.
	var key *ecdsa.PrivateKey
	if o.signKey != "" {
		if key, err = loadPrivateKey(o.stderr, "--sign-key", o.signKey); err != nil {
			return err
		}
	}
	var base *bundle.Base
	if len(o.base) > 0 {
		if base, err = bundle.ReadBase(o.base...); err != nil {
			return fmt.Errorf("--base: %w", err)
		}
	}
	if o.partSize > 0 {
		// Found now, not after hours of downloads.
		out := o.output
		if out == "" {
			out = m.Name + ".tar"
		}
		existing, err := bundle.SplitFiles(out)
		if err != nil {
			return err
		}
		if len(existing) > 0 && !o.force {
			return fmt.Errorf("%s already exists (and %d more parts of an earlier split); remove them, choose another -o, or pass --force to replace them", existing[0], len(existing)-1)
		}
	}
	prog := newBuildProgress(o.globalOptions)
	res, err := bundle.Build(ctx, m, bundle.BuildOptions{
		Base:   base,
		Output: o.output, Force: o.force, Mirrors: mirrors,
		Include: o.include, Exclude: o.exclude, Platform: o.platform, Jobs: o.jobs,
		Connections: o.connections, Retries: o.retries,
		Logger: o.logger(), Progress: prog.event, ToolVersion: toolVersion(),
	})
	prog.finish()
	if errors.Is(err, context.Canceled) {
		out := o.output
		if out == "" {
			out = m.Name + ".tar"
		}
		fmt.Fprintf(o.stderr, "interrupted: what arrived is kept in %s.partial; rerun the same command to resume\n", out)
		return err
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(o.stdout, "wrote %s: %d images, %d files, %d python files, %d .debs, %s (fetched %s, resumed %s, %s saved by shared blobs) in %s\n",
		res.Path, len(res.Lock.Images), len(res.Lock.Files), len(res.Lock.PythonFiles()), res.Lock.AptDebs(), bundle.HumanSize(res.Size),
		bundle.HumanSize(res.Fetched), bundle.HumanSize(res.Resumed), bundle.HumanSize(res.Shared), res.Duration.Round(time.Millisecond))
	if base != nil {
		baseArg := strings.Join(o.base, " ")
		if base.File == "" {
			baseArg = "BASE.tar" // a lock was given
		}
		fmt.Fprintf(o.stdout, "it is a delta: %s of the new state is left to its base (lock sha256:%s); in the lab: paimirror serve %s %s\n",
			bundle.HumanSize(res.InBase), res.Lock.Base.LockSHA256, baseArg, res.Path)
	}
	if key != nil {
		// Build verified every blob as it stored it.
		fp, err := sign.Bundle(res.Path, key)
		if err != nil {
			return fmt.Errorf("%w (the bundle is whole but unsigned: sign it with 'paimirror sign %s --key %s')", err, res.Path, o.signKey)
		}
		fmt.Fprintf(o.stdout, "signed its lock with key %s\n", fp)
	}
	if o.partSize > 0 {
		sres, err := splitWithProgress(ctx, o.globalOptions, res.Path, bundle.SplitOptions{PartSize: o.partSize, Force: o.force, RemoveBundle: true})
		if err != nil {
			return fmt.Errorf("%w (the bundle is whole in %s: split it with 'paimirror split %s --part-size %d --force')", err, res.Path, res.Path, o.partSize)
		}
		printSplit(o.globalOptions, sres, res.Path, true)
	}
	return nil
}

// buildProgress renders build events. On a terminal: one bar of the bytes
// still to fetch, with their rate and ETA (bytes kept from an interrupted
// build are shown apart, not counted in the rate), items done of all, and
// the items in flight each with its own share done. Otherwise a line per
// stored item and per retry. Nothing with --quiet.
type buildProgress struct {
	g        *globalOptions
	bar      *progressbar.ProgressBar
	inflight map[string]*itemProgress
	done     int
	items    int
	resumed  int64
	early    int64  // bytes fetched before the plan (the bar counts the rest)
	verb     string // what a finished item is, without a terminal: "stored" (default) or "pushed"
}

// itemProgress is one item in flight: bytes done of total (-1: unknown).
type itemProgress struct {
	done, total int64
}

func newBuildProgress(g *globalOptions) *buildProgress {
	return &buildProgress{g: g, inflight: map[string]*itemProgress{}}
}

func (p *buildProgress) event(e bundle.Event) {
	if p.g.quiet {
		return
	}
	tty := isTerminal(p.g.stderr)
	switch e.Kind {
	case bundle.EventResumed:
		p.resumed = e.Bytes
		fmt.Fprintf(p.g.stderr, "resuming: %s kept from the interrupted build (%d whole blobs)\n", bundle.HumanSize(e.Bytes), e.Items)
	case bundle.EventResolving:
		fmt.Fprintf(p.g.stderr, "resolving %s\n", e.Item)
	case bundle.EventPlanned:
		p.items = e.Items
		if tty {
			// The bar counts what is left to fetch, so its rate and
			// ETA are the network's, not the disk's.
			p.bar = progressbar.NewOptions64(max(e.Total-p.resumed-p.early, 1),
				progressbar.OptionSetWriter(p.g.stderr),
				progressbar.OptionShowBytes(true),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(100*time.Millisecond),
				progressbar.OptionClearOnFinish(),
				progressbar.OptionSetWidth(25),
				progressbar.OptionFullWidth(),
			)
		} else {
			fmt.Fprintf(p.g.stderr, "%d items, %s to hold, %s of it kept\n", e.Items, bundle.HumanSize(e.Total), bundle.HumanSize(p.resumed))
		}
	case bundle.EventStart:
		p.inflight[e.Item] = &itemProgress{done: e.Resumed, total: e.Total}
		p.describe()
	case bundle.EventSized:
		if it := p.inflight[e.Item]; it != nil {
			it.total = e.Total
		}
	case bundle.EventBytes:
		if it := p.inflight[e.Item]; it != nil {
			it.done += e.Bytes
		}
		if p.bar != nil {
			p.bar.Add64(e.Bytes)
			p.describe()
		} else {
			p.early += e.Bytes // before the plan: not in the bar
		}
	case bundle.EventDiscarded:
		if it := p.inflight[e.Item]; it != nil {
			it.done = max(it.done-e.Bytes, 0)
		}
		if !tty || p.g.verbose {
			fmt.Fprintf(p.g.stderr, "starting %s over: %s thrown away\n", e.Item, bundle.HumanSize(e.Bytes))
		}
	case bundle.EventRetry:
		if !tty || p.g.verbose {
			wait := ""
			if e.Wait > 0 {
				wait = fmt.Sprintf(" (next attempt in %s)", e.Wait.Round(100*time.Millisecond))
			}
			fmt.Fprintf(p.g.stderr, "retrying %s: %v%s\n", e.Item, e.Err, wait)
		}
	case bundle.EventDone:
		delete(p.inflight, e.Item)
		if !tty {
			verb := p.verb
			if verb == "" {
				verb = "stored"
			}
			fmt.Fprintf(p.g.stderr, "%s %s\n", verb, e.Item)
		}
		p.describe()
	case bundle.EventItemDone:
		p.done++
		p.describe()
	}
}

// describe sets the bar's text: items done, bytes kept, and the items in
// flight, the furthest from done first.
func (p *buildProgress) describe() {
	if p.bar == nil {
		return
	}
	type flight struct {
		name string
		it   *itemProgress
	}
	var fl []flight
	for n, it := range p.inflight {
		fl = append(fl, flight{n, it})
	}
	sort.Slice(fl, func(i, j int) bool { return fl[i].name < fl[j].name })
	var parts []string
	for _, f := range fl {
		name := f.name
		if len(name) > 28 {
			name = "…" + name[len(name)-27:]
		}
		if f.it.total > 0 {
			parts = append(parts, fmt.Sprintf("%s %d%%", name, f.it.done*100/f.it.total))
		} else {
			parts = append(parts, fmt.Sprintf("%s %s", name, bundle.HumanSize(f.it.done)))
		}
	}
	desc := strings.Join(parts, ", ")
	if len(desc) > 90 {
		desc = desc[:89] + "…"
	}
	kept := ""
	if p.resumed > 0 {
		kept = fmt.Sprintf(" (%s kept)", bundle.HumanSize(p.resumed))
	}
	p.bar.Describe(fmt.Sprintf("%d/%d items%s | %s", p.done, p.items, kept, desc))
}

// finish clears the bar.
func (p *buildProgress) finish() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar.Close()
	}
}

// buildMirrors returns the mirrors to try, in order: each --mirror, the
// lines of --mirrors-file, then each --preset's.
func (o *buildOptions) buildMirrors() ([]bundle.Mirror, error) {
	var mirrors []bundle.Mirror
	for _, s := range o.mirrors {
		m, err := bundle.ParseMirror(s)
		if err != nil {
			return nil, usageError{err}
		}
		mirrors = append(mirrors, m)
	}
	if o.mirrorsFile != "" {
		data, err := os.ReadFile(o.mirrorsFile)
		if err != nil {
			return nil, fmt.Errorf("reading mirrors file: %w", err)
		}
		more, err := bundle.ParseMirrors(data, o.mirrorsFile)
		if err != nil {
			return nil, usageError{fmt.Errorf("%s: %w", o.mirrorsFile, err)}
		}
		mirrors = append(mirrors, more...)
	}
	for _, name := range o.presets {
		more, err := bundle.Preset(name)
		if err != nil {
			return nil, usageError{fmt.Errorf("--preset: %w", err)}
		}
		mirrors = append(mirrors, more...)
	}
	return mirrors, nil
}
