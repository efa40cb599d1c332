package nodes

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/paimirror/paimirror/manifests/shell"
)

// Files Prepare writes next to daemon.json.
const (
	// BackupPath is the copy of the original daemon.json, made once, before
	// the first change paimirror makes; later runs never overwrite it.
	BackupPath = DaemonJSONPath + ".paimirror-orig"
	// NoOriginalPath is an empty marker written instead of BackupPath when
	// there was no daemon.json before the first change: restoring the
	// original then means removing daemon.json.
	NoOriginalPath = DaemonJSONPath + ".paimirror-orig-absent"
)

// CAPath returns where docker looks for the CA of the registry at
// HOST:PORT (or HOST, for one on port 443): docker trusts it for that
// registry alone, and reads it on every connection (no restart).
func CAPath(registry string) string { return "/etc/docker/certs.d/" + registry + "/ca.crt" }

// PrepareOptions configures Prepare. Mirror.Addr is required; the zero
// value of every other field works.
type PrepareOptions struct {
	// Mirror is the mirror to add to docker's configuration.
	Mirror Mirror
	// DockerWait bounds the wait for docker to answer `docker info` after a
	// restart; default 2m.
	DockerWait time.Duration
	// Apt, when set, is what the mirror serves to apt: every machine's apt
	// is pointed at the mirror's repositories for its target and
	// apt-get update is run (see the package documentation). Default nil:
	// apt is left alone.
	Apt *Apt
	// AptWait bounds apt-get update on each machine, and the installs of
	// docker and the nvidia runtime from the mirror; default 10m.
	AptWait time.Duration
	// Registry, when set, is the lab registry the install pulls its images
	// from (install --registry): every machine gets its CA in docker's
	// certs.d (CAPath(Registry.Host)), or its host in daemon.json's
	// insecure-registries for plain HTTP, and its credentials in
	// RootDockerConfigPath and KubeletDockerConfigPath. Default nil: images
	// come from the mirror.
	Registry *Registry

	// aptInstallArgs are more apt-get install options for those installs
	// (tests: --download-only, as a test node's root is the host's).
	aptInstallArgs []string
	// Dial configures the SSH connections; its Logger defaults to Logger.
	Dial DialOptions
	// Logger receives an info record per node and debug records of the
	// commands; default: discard. The password never reaches it.
	Logger *slog.Logger
}

