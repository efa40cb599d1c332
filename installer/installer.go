package installer

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/installer/internal/quickstart"
	"github.com/paimirror/paimirror/installer/kube"
	"github.com/paimirror/paimirror/installer/nodes"
	"github.com/paimirror/paimirror/installer/pai"
	"github.com/paimirror/paimirror/installer/patch"
	"github.com/paimirror/paimirror/installer/steps"
	"github.com/paimirror/paimirror/installer/storage"
)

// The steps of an install, in order.
const (
	StepPatch     = "patch"
	StepPreflight = "preflight"
	StepPrepare   = "prepare"
	StepKubespray = "kubespray"
	StepServices  = "services"
	StepVerify    = "verify"
	// StepStorage runs only when Options.Storage is set.
	StepStorage = "storage"
)

// Steps lists the step names in order.
var Steps = []string{StepPatch, StepPreflight, StepPrepare, StepKubespray, StepServices, StepVerify, StepStorage}

// Options configures Install. PaiDir and Mirror are required; the zero value
// of every other field works.
type Options struct {
	// PaiDir is the pai v1.8.0 checkout the install runs from.
	PaiDir string
	// Mirror is the mirror as the nodes reach it: "HOST:PORT" (plain HTTP)
	// or "https://HOST:PORT". Required, but for a DryRun with Bundle,
	// which shows MirrorPlaceholder where the mirror's address goes.
	Mirror string
	// Bundle is the bundle file, or its parts in order, whose lock (what
	// the bundle holds) the install reads on the dev box. Without Mirror,
	// a DryRun works from it alone: no mirror needs to run, and pai's
	// source, when PaiDir is empty, comes out of the bundle into a
	// temporary directory. With Mirror, the mirror's lock must be the
	// same, byte for byte (a warning says when it is not; the mirror's is
	// what the install uses, since the nodes pull from it); a DryRun whose
	// mirror does not answer warns and goes on with the bundle's. Opening
	// reads the bundle's tar headers (see bundle.Open), not its blobs.
	// Default: none; the lock comes from the mirror.
	Bundle []string
	// MirrorCA is the PEM CA of an https mirror (paimirror serve
	// --tls-dir serves it at /paimirror-ca.crt); nodes get it in
	// /etc/docker/certs.d. Default: none (the system's roots).
	MirrorCA []byte
	// ConfigPath and LayoutPath default to the pai tree's
	// contrib/kubespray/config/config.yaml and layout.yaml, which the
	// quick-start scripts read; other files are copied there (the
	// originals kept) before the scripts run.
	ConfigPath, LayoutPath string
	// SSHKeyFile logs in to the nodes with a key; default: config.yaml's
	// ssh_key_file_path, else its password.
	SSHKeyFile string
	// StateDir records the steps; default
	// ~/.paimirror/install/<mirror host_port> (without Mirror, none: a dry
	// run from Bundle keeps nothing).
	StateDir string
	// Only runs just these steps; From runs this step and every one after.
	// Default: resume after the last finished step.
	Only []string
	From string
	// ContinueOnRequirementFailure answers "continue" when pai's own
	// requirement check fails; default: stop there, as the guide's ENTER.
	ContinueOnRequirementFailure bool
	// DevBox is the address the dev box's own docker and apt are prepared
	// (and apt restored) through, over SSH like the nodes; default
	// "127.0.0.1". "-" skips it.
	DevBox string
	// AcceptNewHostKey names nodes (layout.yaml hostnames, or "dev-box")
	// whose recorded SSH host key is forgotten, so that a key that changed
	// for a good reason (a reinstalled machine) is trusted anew. Default:
	// a changed key stops the install.
	AcceptNewHostKey []string
	// Kubeconfig is what verify reads; default ~/pai-deploy/kube/config.
	Kubeconfig string
	// Storage, when set, adds the storage step (the seed guide's NFS
	// storage setup) after verify. Its Kubeconfig, Logger and KnownHosts
	// are filled in by Install when empty; its Report, when empty, passes
	// storage's steps on to Report with Parent StepStorage.
	Storage *storage.Options
	// Registry, when set, is the lab's own registry the cluster pulls
	// every image from, "REGISTRY[/PREFIX]" as docker names images (the
	// images put there by `paimirror push BUNDLE REGISTRY/PREFIX`): patch
	// points kubespray's and pai's image references there, prepare makes
	// every node and the dev box trust it (and log in to it), preflight
	// checks every node reaches it. Files, apt and Python packages still
	// come from Mirror. Default "": images come from the mirror.
	Registry string
	// RegistryCA is the PEM CA that signed an HTTPS registry's
	// certificate; it goes to each node's /etc/docker/certs.d/HOST/ only.
	// RegistryInsecure says the registry serves plain HTTP.
	RegistryCA       []byte
	RegistryInsecure bool
	// RegistryUsername and RegistryPassword log every node's docker and
	// pai's services in to a private project; default: anonymous pulls.
	RegistryUsername, RegistryPassword string
	// Client reaches the mirror from the dev box; default: a client that
	// trusts MirrorCA.
	Client *http.Client
	// Logger gets debug records; default: discard. Never the password.
	Logger *slog.Logger
	// Report receives the steps' progress, from one goroutine at a time;
	// default: none. It gets every event of steps.Run (see Install), a
	// steps.Status line for each play, task and step of the quick-start
	// scripts, the storage step's own steps (Parent StepStorage), and a
	// steps.Warning for each thing that will fail or go wrong later.
	Report func(steps.Event)
}

// MirrorPlaceholder stands for the mirror's address in a DryRun without
// Options.Mirror.
const MirrorPlaceholder = "MIRROR:5000"

// Prepared is the prepare step's result: what was done on each machine.
type Prepared struct {
	// Nodes are the machines' results in layout.yaml's order, the dev box
	// last.
	Nodes []nodes.PrepareResult
	// RegistryCAPath is where a node that trusts Options.Registry's CA
	// (PrepareResult.RegistryCAInstalled) has it; "" without a registry.
	RegistryCAPath string
}

// Install runs the install's steps (see the package documentation),
// resuming after the last finished one, with steps.Run. Each step's
// steps.Event Done or Failed carries what it found or did as Result, for
// the caller to render: patch a *patch.Result (Apply done), preflight a
// *nodes.Table, prepare a *Prepared, verify a *kube.ClusterReport, storage
// a *storage.Result; kubespray and services none. A failed step is a
// *steps.Error.
func Install(ctx context.Context, opts Options) error {
	in, cleanup, err := start(ctx, opts, false)
	if err != nil {
		return err
	}
	defer cleanup()
	state, err := steps.OpenState(in.stateDir)
	if err != nil {
		return err
	}
	defer state.Close()
	in.state = state
	plan := steps.Plan{Only: opts.Only, From: opts.From, Steps: in.steps()}
	return steps.Run(ctx, state, plan, in.report)
}

// Preview is what a dry run found: what Install would change and do.
type Preview struct {
	// Patch is what the patch step would change (Patch.Diff) and the
	// internet accesses its scan finds; nothing is applied.
	Patch *patch.Result
	// Steps are the steps Install would run, in order, after Only and
	// From (every step, without them: a dry run does not read the state).
	Steps []string
	// Storage is the storage step's plan, when the storage step would run
	// and could be planned; nil otherwise.
	Storage *storage.Plan
	// LockFrom is Options.Bundle, named for people, when the lock was read
	// from it rather than from the mirror; "" otherwise.
	LockFrom string
	// Placeholder says the patch shows MirrorPlaceholder where the
	// mirror's address goes (no Options.Mirror).
	Placeholder bool
}

// DryRun works out what Install would change and do, and changes nothing:
// the patch as a diff, the steps that would run and, with the storage
// step, its plan (storage.NewPlan). Warnings go to Options.Report. With
// Options.Bundle it reads the lock from the bundle file and needs no
// mirror running; a mirror that does not answer then is a warning. A
// storage step that cannot be planned is an error returned with the rest
// of the Preview.
func DryRun(ctx context.Context, opts Options) (*Preview, error) {
	in, cleanup, err := start(ctx, opts, true)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	return in.preview(ctx)
}