func (o PrepareOptions) withDefaults() PrepareOptions {
	if o.DockerWait <= 0 {
		o.DockerWait = 2 * time.Minute
	}
	if o.AptWait <= 0 {
		o.AptWait = 10 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Dial.Logger == nil {
		o.Dial.Logger = o.Logger
	}
	return o
}

// PrepareResult is what Prepare did on one node.
type PrepareResult struct {
	Node string
	// Changed reports that daemon.json was written; false means it already
	// held the mirror and was left as it was.
	Changed bool
	// Created reports that there was no daemon.json, or only whitespace,
	// before.
	Created bool
	// Backup is the node's copy of its original daemon.json (BackupPath,
	// made on the first change and kept ever after), or NoOriginalPath when
	// there was none, or "" when paimirror never had to change the file.
	Backup string
	// CAInstalled reports that the mirror's CA was written to
	// CAPath(Mirror.Addr) (TLS with a CA only, and only when it differed).
	CAInstalled bool
	// SystemCAInstalled reports that the mirror's CA was added to the
	// system's trust store (SystemCAPath), for kubespray's downloads and
	// the dev box's curl and pip (TLS with a CA only, and only when it
	// was not there).
	SystemCAInstalled bool
	// Restarted reports that docker was restarted (only when daemon.json
	// changed) and answered again.
	Restarted bool
	// RegistryCAInstalled reports that PrepareOptions.Registry's CA was
	// written to CAPath(Registry.Host) (only when it differed).
	RegistryCAInstalled bool
	// RegistryInsecure reports that daemon.json got the plain HTTP
	// Registry.Host in insecure-registries (only when it lacked it).
	RegistryInsecure bool
	// RegistryAuth are the docker config.json files (RootDockerConfigPath,
	// KubeletDockerConfigPath) whose entry for Registry.Host was added or
	// updated; none when they held it already, or without credentials.
	RegistryAuth []string
	// Apt is what was done to the machine's apt, with PrepareOptions.Apt
	// (before docker is prepared); nil otherwise.
	Apt *AptResult
	// DockerInstalled are the packages ("name=version") installed from
	// the mirror because the machine had no docker; none otherwise.
	DockerInstalled []string
	// NvidiaRuntimeInstalled is the nvidia-container-runtime
	// ("name=version") installed from the mirror on a GPU worker that
	// lacked it; "" otherwise.
	NvidiaRuntimeInstalled string
	// NvidiaRuntimeSet reports that daemon.json got nvidia as docker's
	// default runtime (a GPU worker with the runtime, where daemon.json
	// named no default runtime).
	NvidiaRuntimeSet bool
	// Err is why the node could not be prepared; nil on success.
	Err error
}

// Prepare points docker on every node at the mirror, all nodes at once.
//
// On each node it reads /etc/docker/daemon.json as root, merges the mirror
// in with MergeDaemonJSON and, only when that changes the file: keeps the
// original once (BackupPath, or the NoOriginalPath marker), writes the new
// content through a temporary file renamed over daemon.json, restarts
// docker (systemctl, or `service` where there is no systemctl) and waits
// until `docker info` answers. With Mirror.TLS and a CA it also installs the
// CA for docker (no restart needed for that). A daemon.json that is not
// valid JSON stops that node with a *DaemonJSONError and is left untouched.
//
// The dev box is prepared like any node, over SSH (Role DevBox, Addr
// "127.0.0.1" when paimirror runs there).
//
// With PrepareOptions.Registry, each machine is also made ready to pull
// from the lab registry (see "Lab registry" in the package
// documentation): its CA, its insecure-registries entry (in the same
// daemon.json write and restart), its credentials.
//
// With PrepareOptions.Apt, once docker is prepared, the machine's apt is
// pointed at the mirror's repositories for its release and apt-get update
// is run (see "Apt" in the package documentation); a failing update is an
// *AptUpdateError.
//
// Results come in nodes' order, one per node; the error joins the nodes'
// errors (each naming its node) and is nil when every node was prepared.
// A second run with the same mirror changes and restarts nothing.
func Prepare(ctx context.Context, nodes []Node, auth Auth, keys *HostKeys, opts PrepareOptions) ([]PrepareResult, error) {
	opts = opts.withDefaults()
	if err := checkNodes(nodes); err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	if err := checkMirrorAddr(opts.Mirror.Addr); err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	if opts.Mirror.TLS && len(opts.Mirror.CA) > 0 {
		if b, _ := pem.Decode(opts.Mirror.CA); b == nil || b.Type != "CERTIFICATE" {
			return nil, errors.New("prepare: the mirror's CA is not a PEM certificate")
		}
	}
	if opts.Registry != nil {
		if err := opts.Registry.validate(); err != nil {
			return nil, fmt.Errorf("prepare: %w", err)
		}
	}
	return eachNode(nodes, func(n Node) (PrepareResult, error) {
		r := prepareNode(ctx, n, auth, keys, opts)
		r.Node = n.Name
		return r, r.Err
	})
}

// eachNode runs fn on every node at once and returns the results in node
// order, with the errors joined.
func eachNode[R any](nodes []Node, fn func(Node) (R, error)) ([]R, error) {
	results := make([]R, len(nodes))
	errs := make([]error, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { results[i], errs[i] = fn(n) })
	}
	wg.Wait()
	return results, errors.Join(errs...)
}

func prepareNode(ctx context.Context, n Node, auth Auth, keys *HostKeys, opts PrepareOptions) (r PrepareResult) {
	log := opts.Logger.With("node", n.Name)
	defer func() {
		if r.Err != nil {
			log.Info("prepare", "error", r.Err.Error())
			return
		}
		log.Info("prepare", "changed", r.Changed, "restarted", r.Restarted, "backup", r.Backup, "ca", r.CAInstalled,
			"registry_ca", r.RegistryCAInstalled, "registry_insecure", r.RegistryInsecure, "registry_auth", r.RegistryAuth)
	}()
	c, err := Dial(ctx, n, auth, keys, opts.Dial)
	if err != nil {
		r.Err = err
		return r
	}
	defer c.Close()
	// apt first: a machine without docker gets it from the mirror.
	var apt *AptResult
	var installed []string
	nvidia, nvidiaInstalled := false, "" // the nvidia runtime is there; what prepare installed
	if opts.Apt != nil {
		apt, err = prepareApt(ctx, c, opts.Apt, opts)
		if apt != nil {
			log.Info("prepare apt", "target", apt.Target, "skipped", apt.Skipped, "changed", apt.Changed(), "updated", apt.Updated)
		}
		if err == nil && apt != nil && apt.Skipped == "" {
			installed, err = ensureDocker(ctx, c, opts.Apt, apt.Target, opts)
			if len(installed) > 0 {
				log.Info("prepare installed docker from the mirror", "packages", installed)
			}
		}
		if err == nil && apt != nil && apt.Skipped == "" {
			nvidia, nvidiaInstalled, err = ensureNvidiaRuntime(ctx, c, opts.Apt, apt.Target, opts)
			if nvidiaInstalled != "" {
				log.Info("prepare installed the nvidia runtime from the mirror", "package", nvidiaInstalled)
			}
		}
		if err != nil {
			return PrepareResult{Apt: apt, DockerInstalled: installed, Err: err}
		}
	}
	r = prepareDocker(ctx, c, opts, nvidia)
	r.Apt, r.DockerInstalled, r.NvidiaRuntimeInstalled = apt, installed, nvidiaInstalled
	return r
}