// start checks opts, opens Options.Bundle, reads the lock and, when pai's
// source comes from the bundle, unpacks it; cleanup closes and removes
// what start made.
func start(ctx context.Context, opts Options, dryRun bool) (_ *install, _ func(), err error) {
	in, err := newInstall(opts, dryRun)
	if err != nil {
		return nil, nil, err
	}
	var undo []func()
	cleanup := func() {
		for i := len(undo) - 1; i >= 0; i-- {
			undo[i]()
		}
	}
	defer func() {
		if err != nil {
			cleanup()
		}
	}()
	if len(opts.Bundle) > 0 {
		b, err := bundle.Open(opts.Bundle...)
		if err != nil {
			return nil, nil, fmt.Errorf("reading the lock from the bundle: %w", err)
		}
		undo = append(undo, func() { b.Close() })
		if err := checkAptLock(b.Lock); err != nil {
			return nil, nil, fmt.Errorf("%s's %s: %w; rebuild the bundle with paimirror build", in.bundleName(), bundle.LockName, err)
		}
		in.bundle = b
	}
	// The steps' fingerprints depend on the bundle's apt record. A mirror
	// that does not answer now fails the first step that needs it.
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	_, _ = in.lock(pctx)
	cancel()
	if in.bundledPai {
		if in.opts.PaiDir == "" {
			// A dry run without a mirror or a state directory: pai's
			// source goes where nothing stays.
			tmp, err := os.MkdirTemp("", "paimirror-pai-")
			if err != nil {
				return nil, nil, err
			}
			undo = append(undo, func() { os.RemoveAll(tmp) })
			in.opts.PaiDir = filepath.Join(tmp, "pai")
		}
		if err := in.ensurePaiTree(ctx, in.opts.PaiDir); err != nil {
			return nil, nil, err
		}
	}
	return in, cleanup, nil
}

type install struct {
	opts       Options
	mirror     nodes.Mirror
	scheme     string
	configPath string
	layoutPath string
	stateDir   string
	client     *http.Client
	log        *slog.Logger
	state      *steps.State
	// dryRun: DryRun, not Install.
	dryRun bool
	// bundledPai: the pai tree is the mirror's source archive, unpacked
	// into the state directory.
	bundledPai bool
	// cachedLock is the bundle's lock once read from the mirror (or from
	// bundle, when lockFromBundle).
	cachedLock     *bundle.Lock
	lockFromBundle bool
	// bundle is Options.Bundle, opened; nil without it.
	bundle *bundle.Bundle
}

func newInstall(opts Options, dryRun bool) (*install, error) {
	if opts.PaiDir == "" && (opts.ConfigPath == "" || opts.LayoutPath == "") {
		return nil, errors.New("without --pai DIR, the bundled pai v1.8.0 source is used, and --config and --layout must name your config.yaml and layout.yaml")
	}
	switch {
	case opts.Mirror == "" && len(opts.Bundle) == 0:
		return nil, errors.New("the mirror address is required (--mirror HOST:PORT, as the nodes reach it)")
	case opts.Mirror == "" && !dryRun:
		return nil, errors.New("a bundle without the mirror's address is enough only for a dry run: the nodes download from the mirror (--mirror HOST:PORT)")
	}
	if opts.Storage == nil && slices.Contains(opts.Only, StepStorage) {
		return nil, errors.New("the storage step needs --storage-node NODE (the worker that will serve NFS)")
	}
	if err := checkRegistry(opts); err != nil {
		return nil, err
	}
	in := &install{opts: opts, scheme: "http", log: opts.Logger, dryRun: dryRun}
	if in.log == nil {
		in.log = slog.New(slog.DiscardHandler)
	}
	addr := opts.Mirror
	if addr == "" {
		addr = MirrorPlaceholder
	}
	if rest, ok := strings.CutPrefix(addr, "https://"); ok {
		addr, in.scheme = rest, "https"
	}
	addr = strings.TrimSuffix(strings.TrimPrefix(addr, "http://"), "/")
	if _, _, err := net.SplitHostPort(addr); err != nil {
		return nil, fmt.Errorf("mirror %q: want HOST:PORT (as the nodes reach it): %v", opts.Mirror, err)
	}
	// Once, before any step: the address names the state directory and
	// goes into every step's scripts and files.
	if addr != MirrorPlaceholder {
		if err := patch.CheckMirror(addr); err != nil {
			return nil, err
		}
	}
	in.mirror = nodes.Mirror{Addr: addr, TLS: in.scheme == "https", CA: opts.MirrorCA}
	in.stateDir = opts.StateDir
	if in.stateDir == "" && opts.Mirror != "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("finding the state directory: %w (pass --state DIR)", err)
		}
		in.stateDir = filepath.Join(home, ".paimirror", "install", strings.ReplaceAll(addr, ":", "_"))
	}
	if in.opts.PaiDir == "" {
		// Unpacked from the mirror (or the bundle) by Install before any
		// step runs; without a state directory, into a temporary one.
		if in.stateDir != "" {
			in.opts.PaiDir = filepath.Join(in.stateDir, "pai")
		}
		in.bundledPai = true
	}
	in.configPath = opts.ConfigPath
	if in.configPath == "" {
		in.configPath = filepath.Join(in.opts.PaiDir, filepath.FromSlash(pai.ConfigFile))
	}
	in.layoutPath = opts.LayoutPath
	if in.layoutPath == "" {
		in.layoutPath = filepath.Join(in.opts.PaiDir, filepath.FromSlash(pai.LayoutFile))
	}
	in.client = opts.Client
	if in.client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = nil // the mirror is on the LAN
		if len(opts.MirrorCA) > 0 {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(opts.MirrorCA) {
				return nil, errors.New("the mirror CA is not a PEM certificate")
			}
			tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		in.client = &http.Client{Transport: tr, Timeout: time.Minute}
	}
	return in, nil
}

func (in *install) report(e steps.Event) {
	if in.opts.Report != nil {
		in.opts.Report(e)
	}
}

func (in *install) steps() []steps.Step {
	patchParts := []string{in.mirror.Addr, in.scheme, in.configPath}
	preflightParts := []string{in.mirror.Addr, fileSum(in.layoutPath)}
	prepareParts := []string{in.mirror.Addr, in.scheme, fileSum(in.layoutPath)}
	if apt := aptFingerprint(in.cachedLock); apt != "" {
		patchParts = append(patchParts, apt)
		preflightParts = append(preflightParts, apt)
		prepareParts = append(prepareParts, apt)
	}
	if in.opts.Registry != "" {
		// Never the password: the state file keeps fingerprints.
		sum := sha256.Sum256(in.opts.RegistryCA)
		reg := []string{"registry", in.opts.Registry, fmt.Sprint(in.opts.RegistryInsecure), hex.EncodeToString(sum[:]), in.opts.RegistryUsername}
		patchParts = append(patchParts, reg...)
		preflightParts = append(preflightParts, reg...)
		prepareParts = append(prepareParts, reg...)
	}
	plan := []steps.Step{
		{Name: StepPatch, Fingerprint: steps.Fingerprint(patchParts...), Run: in.patch},
		{Name: StepPreflight, Fingerprint: steps.Fingerprint(preflightParts...), Run: in.preflight},
		{Name: StepPrepare, Fingerprint: steps.Fingerprint(prepareParts...), Run: in.prepare},
		{Name: StepKubespray, Run: in.kubespray},
		{Name: StepServices, Run: in.services},
		{Name: StepVerify, Run: in.verify},
	}
	if in.opts.Storage != nil {
		st := in.opts.Storage
		plan = append(plan, steps.Step{
			Name:        StepStorage,
			Fingerprint: steps.Fingerprint(st.Node, st.SharePath, st.Name, st.NFSPath, strings.Join(st.Groups, ","), fmt.Sprint(st.ReadWrite)),
			Run:         in.storage,
		})
	}
	return plan
}

func (in *install) storage(ctx context.Context) (any, error) {
	opts := *in.opts.Storage
	if opts.Kubeconfig == "" {
		opts.Kubeconfig = in.opts.Kubeconfig
	}
	if opts.KnownHosts == "" {
		opts.KnownHosts = filepath.Join(in.stateDir, "known_hosts")
	}
	if opts.Logger == nil {
		opts.Logger = in.log
	}
	if opts.Report == nil {
		opts.Report = func(e steps.Event) {
			e.Parent = StepStorage
			in.report(e)
		}
	}
	res, err := storage.Setup(ctx, opts)
	if err != nil {
		return nil, err
	}
	return res, nil
}