// prepareDocker merges the mirror into the node's daemon.json (with a lab
// registry, the registry's settings instead) and, with
// nvidia (a GPU worker whose nvidia runtime prepare installed or found),
// makes nvidia docker's default runtime where nothing says otherwise.
func prepareDocker(ctx context.Context, c *Client, opts PrepareOptions, nvidia bool) (r PrepareResult) {
	n := c.node
	sudo := RunOptions{Sudo: true}

	old, errb, err := c.Run(ctx, readFileCmd(DaemonJSONPath), sudo)
	absent := isAbsent(err)
	var se *SudoError
	if errors.As(err, &se) {
		r.Err = se // already names the node and says what sudo said
		return r
	}
	if err != nil && !absent {
		r.Err = fmt.Errorf("node %s: reading %s: %w", n.Name, DaemonJSONPath, withStderr(err, errb))
		return r
	}
	// With a lab registry every image is named there: the mirror is no
	// registry of docker's, so a reference the patch missed fails loudly
	// instead of coming from the mirror (pai's docker cache step, which
	// would add it too, is off then).
	var merged []byte
	var changed bool
	if opts.Registry == nil {
		merged, changed, err = MergeDaemonJSON(old, opts.Mirror.Addr, opts.Mirror.TLS)
	} else {
		merged, changed, err = normalDaemonJSON(old)
	}
	if err == nil && nvidia {
		var runtime bool
		if merged, runtime, err = SetNvidiaRuntime(merged); runtime {
			changed, r.NvidiaRuntimeSet = true, true
		}
	}
	if err == nil && opts.Registry != nil && opts.Registry.Insecure {
		var added bool
		if merged, added, err = AddInsecureRegistry(merged, opts.Registry.Host); added {
			changed, r.RegistryInsecure = true, true
		}
	}
	if err != nil {
		var de *DaemonJSONError
		if errors.As(err, &de) {
			de.Node = n.Name
		}
		r.Err = err
		return r
	}
	r.Created = absent || len(bytes.TrimSpace(old)) == 0

	if opts.Mirror.TLS && len(opts.Mirror.CA) > 0 {
		r.CAInstalled, r.Err = installCA(ctx, c, opts.Mirror.Addr, opts.Mirror.CA)
		if r.Err != nil {
			return r
		}
		r.SystemCAInstalled, r.Err = installSystemCA(ctx, c, opts.Mirror)
		if r.Err != nil {
			return r
		}
	}
	if opts.Registry != nil {
		if r.Err = prepareRegistry(ctx, c, opts.Registry, &r); r.Err != nil {
			return r
		}
	}

	if changed {
		out, errb, err := c.Run(ctx, writeDaemonJSONScript, RunOptions{Sudo: true, Stdin: merged})
		if err != nil {
			r.Err = fmt.Errorf("node %s: writing %s: %w", n.Name, DaemonJSONPath, withStderr(err, errb))
			return r
		}
		r.Changed = true
		r.Backup = keyValues(string(out), "=")["backup"]
		if _, errb, err := c.Run(ctx, restartDockerCmd, sudo); err != nil {
			r.Err = &DockerError{Node: n.Name, Backup: r.Backup, Err: withStderr(err, errb)}
			return r
		}
		if err := waitDocker(ctx, c, opts.DockerWait); err != nil {
			r.Err = &DockerError{Node: n.Name, Backup: r.Backup, Err: err}
			return r
		}
		r.Restarted = true
		return r
	}
	out, _, err := c.Run(ctx, backupStateCmd, sudo)
	if err == nil {
		r.Backup = keyValues(string(out), "=")["backup"]
	}
	return r
}

// writeDaemonJSONScript keeps the original once and replaces daemon.json
// with its standard input, atomically. It prints "backup=PATH".
var writeDaemonJSONScript = fmt.Sprintf(`set -e
f=%s; b=%s; none=%s
mkdir -p /etc/docker
if [ ! -e "$b" ] && [ ! -e "$none" ]; then
  if [ -e "$f" ]; then cp -p "$f" "$b"; else : > "$none"; fi
fi
t=$(mktemp "$f.paimirror-tmp.XXXXXX")
trap 'rm -f "$t"' EXIT
cat > "$t"
chmod 0644 "$t"
mv -f "$t" "$f"
trap - EXIT
`, shell.Quote(DaemonJSONPath), shell.Quote(BackupPath), shell.Quote(NoOriginalPath)) + backupStateCmd