func fileSum(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// lock returns the bundle's lock: the mirror's, proving it is reachable
// from the dev box, or, without a mirror, Options.Bundle's. With both, it
// warns when they differ, and a dry run whose mirror does not answer
// warns and goes on with the bundle's. Once read, it is kept for the run.
func (in *install) lock(ctx context.Context) (*bundle.Lock, error) {
	if in.cachedLock != nil {
		return in.cachedLock, nil
	}
	if in.opts.Mirror == "" {
		in.cachedLock, in.lockFromBundle = in.bundle.Lock, true
		return in.cachedLock, nil
	}
	l, sum, err := in.mirrorLock(ctx)
	switch {
	case err != nil && in.bundle != nil && in.dryRun:
		in.warn("%v; the dry run goes on with the lock of %s", err, in.bundleName())
		in.cachedLock, in.lockFromBundle = in.bundle.Lock, true
		return in.cachedLock, nil
	case err != nil:
		return nil, err
	case in.bundle != nil:
		if want := sha256.Sum256(in.bundle.LockBytes()); sum != want {
			in.warn("the mirror at %s serves another bundle than %s (its %s has sha256 %x, the file's %x); the install uses what the mirror serves: serve this bundle there (paimirror serve), or leave out --bundle",
				in.mirror.Addr, in.bundleName(), bundle.LockName, sum[:6], want[:6])
		}
	}
	in.cachedLock = l
	return l, nil
}

// mirrorLock reads the lock from the mirror, with the sha256 of its bytes.
func (in *install) mirrorLock(ctx context.Context) (*bundle.Lock, [sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	u := in.scheme + "://" + in.mirror.Addr + "/" + bundle.LockName
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, sum, err
	}
	resp, err := in.client.Do(req)
	if err != nil {
		return nil, sum, fmt.Errorf("reaching the mirror from the dev box: %w (is `paimirror serve` running, and is %s its address as the nodes see it?)", err, in.mirror.Addr)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, sum, fmt.Errorf("reaching the mirror: GET %s: %s (is this a paimirror serve?)", u, resp.Status)
	}
	const limit = 64 << 20
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err == nil && len(data) > limit {
		err = fmt.Errorf("more than %d bytes", limit)
	}
	if err != nil {
		return nil, sum, fmt.Errorf("reading the mirror's %s: %w", bundle.LockName, err)
	}
	var l bundle.Lock
	if err := json.Unmarshal(data, &l); err != nil {
		return nil, sum, fmt.Errorf("reading the mirror's %s: %w", bundle.LockName, err)
	}
	// Its apt record goes into root shell scripts and sources lists on
	// every machine: nothing in it may be more than the plain names and
	// paths a build writes.
	if err := checkAptLock(&l); err != nil {
		return nil, sum, fmt.Errorf("the mirror's %s: %w; rebuild the bundle with paimirror build, or check what serves %s", bundle.LockName, err, u)
	}
	return &l, sha256.Sum256(data), nil
}

// bundleName names Options.Bundle for messages: its file, or its first
// part and how many there are.
func (in *install) bundleName() string {
	switch b := in.opts.Bundle; len(b) {
	case 0:
		return ""
	case 1:
		return b[0]
	default:
		return fmt.Sprintf("%s (and %d more parts)", b[0], len(b)-1)
	}
}

// warn reports a warning.
func (in *install) warn(format string, args ...any) {
	in.report(steps.Event{Kind: steps.Warning, Text: fmt.Sprintf(format, args...)})
}

func (in *install) patchPlan(ctx context.Context) (*patch.Result, *bundle.Lock, error) {
	lock, err := in.lock(ctx)
	if err != nil {
		return nil, nil, err
	}
	paths := map[string]bool{}
	for _, f := range lock.Files {
		for _, p := range f.Paths {
			paths[p] = true
		}
	}
	res, err := patch.Plan(in.opts.PaiDir, patch.Options{
		Mirror: in.mirror.Addr, Scheme: in.scheme,
		ConfigPath: in.configPath, LayoutPath: in.layoutPath,
		HasPath:     func(p string) bool { return paths[p] },
		PipIndex:    in.pipIndex(ctx, lock),
		DockerApt:   dockerAptOf(lock),
		AptPackages: aptPackages(lock),
		// prepare gives the dev box's docker the mirror, unless told not to.
		DevBoxDocker: in.opts.DevBox != "-",
		Registry:     in.patchRegistry(lock),
	})
	if err != nil {
		return nil, nil, err
	}
	// A device plugin block renders only for the device types of
	// layout.yaml's workers (and pai's default, nvidia.com/gpu): what the
	// others lack does not matter to this cluster.
	res.Warnings = slices.DeleteFunc(res.Warnings, func(w string) bool {
		if strings.Contains(w, unusedDeviceMark) {
			in.log.Debug("patch warning about a device type the layout does not have", "warning", w)
			return true
		}
		return false
	})
	if w := in.imageTagWarning(lock); w != "" {
		res.Warnings = append(res.Warnings, w)
	}
	return res, lock, nil
}

// unusedDeviceMark ends patch's warnings about a device plugin block
// that renders only for a device type layout.yaml's workers do not have.
const unusedDeviceMark = "; it matters only if the cluster has "

// imageTagWarning returns a warning when config.yaml's docker_image_tag
// names OpenPAI images (docker_registry_namespace, default openpai) that
// the lock does not hold: the services step would fail late, pulling
// them; else "".
func (in *install) imageTagWarning(lock *bundle.Lock) string {
	c, err := pai.ReadConfig(in.configPath)
	if err != nil {
		return "" // patch.Plan read it; a failure now is a race
	}
	name := in.configPath
	if rel, err := filepath.Rel(in.opts.PaiDir, name); err == nil && !strings.HasPrefix(rel, "..") {
		name = filepath.ToSlash(rel)
	}
	ns := c.RegistryNamespace
	if ns == "" {
		ns = "openpai"
	}
	if t, err := registryTarget(in.opts); err == nil && in.opts.Registry != "" && t.Prefix != "" {
		// patch made it PREFIX/openpai; the lock names openpai/...
		ns = strings.TrimPrefix(ns, t.Prefix+"/")
	}
	tag := c.ImageTag
	var held []string // the namespace's images in the bundle
	tags := map[string]bool{}
	for _, img := range lock.Images {
		for _, n := range img.Names {
			repo, t, ok := strings.Cut(n, ":")
			if !ok || !strings.HasPrefix(repo, ns+"/") {
				continue
			}
			if t == tag {
				return ""
			}
			held = append(held, n)
			tags[t] = true
		}
	}
	if tag == "" {
		return fmt.Sprintf("%s: no docker_image_tag: pai's services step pulls %s/<service>:<docker_image_tag> and cannot run without it; add docker_image_tag: v1.8.0", name, ns)
	}
	if len(held) == 0 {
		return fmt.Sprintf("%s: docker_image_tag is %s, but the bundle holds no %s/ images: the services step would fail pulling %s/dev-box:%s and every service's image from the mirror; build the bundle with the devbox and services groups (paimirror build)", name, tag, ns, ns, tag)
	}
	slices.Sort(held)
	shown := held
	if len(shown) > 3 {
		shown = shown[:3]
	}
	list := strings.Join(shown, ", ")
	if len(held) > len(shown) {
		list += fmt.Sprintf(" and %d more", len(held)-len(shown))
	}
	var have []string
	for t := range tags {
		have = append(have, "docker_image_tag: "+t)
	}
	slices.Sort(have)
	return fmt.Sprintf("%s: docker_image_tag is %s, but the bundle holds OpenPAI's images only as %s: the services step would fail pulling %s/dev-box:%s; set %s in config.yaml, or build a bundle with the %s images",
		name, tag, list, ns, tag, strings.Join(have, " or "), tag)
}

// pipIndexPath is where paimirror serve publishes a bundle's Python
// packages.
const pipIndexPath = "/pypi/simple/"

// pipIndex returns pipIndexPath when the mirror serves Python packages
// there, else "". With the lock read from the bundle, the lock says.
func (in *install) pipIndex(ctx context.Context, lock *bundle.Lock) string {
	if in.lockFromBundle {
		if len(lock.PythonFiles()) > 0 {
			return pipIndexPath
		}
		return ""
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.scheme+"://"+in.mirror.Addr+pipIndexPath, nil)
	if err != nil {
		return ""
	}
	resp, err := in.client.Do(req)
	if err != nil {
		return ""
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	return pipIndexPath
}

func (in *install) patch(ctx context.Context) (any, error) {
	res, _, err := in.patchPlan(ctx)
	if err != nil {
		return nil, err
	}
	if err := patch.Apply(res); err != nil {
		return nil, err
	}
	in.warnAll(res.Warnings)
	return res, nil
}

// warnAll reports each warning.
func (in *install) warnAll(warnings []string) {
	for _, w := range warnings {
		in.warn("%s", w)
	}
}

// preview works out the Preview; the warnings are reported apart.
func (in *install) preview(ctx context.Context) (*Preview, error) {
	res, _, err := in.patchPlan(ctx)
	if err != nil {
		return nil, err
	}
	in.warnAll(res.Warnings)
	p := &Preview{Patch: res, Placeholder: in.opts.Mirror == ""}
	for _, st := range in.steps() {
		p.Steps = append(p.Steps, st.Name)
	}
	if len(in.opts.Only) > 0 {
		p.Steps = slices.DeleteFunc(p.Steps, func(s string) bool { return !slices.Contains(in.opts.Only, s) })
	} else if in.opts.From != "" {
		if i := slices.Index(p.Steps, in.opts.From); i >= 0 {
			p.Steps = p.Steps[i:]
		}
	}
	if in.lockFromBundle {
		p.LockFrom = in.bundleName()
	}
	if in.opts.Storage != nil && slices.Contains(p.Steps, StepStorage) {
		plan, err := in.storagePlan()
		if err != nil {
			return p, fmt.Errorf("the storage step: %w", err)
		}
		p.Storage = plan
	}
	return p, nil
}

// storagePlan works out the storage step's plan from the install's
// layout.yaml (the one the quick-start copies into the cluster's
// configuration).
func (in *install) storagePlan() (*storage.Plan, error) {
	data, err := os.ReadFile(in.layoutPath)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", pai.LayoutName, err)
	}
	return storage.NewPlan(*in.opts.Storage, data, in.layoutPath)
}

func (in *install) auth() (nodes.Auth, error) {
	c, err := readConfig(in.configPath)
	if err != nil {
		return nodes.Auth{}, err
	}
	a := nodes.Auth{User: c.User, Password: c.Password, KeyFile: c.SSHKeyFile}
	if in.opts.SSHKeyFile != "" {
		a.KeyFile = in.opts.SSHKeyFile
	}
	return a, nil
}

func (in *install) hostKeys() (*nodes.HostKeys, error) {
	return nodes.OpenHostKeys(filepath.Join(in.stateDir, "known_hosts"))
}

// cluster returns the nodes, the login and the host-key record.
func (in *install) cluster() ([]nodes.Node, nodes.Auth, *nodes.HostKeys, error) {
	ns, err := readNodes(in.layoutPath)
	if err != nil {
		return nil, nodes.Auth{}, nil, err
	}
	auth, err := in.auth()
	if err != nil {
		return nil, nodes.Auth{}, nil, err
	}
	keys, err := in.hostKeys()
	if err != nil {
		return nil, nodes.Auth{}, nil, err
	}
	for _, name := range in.opts.AcceptNewHostKey {
		addr := ""
		for _, n := range append(ns, in.devBox()) {
			if n.Name == name {
				addr = n.Addr
			}
		}
		if addr == "" {
			return nil, nodes.Auth{}, nil, fmt.Errorf("--accept-new-host-key %s: no such node in %s", name, in.layoutPath)
		}
		if _, err := keys.Forget(addr); err != nil {
			return nil, nodes.Auth{}, nil, err
		}
	}
	return ns, auth, keys, nil
}

func (in *install) preflight(ctx context.Context) (any, error) {
	ns, auth, keys, err := in.cluster()
	if err != nil {
		return nil, err
	}
	lock, err := in.lock(ctx)
	if err != nil {
		return nil, err
	}
	file := ""
	for _, f := range lock.Files {
		if len(f.Paths) > 0 {
			file = f.Paths[0]
			break
		}
	}
	table, err := nodes.Preflight(ctx, ns, auth, keys, nodes.PreflightOptions{
		Mirror: in.mirror, MirrorFile: file, Apt: aptOf(lock), Logger: in.log,
		Registry: in.nodesRegistry(lock),
	})
	if err != nil {
		return nil, err
	}
	return table, table.Err()
}

func (in *install) prepare(ctx context.Context) (any, error) {
	ns, auth, keys, err := in.cluster()
	if err != nil {
		return nil, err
	}
	if in.opts.DevBox != "-" {
		ns = append(ns, in.devBox())
	}
	lock, err := in.lock(ctx)
	if err != nil {
		return nil, err
	}
	results, err := nodes.Prepare(ctx, ns, auth, keys, nodes.PrepareOptions{Mirror: in.mirror, Apt: aptOf(lock), Logger: in.log, Registry: in.nodesRegistry(lock)})
	p := &Prepared{Nodes: results}
	if in.opts.Registry != "" {
		p.RegistryCAPath = nodes.CAPath(registryHost(in.opts.Registry))
	}
	if err != nil {
		return p, err
	}
	var errs []error
	for _, r := range results {
		if r.Err != nil {
			errs = append(errs, r.Err) // names its node
		}
	}
	return p, errors.Join(errs...)
}

// devBox is the dev box as a node reached over SSH.
func (in *install) devBox() nodes.Node {
	addr := in.opts.DevBox
	if addr == "" || addr == "-" {
		addr = "127.0.0.1"
	}
	return nodes.Node{Name: "dev-box", Addr: addr, Role: nodes.DevBox}
}

// syncConfig copies a config.yaml or layout.yaml given outside the pai tree
// to where the quick-start scripts read it, keeping the tree's original.
func (in *install) syncConfig() error {
	dir := filepath.Join(in.opts.PaiDir, filepath.FromSlash(pai.ConfigDir))
	for _, p := range [][2]string{{in.configPath, pai.ConfigName}, {in.layoutPath, pai.LayoutName}} {
		dst := filepath.Join(dir, p[1])
		if same(p[0], dst) {
			continue
		}
		data, err := os.ReadFile(p[0])
		if err != nil {
			return err
		}
		if _, err := os.Stat(dst + pai.OrigSuffix); os.IsNotExist(err) {
			if old, err := os.ReadFile(dst); err == nil {
				if err := os.WriteFile(dst+pai.OrigSuffix, old, 0o600); err != nil {
					return err
				}
			}
		}
		if err := os.WriteFile(dst, data, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func same(a, b string) bool {
	sa, err1 := os.Stat(a)
	sb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(sa, sb)
}

func (in *install) runScript(ctx context.Context, step, script string) (any, error) {
	if err := in.syncConfig(); err != nil {
		return nil, err
	}
	auth, err := in.auth()
	if err != nil {
		return nil, err
	}
	return nil, quickstart.RunScript(ctx, quickstart.ScriptOptions{
		Dir:                          filepath.Join(in.opts.PaiDir, filepath.FromSlash(pai.KubesprayDir)),
		Script:                       script,
		Secrets:                      []string{auth.Password},
		LogPath:                      in.state.LogPath(step),
		ContinueOnRequirementFailure: in.opts.ContinueOnRequirementFailure,
		Logger:                       in.log,
		Progress: func(s quickstart.Status) {
			in.report(steps.Event{Step: step, Kind: steps.Status, Text: s.Text})
		},
	})
}

func (in *install) kubespray(ctx context.Context) (any, error) {
	return in.runScript(ctx, StepKubespray, pai.KubesprayScript)
}

func (in *install) services(ctx context.Context) (any, error) {
	return in.runScript(ctx, StepServices, pai.ServiceScript)
}

func (in *install) verify(ctx context.Context) (any, error) {
	path := in.opts.Kubeconfig
	if path == "" {
		var err error
		if path, err = kube.DefaultKubeconfig(); err != nil {
			return nil, err
		}
	}
	cfg, err := kube.LoadConfig(path, kube.ConfigOptions{})
	if err != nil {
		return nil, err
	}
	c, err := kube.New(cfg, kube.WithLogger(in.log))
	if err != nil {
		return nil, err
	}
	rep, err := kube.CheckCluster(ctx, c, kube.CheckOptions{})
	if err != nil {
		return nil, err
	}
	if !rep.Healthy() {
		return rep, fmt.Errorf("the cluster is not healthy yet: %d of %d nodes Ready, %d pods with problems (image pulls go to %s)", rep.Ready, rep.Nodes, len(rep.PodProblems), in.mirror.Addr)
	}
	return rep, nil
}