// backupStateCmd prints "backup=PATH" for the backup (or marker) present.
var backupStateCmd = fmt.Sprintf(`if [ -e %s ]; then echo backup=%s; elif [ -e %s ]; then echo backup=%s; fi`,
	shell.Quote(BackupPath), BackupPath, shell.Quote(NoOriginalPath), NoOriginalPath)

// restartDockerCmd restarts docker with systemd, or with the SysV service
// wrapper where there is no systemctl.
const restartDockerCmd = `if command -v systemctl >/dev/null 2>&1; then systemctl restart docker; else service docker restart; fi`

// SystemCAPath is where Prepare puts the mirror's CA for the system's own
// trust (curl, wget, Python's ssl module, so kubespray's get_url and
// apt_key, and pip with --cert /etc/ssl/certs/ca-certificates.crt), which
// update-ca-certificates then adds to /etc/ssl/certs.
func SystemCAPath(mirror string) string {
	return "/usr/local/share/ca-certificates/paimirror-" + strings.NewReplacer(":", "_", "/", "_").Replace(mirror) + ".crt"
}

// installSystemCA adds the mirror's CA to the machine's trust store,
// unless it is there already, and reports whether it changed anything.
func installSystemCA(ctx context.Context, c *Client, m Mirror) (bool, error) {
	script := fmt.Sprintf(`set -e
f=%s; d=$(dirname "$f")
t=$(mktemp)
trap 'rm -f "$t"' EXIT
cat > "$t"
if [ -f "$f" ] && cmp -s "$t" "$f"; then exit 0; fi
mkdir -p "$d"
install -m 0644 "$t" "$f"
update-ca-certificates >/dev/null
echo changed`, shell.Quote(SystemCAPath(m.Addr)))
	out, errb, err := c.Run(ctx, script, RunOptions{Sudo: true, Stdin: m.CA})
	if err != nil {
		return false, fmt.Errorf("node %s: adding the mirror's CA to the system's trust (%s, update-ca-certificates): %w", c.node.Name, SystemCAPath(m.Addr), withStderr(err, errb))
	}
	return strings.TrimSpace(string(out)) == "changed", nil
}

// installCA writes the CA of the registry at addr (the mirror, or a lab
// registry) where docker looks for it, unless it is already there.
func installCA(ctx context.Context, c *Client, addr string, ca []byte) (bool, error) {
	path := CAPath(addr)
	cur, errb, err := c.Run(ctx, readFileCmd(path), RunOptions{Sudo: true})
	if err != nil && !isAbsent(err) {
		return false, fmt.Errorf("node %s: reading %s: %w", c.node.Name, path, withStderr(err, errb))
	}
	if err == nil && bytes.Equal(cur, ca) {
		return false, nil
	}
	script := fmt.Sprintf(`set -e
f=%s; d=$(dirname "$f")
mkdir -p "$d"
t=$(mktemp "$d/.ca.crt.XXXXXX")
trap 'rm -f "$t"' EXIT
cat > "$t"
chmod 0644 "$t"
mv -f "$t" "$f"
trap - EXIT`, shell.Quote(path))
	if _, errb, err := c.Run(ctx, script, RunOptions{Sudo: true, Stdin: ca}); err != nil {
		return false, fmt.Errorf("node %s: writing %s: %w", c.node.Name, path, withStderr(err, errb))
	}
	return true, nil
}

// dockerPoll is how often waitDocker asks.
const dockerPoll = 500 * time.Millisecond

// waitDocker polls `docker info` until it answers or wait has passed.
func waitDocker(ctx context.Context, c *Client, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(dockerPoll)
	defer tick.Stop()
	var last error // the last answer from docker, not our own deadline
	for {
		actx, acancel := context.WithTimeout(ctx, 15*time.Second)
		_, errb, err := c.Run(actx, "docker info --format '{{.ServerVersion}}'", RunOptions{Sudo: true})
		acancel()
		if err == nil {
			return nil
		}
		var se *SudoError
		if errors.As(err, &se) {
			return err
		}
		if ctx.Err() == nil || last == nil {
			last = withStderr(err, errb)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no answer within %v: %w", wait, last)
		case <-tick.C:
		}
	}
}

// withStderr makes sure a command's stderr is part of the error.
func withStderr(err error, stderr []byte) error {
	var ce *CommandError
	var se *SudoError
	if errors.As(err, &ce) || errors.As(err, &se) || len(bytes.TrimSpace(stderr)) == 0 {
		return err
	}
	return fmt.Errorf("%w: %s", err, firstLines(string(stderr), 2))
}
