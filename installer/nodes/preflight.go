package nodes

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/paimirror/paimirror/manifests/shell"
)

// The IDs of the preflight checks, in table order.
const (
	CheckSSH        = "ssh"
	CheckSudo       = "sudo"
	CheckOS         = "os"
	CheckMemory     = "memory"
	CheckDisk       = "disk"
	CheckDocker     = "docker"
	CheckNvidia     = "nvidia"
	CheckNTP        = "ntp"
	CheckPackages   = "packages"
	CheckHostname   = "hostname"
	CheckAddress    = "address"
	CheckDaemonJSON = "daemon.json"
	CheckMirror     = "mirror"
	// CheckRegistry runs only with PreflightOptions.Registry.
	CheckRegistry = "registry"
	// CheckApt runs only with PreflightOptions.Apt.
	CheckApt = "apt"
)

// Check is one requirement the preflight verifies.
type Check struct {
	ID       string // short name, the table's column header
	Title    string // one line saying what is checked
	Blocking bool   // a failure stops the install (Fail); otherwise it is a Warn
	Why      string // why it blocks, or why it only warns
	applies  func(Node) bool
}

// Which nodes a check applies to.
func anyNode(Node) bool      { return true }
func cluster(n Node) bool    { return n.Role == Master || n.Role == Worker }
func masterOnly(n Node) bool { return n.Role == Master }
func gpuWorker(n Node) bool  { return n.GPU && n.Role != DevBox }

var checks = []Check{
	{ID: CheckSSH, Title: "reachable over SSH with config.yaml's user and password (or the key)", Blocking: true,
		Why: "nothing else can be checked or installed without it", applies: anyNode},
	{ID: CheckSudo, Title: "the user can sudo (the password is sudo's password)", Blocking: true,
		Why: "pai's ansible becomes root with this password on every machine", applies: anyNode},
	{ID: CheckOS, Title: "Ubuntu 16.04, 18.04 or 20.04 (/etc/os-release)", Blocking: true,
		Why: "kubespray 2.11 and pai's playbooks know only these (apt, and cgroup v1, which Kubernetes 1.15 needs)", applies: cluster},
	{ID: CheckMemory, Title: "memory: master at least 40 GB, worker at least 16 GB (/proc/meminfo)", Blocking: false,
		Why: "the seed guide's sizes are for running OpenPAI's services well; Kubernetes installs with less", applies: cluster},
	{ID: CheckDisk, Title: "free disk space under /mnt, where kubespray moves docker's data", Blocking: false,
		Why: "image pulls fail once it is full, but how much a lab needs depends on its jobs", applies: anyNode},
	{ID: CheckDocker, Title: "docker installed and its daemon answering (docker version)", Blocking: true,
		Why: "every later step pulls and runs images through it", applies: anyNode},
	{ID: CheckNvidia, Title: "GPU worker: nvidia-smi works and docker's default runtime is nvidia", Blocking: true,
		Why: "without them the device plugin finds no GPU and jobs cannot use one", applies: gpuWorker},
	{ID: CheckNTP, Title: "master: clock synchronized by NTP (timedatectl, ntpq or chronyc)", Blocking: false,
		Why: "clock skew breaks certificates and etcd in time, but an air-gapped lab may first need its own time server", applies: masterOnly},
	{ID: CheckPackages, Title: "nfs-common and unzip installed (dpkg-query)", Blocking: false,
		Why: "nfs-common is needed only once NFS storage is mounted, unzip only by some steps; both are easy to add later", applies: cluster},
	{ID: CheckHostname, Title: "the machine's hostname is its layout.yaml hostname", Blocking: false,
		Why: "kubespray names the node after layout.yaml anyway, but a mismatch confuses every later diagnosis", applies: cluster},
	{ID: CheckAddress, Title: "layout.yaml's hostip is one of the machine's own addresses", Blocking: true,
		Why: "Kubernetes components bind and advertise that address; through NAT or a wrong IP they cannot", applies: cluster},
	{ID: CheckDaemonJSON, Title: "/etc/docker/daemon.json absent or valid JSON", Blocking: true,
		Why: "docker and pai's docker cache step both stop on an invalid file, and prepare must not guess", applies: anyNode},
	{ID: CheckMirror, Title: "the mirror answers from the node (its /v2/ and one file)", Blocking: true,
		Why: "every image and file of the install comes from it", applies: anyNode},
	{ID: CheckRegistry, Title: "the lab registry answers from the node and serves the probe image's manifest, with the credentials given (install --registry)", Blocking: true,
		Why: "with --registry every image of the install comes from it; a node that cannot pull stops kubespray half-way", applies: anyNode},
	{ID: CheckApt, Title: "which of the packages the bundle carries for the machine's release are installed, and whether the mirror's apt repositories for it answer (InRelease of each suite)", Blocking: true,
		Why: "kubespray and the dev box install the missing packages with apt, offline only from the mirror; a machine that has them all needs no repository, so then it only warns", applies: anyNode},
}

// Checks returns the preflight checks in table order.
func Checks() []Check { return slices.Clone(checks) }

// checksFor returns the checks Preflight runs with opts: the apt check
// only with PreflightOptions.Apt, the registry check only with
// PreflightOptions.Registry.
func checksFor(opts PreflightOptions) []Check {
	return slices.DeleteFunc(Checks(), func(c Check) bool {
		return c.ID == CheckApt && opts.Apt == nil || c.ID == CheckRegistry && opts.Registry == nil
	})
}

// Mirror is the paimirror mirror as the nodes reach it.
type Mirror struct {
	// Addr is HOST:PORT; required.
	Addr string
	// TLS says the mirror serves https; default plain http, which docker
	// needs in insecure-registries.
	TLS bool
	// CA is the PEM certificate of the authority that signed the mirror's
	// certificate. With TLS, Prepare installs it as
	// /etc/docker/certs.d/HOST:PORT/ca.crt; empty means the nodes already
	// trust the certificate.
	CA []byte
}

func (m Mirror) scheme() string {
	if m.TLS {
		return "https"
	}
	return "http"
}

// PreflightOptions configures Preflight. Mirror.Addr is required; the zero
// value of every other field works.
type PreflightOptions struct {
	// Mirror is the mirror every node must reach.
	Mirror Mirror
	// MirrorFile is one path the mirror serves (for example
	// "/k8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm"),
	// fetched with a HEAD request from each node; default: only /v2/ is
	// checked.
	MirrorFile string
	// MinMasterMemory is the least memory for the master, in bytes; default
	// 40e9 (the seed guide's 40 GB).
	MinMasterMemory int64
	// MinWorkerMemory is the least memory for a worker, in bytes; default
	// 16e9 (the seed guide's 16 GB).
	MinWorkerMemory int64
	// MinFreeDisk is the least free space on the filesystem holding /mnt, in
	// bytes; default 40e9.
	MinFreeDisk int64
	// Registry, when set, adds the registry check: from every machine,
	// the lab registry answers and serves Registry.Probe's manifest (or
	// /v2/), verified with Registry.CAPEM, with Registry's credentials.
	// Default nil: no registry check (images come from the mirror).
	Registry *Registry
	// Apt, when set, adds the apt check: per machine, which of the
	// packages wanted for its target are installed, and whether the
	// mirror's repositories for it answer. Default nil: no apt check (the
	// bundle carries no apt repository).
	Apt *Apt
	// CheckTimeout bounds each check's commands on a node; default 1m.
	CheckTimeout time.Duration
	// Dial configures the SSH connections; its Logger defaults to Logger.
	Dial DialOptions
	// Logger receives a debug record per check and an info record per node;
	// default: discard. The password never reaches it.
	Logger *slog.Logger
}

func (o PreflightOptions) withDefaults() PreflightOptions {
	if o.MinMasterMemory <= 0 {
		o.MinMasterMemory = 40e9
	}
	if o.MinWorkerMemory <= 0 {
		o.MinWorkerMemory = 16e9
	}
	if o.MinFreeDisk <= 0 {
		o.MinFreeDisk = 40e9
	}
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Dial.Logger == nil {
		o.Dial.Logger = o.Logger
	}
	return o
}

// Preflight checks every node, all nodes at once, and returns the table of
// results. A node that cannot be reached or logged in to gets a Fail in
// its ssh column (the error in Detail) and Skip elsewhere; the other nodes
// are checked all the same. The error is for bad input only (no nodes, a
// repeated name, a bad mirror address) or ctx ending; whether the install
// may go on is Table.Err.
//
// Each check is one SSH session running a short POSIX shell command;
// commands that need root (docker, reading daemon.json) run through sudo
// when the sudo check passed.
func Preflight(ctx context.Context, nodes []Node, auth Auth, keys *HostKeys, opts PreflightOptions) (*Table, error) {
	opts = opts.withDefaults()
	if err := checkNodes(nodes); err != nil {
		return nil, fmt.Errorf("preflight: %w", err)
	}
	if err := checkMirrorAddr(opts.Mirror.Addr); err != nil {
		return nil, fmt.Errorf("preflight: %w", err)
	}
	if opts.Registry != nil {
		if err := opts.Registry.validate(); err != nil {
			return nil, fmt.Errorf("preflight: %w", err)
		}
	}
	list := checksFor(opts)
	rows := make([][]CheckResult, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Go(func() { rows[i] = preflightNode(ctx, n, auth, keys, list, opts) })
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("preflight: %w", err)
	}
	t := &Table{Nodes: slices.Clone(nodes), Checks: list}
	for _, r := range rows {
		t.Results = append(t.Results, r...)
	}
	return t, nil
}

// checkNodes rejects an empty list, nameless nodes and repeated names.
func checkNodes(nodes []Node) error {
	if len(nodes) == 0 {
		return ErrNoNodes
	}
	seen := map[string]bool{}
	for _, n := range nodes {
		if n.Name == "" || n.Addr == "" {
			return fmt.Errorf("node %q at %q: a node needs a name and an address", n.Name, n.Addr)
		}
		if seen[n.Name] {
			return fmt.Errorf("node %s is listed twice", n.Name)
		}
		seen[n.Name] = true
	}
	return nil
}

// outcome is what a check function found.
type outcome struct {
	ok     bool
	soft   bool // a problem, but only a warning even for a blocking check
	detail string
	fix    string
}

func pass(detail string) outcome { return outcome{ok: true, detail: detail} }

func problem(detail, fix string) outcome { return outcome{detail: detail, fix: fix} }

// probe is one node being checked.
type probe struct {
	c    *Client
	n    Node
	opts PreflightOptions
	sudo bool // sudo works: run privileged commands through it

	// rel and relErr are the machine's /etc/os-release, read once.
	rel    map[string]string
	relErr error
}

// release returns the machine's /etc/os-release, read on first use.
func (p *probe) release(ctx context.Context) (map[string]string, error) {
	if p.rel == nil && p.relErr == nil {
		out, _, err := p.user(ctx, "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release")
		if err != nil {
			p.relErr = err
		} else {
			p.rel = osRelease(out)
		}
	}
	return p.rel, p.relErr
}

// target returns the machine's "{ID}-{VERSION_ID}", the apt target it
// belongs to, or "" when its os-release cannot be read.
func (p *probe) target(ctx context.Context) string {
	rel, err := p.release(ctx)
	if err != nil {
		return ""
	}
	return rel["ID"] + "-" + rel["VERSION_ID"]
}

// run runs a command, as root when sudo works.
func (p *probe) run(ctx context.Context, cmd string) (string, string, error) {
	out, errb, err := p.c.Run(ctx, cmd, RunOptions{Sudo: p.sudo})
	return string(out), string(errb), err
}

// user runs a command as the SSH user.
func (p *probe) user(ctx context.Context, cmd string) (string, string, error) {
	out, errb, err := p.c.Run(ctx, cmd, RunOptions{})
	return string(out), string(errb), err
}

// fetchMirror runs a script that asks the mirror with curl or wget (see
// tlsPrelude), as the SSH user, with the mirror's CA on its standard input
// when there is one.
func (p *probe) fetchMirror(ctx context.Context, script string) (string, string, error) {
	out, errb, err := p.c.Run(ctx, tlsPrelude(p.opts.Mirror)+script, RunOptions{Stdin: p.opts.Mirror.caForCheck()})
	return string(out), string(errb), err
}

// tlsPrelude sets $k (curl) and $kw (wget) to what verifies a TLS mirror:
// its CA, read from standard input into a temporary file, when prepare
// has one to install (it is not installed yet at preflight); else the
// system's trust. Plain http sets neither.
func tlsPrelude(m Mirror) string {
	if !m.TLS || len(m.CA) == 0 {
		return "k=; kw=\n"
	}
	return `c=$(mktemp) && cat > "$c" && trap 'rm -f "$c"' EXIT
k="--cacert $c"; kw="--ca-certificate=$c"
`
}

// caForCheck is the CA the mirror checks send on standard input, or nil.
func (m Mirror) caForCheck() []byte {
	if m.TLS && len(m.CA) > 0 {
		return m.CA
	}
	return nil
}

func preflightNode(ctx context.Context, n Node, auth Auth, keys *HostKeys, checks []Check, opts PreflightOptions) []CheckResult {
	log := opts.Logger.With("node", n.Name)
	var results []CheckResult
	add := func(c Check, o outcome) {
		r := CheckResult{Node: n.Name, Check: c.ID, Blocking: c.Blocking, Detail: o.detail}
		switch {
		case o.ok:
			r.Status = Pass
		case c.Blocking && !o.soft:
			r.Status, r.Fix = Fail, o.fix
		default:
			r.Status, r.Fix = Warn, o.fix
		}
		log.Debug("check", "check", c.ID, "status", r.Status.String(), "detail", r.Detail)
		results = append(results, r)
	}
	skipRest := func(from int, why string) {
		for _, c := range checks[from:] {
			if c.applies(n) {
				results = append(results, CheckResult{Node: n.Name, Check: c.ID, Status: Skip, Blocking: c.Blocking,
					Detail: "not checked: " + why})
			}
		}
	}

	c, err := Dial(ctx, n, auth, keys, opts.Dial)
	if err != nil {
		add(checks[0], problem(err.Error(), dialFix(n, err)))
		skipRest(1, "no ssh login")
		log.Info("preflight", "reachable", false)
		return results
	}
	defer c.Close()
	add(checks[0], pass(fmt.Sprintf("logged in as %s at %s", auth.User, n.sshAddr())))

	p := &probe{c: c, n: n, opts: opts}
	sctx, cancel := context.WithTimeout(ctx, opts.CheckTimeout)
	err = c.CheckSudo(sctx)
	cancel()
	if err != nil {
		add(checks[1], problem(err.Error(), sudoFix(auth.User, n.Name)))
	} else {
		p.sudo = true
		add(checks[1], pass("sudo works"))
	}

	for _, chk := range checks[2:] {
		if !chk.applies(n) {
			continue
		}
		if ctx.Err() != nil {
			break
		}
		cctx, cancel := context.WithTimeout(ctx, opts.CheckTimeout)
		o := runCheck(cctx, chk.ID, p)
		cancel()
		add(chk, o)
	}
	fails := 0
	for _, r := range results {
		if r.Status != Pass {
			fails++
		}
	}
	log.Info("preflight", "reachable", true, "problems", fails)
	return results
}

func runCheck(ctx context.Context, id string, p *probe) outcome {
	switch id {
	case CheckOS:
		return checkOS(ctx, p)
	case CheckMemory:
		return checkMemory(ctx, p)
	case CheckDisk:
		return checkDisk(ctx, p)
	case CheckDocker:
		return checkDocker(ctx, p)
	case CheckNvidia:
		return checkNvidia(ctx, p)
	case CheckNTP:
		return checkNTP(ctx, p)
	case CheckPackages:
		return checkPackages(ctx, p)
	case CheckHostname:
		return checkHostname(ctx, p)
	case CheckAddress:
		return checkAddress(ctx, p)
	case CheckDaemonJSON:
		return checkDaemonJSON(ctx, p)
	case CheckMirror:
		return checkMirror(ctx, p)
	case CheckRegistry:
		return checkRegistryReach(ctx, p)
	case CheckApt:
		return checkApt(ctx, p)
	}
	return problem("unknown check "+id, "")
}

// sudoFix says how to let user sudo on node, with the command to run
// there; user is one word of it (shell.Word: config.yaml's user may hold
// anything).
func sudoFix(user, node string) string {
	return fmt.Sprintf("let %s sudo with its password on %s: as root run `visudo -f %s` and add `%s ALL=(ALL) ALL`",
		user, node, shell.Word("/etc/sudoers.d/"+user), user)
}

// mirrorFix says how to make the mirror m reachable from node, with a
// command to try there whose URL is one word (shell.Word: the address
// may hold shell syntax, or brackets).
func mirrorFix(m Mirror, node string) string {
	return fmt.Sprintf("make %s reachable from %s: is paimirror serve running there, is that the address the nodes use, does a firewall block port %s? (try `curl %s` on the node)",
		m.Addr, node, portOf(m.Addr), shell.Word(m.scheme()+"://"+m.Addr+"/v2/"))
}

func dialFix(n Node, err error) string {
	var un *UnreachableError
	var au *AuthError
	var hk *HostKeyChangedError
	switch {
	case errors.As(err, &un):
		return fmt.Sprintf("check that %s is on, that %s is its address in layout.yaml, and that sshd runs there (sudo systemctl status ssh) with port %s open",
			n.Name, n.host(), portOf(n.sshAddr()))
	case errors.As(err, &au):
		return "use the same user and password on every machine, as in config.yaml (test with `ssh USER@" + n.host() + "`), or give an SSH key"
	case errors.As(err, &hk):
		return fmt.Sprintf("only if %s was reinstalled: delete line %d of %s (or use --accept-new-host-key=%s)", n.Name, hk.Line, hk.File, n.Name)
	}
	return "check the SSH server on " + n.Name
}

func portOf(addr string) string {
	_, p, _ := net.SplitHostPort(addr)
	return p
}

// osRelease parses /etc/os-release.
func osRelease(s string) map[string]string {
	m := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), "=")
		if !ok || strings.HasPrefix(k, "#") {
			continue
		}
		if uq, err := strconv.Unquote(v); err == nil {
			v = uq
		} else {
			v = strings.Trim(v, `"'`)
		}
		m[k] = v
	}
	return m
}

func checkOS(ctx context.Context, p *probe) outcome {
	rel, err := p.release(ctx)
	if err != nil {
		return problem("cannot read /etc/os-release: "+err.Error(), "install Ubuntu 18.04 (16.04 and 20.04 also work)")
	}
	name := rel["PRETTY_NAME"]
	if name == "" {
		name = rel["ID"] + " " + rel["VERSION_ID"]
	}
	if rel["ID"] == "ubuntu" && slices.Contains([]string{"16.04", "18.04", "20.04"}, rel["VERSION_ID"]) {
		return pass(name)
	}
	return problem(name+" is not Ubuntu 16.04, 18.04 or 20.04",
		"install Ubuntu 18.04 (the seed guide's choice; 16.04 and 20.04 also work)")
}

// memTotal reads MemTotal (bytes) from /proc/meminfo.
func memTotal(meminfo string) (int64, bool) {
	for _, line := range strings.Split(meminfo, "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "MemTotal:" {
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0, false
			}
			return kb * 1024, true
		}
	}
	return 0, false
}

func gb(b int64) string { return fmt.Sprintf("%.1f GB", float64(b)/1e9) }

func checkMemory(ctx context.Context, p *probe) outcome {
	out, _, err := p.user(ctx, "cat /proc/meminfo")
	if err != nil {
		return problem("cannot read /proc/meminfo: "+err.Error(), "")
	}
	total, ok := memTotal(out)
	if !ok {
		return problem("no MemTotal in /proc/meminfo", "")
	}
	min, role := p.opts.MinWorkerMemory, "a worker"
	if p.n.Role == Master {
		min, role = p.opts.MinMasterMemory, "the master"
	}
	if total >= min {
		return pass(gb(total))
	}
	return problem(fmt.Sprintf("%s of memory; the seed guide asks for %s on %s", gb(total), gb(min), role),
		fmt.Sprintf("add memory to %s (at least %s), or expect OpenPAI's services to be short of it", p.n.Name, gb(min)))
}

func checkDisk(ctx context.Context, p *probe) outcome {
	out, _, err := p.user(ctx, `d=/mnt; [ -d "$d" ] || d=/; df -Pk "$d"`)
	if err != nil {
		return problem("df failed: "+err.Error(), "")
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(lines) < 2 || len(f) < 6 {
		return problem("cannot read df's output", "")
	}
	kb, err := strconv.ParseInt(f[3], 10, 64)
	if err != nil {
		return problem("cannot read df's output", "")
	}
	free := kb * 1024
	detail := fmt.Sprintf("%s free on %s", gb(free), f[5])
	if free >= p.opts.MinFreeDisk {
		return pass(detail)
	}
	return problem(detail+fmt.Sprintf(", less than %s", gb(p.opts.MinFreeDisk)),
		fmt.Sprintf("free space on the filesystem holding /mnt on %s: kubespray moves docker's data to /mnt/docker and OpenPAI's images take tens of GB", p.n.Name))
}

func checkDocker(ctx context.Context, p *probe) outcome {
	if _, _, err := p.user(ctx, "command -v docker"); err != nil {
		if p.opts.Apt != nil {
			if r := p.opts.Apt.dockerRepository(p.target(ctx)); r != nil {
				return outcome{soft: true, detail: "docker is not installed; the prepare step installs " + strings.Join(r.Packages, " ") + " from the mirror",
					fix: "nothing to do, or install docker by hand (the seed guide's step 4)"}
			}
		}
		return problem("docker is not installed", "install docker-ce on "+p.n.Name+" (the seed guide's step 4; offline: its .deb files or a local apt mirror)")
	}
	out, errb, err := p.run(ctx, "docker version --format '{{.Server.Version}}'")
	if err != nil {
		return problem("docker's daemon does not answer: "+firstLines(errb+" "+errText(err), 2),
			"start docker on "+p.n.Name+": sudo systemctl enable --now docker (see journalctl -u docker if it does not start)")
	}
	return pass("docker " + strings.TrimSpace(out))
}

func errText(err error) string {
	var ce *CommandError
	if errors.As(err, &ce) {
		return fmt.Sprintf("exit status %d", ce.Status)
	}
	return err.Error()
}

func checkNvidia(ctx context.Context, p *probe) outcome {
	out, errb, err := p.user(ctx, "nvidia-smi -L")
	if err != nil {
		return problem("nvidia-smi does not work: "+firstLines(errb+" "+errText(err), 2),
			"install the NVIDIA driver on "+p.n.Name+" (the seed guide's step 3) until `nvidia-smi` lists the GPUs")
	}
	gpus := len(strings.Split(strings.TrimSpace(out), "\n"))
	fix := "install nvidia-container-runtime and make it docker's default: \"default-runtime\": \"nvidia\" and its \"runtimes\" entry in /etc/docker/daemon.json, then sudo systemctl restart docker (the seed guide's step 5)"
	rt, _, err := p.run(ctx, "docker info --format '{{.DefaultRuntime}}'")
	rt = strings.Trim(strings.TrimSpace(rt), `"`)
	if err != nil {
		// docker is down (the docker check says so); read the file instead.
		data, _, ferr := p.run(ctx, readFileCmd(DaemonJSONPath))
		if ferr == nil {
			if c, perr := parseDaemonJSON([]byte(data)); perr == nil {
				if raw, ok := c.values["default-runtime"]; ok && strings.Trim(string(raw), `"`) == "nvidia" {
					return pass(fmt.Sprintf("%d GPU(s); daemon.json sets default-runtime nvidia (docker not answering)", gpus))
				}
			}
		}
		return problem("cannot tell docker's default runtime: docker does not answer and daemon.json does not set nvidia", fix)
	}
	if rt != "nvidia" {
		detail := fmt.Sprintf("%d GPU(s), but docker's default runtime is %q", gpus, rt)
		if pin := p.installableNvidiaRuntime(ctx); pin != "" && (rt == "" || rt == "runc") {
			if _, _, err := p.run(ctx, readFileCmd(DaemonJSONPath)+" | grep -q '\"default-runtime\"'"); err != nil {
				// daemon.json names no default runtime: prepare sets it.
				return outcome{soft: true, detail: detail + "; the prepare step installs " + pin + " from the mirror if it is missing and makes nvidia docker's default runtime", fix: fix}
			}
		}
		return problem(detail, fix)
	}
	return pass(fmt.Sprintf("%d GPU(s); default runtime nvidia", gpus))
}

// installableNvidiaRuntime returns the nvidia-container-runtime the
// bundle holds for the node's release ("name=version"), or "".
func (p *probe) installableNvidiaRuntime(ctx context.Context) string {
	if p.opts.Apt == nil {
		return ""
	}
	return p.opts.Apt.nvidiaRuntime(p.target(ctx))
}

func checkNTP(ctx context.Context, p *probe) outcome {
	fix := "run an NTP client on " + p.n.Name + " against a time server in the LAN (sudo apt-get install ntp, or systemd-timesyncd with sudo timedatectl set-ntp true)"
	if out, _, err := p.user(ctx, "timedatectl show -p NTPSynchronized -p NTP"); err == nil && strings.Contains(out, "NTPSynchronized=") {
		kv := keyValues(out, "=")
		if kv["NTPSynchronized"] == "yes" {
			return pass("clock synchronized (timedatectl)")
		}
		if kv["NTP"] == "yes" {
			return problem("NTP is on but the clock is not synchronized (no time server reachable?)", fix)
		}
		return problem("no NTP service is active (timedatectl)", fix)
	}
	if out, _, err := p.user(ctx, "timedatectl status"); err == nil {
		kv := keyValues(out, ":")
		if kv["System clock synchronized"] == "yes" || kv["NTP synchronized"] == "yes" {
			return pass("clock synchronized (timedatectl)")
		}
		if kv["NTP service"] == "active" || kv["Network time on"] == "yes" {
			return problem("NTP is on but the clock is not synchronized (no time server reachable?)", fix)
		}
		if len(kv) > 0 {
			return problem("no NTP service is active (timedatectl)", fix)
		}
	}
	if out, _, err := p.user(ctx, "ntpq -pn"); err == nil {
		for _, line := range strings.Split(out, "\n") {
			if strings.HasPrefix(line, "*") {
				return pass("ntpd synchronized to " + strings.Fields(line[1:])[0])
			}
		}
		return problem("ntpd runs but is not synchronized to any server", fix)
	}
	if out, _, err := p.user(ctx, "chronyc tracking"); err == nil {
		if strings.Contains(keyValues(out, ":")["Leap status"], "Normal") {
			return pass("chrony synchronized")
		}
		return problem("chrony runs but is not synchronized", fix)
	}
	return problem("no NTP client found (timedatectl, ntpq, chronyc)", fix)
}

// keyValues parses "key<sep>value" lines, trimming both sides.
func keyValues(s, sep string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		k, v, ok := strings.Cut(line, sep)
		if ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m
}

// requiredPackages are the Debian packages the seed guide installs on every
// master and worker.
var requiredPackages = []string{"nfs-common", "unzip"}

func checkPackages(ctx context.Context, p *probe) outcome {
	cmd := `dpkg-query -W -f='${Package} ${Status}\n' ` + strings.Join(requiredPackages, " ")
	out, errb, err := p.user(ctx, cmd)
	var ce *CommandError
	if err != nil && !(errors.As(err, &ce) && ce.Status == 1) { // 1: some package unknown
		return problem("dpkg-query failed: "+firstLines(errb+" "+errText(err), 2), "")
	}
	installed := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) >= 4 && f[len(f)-1] == "installed" && f[len(f)-2] == "ok" {
			installed[f[0]] = true
		}
	}
	var missing []string
	for _, pkg := range requiredPackages {
		if !installed[pkg] {
			missing = append(missing, pkg)
		}
	}
	if len(missing) == 0 {
		return pass(strings.Join(requiredPackages, ", ") + " installed")
	}
	return problem(strings.Join(missing, ", ")+" not installed",
		"sudo apt-get install -y "+strings.Join(missing, " ")+" on "+p.n.Name+" (offline: from the Ubuntu install media or a local apt mirror)")
}

func checkHostname(ctx context.Context, p *probe) outcome {
	out, _, err := p.user(ctx, "hostname")
	if err != nil {
		return problem("hostname failed: "+err.Error(), "")
	}
	got := strings.TrimSpace(out)
	short, _, _ := strings.Cut(got, ".")
	if strings.EqualFold(short, p.n.Name) || strings.EqualFold(got, p.n.Name) {
		return pass(got)
	}
	return problem(fmt.Sprintf("the machine calls itself %q, layout.yaml %q", got, p.n.Name),
		fmt.Sprintf("sudo hostnamectl set-hostname %s on that machine, or write hostname: %s in layout.yaml", p.n.Name, short))
}

func checkAddress(ctx context.Context, p *probe) outcome {
	want := net.ParseIP(p.n.host())
	if want == nil {
		return problem(fmt.Sprintf("hostip %q is not an IP address", p.n.host()), "write the machine's LAN IP as hostip in layout.yaml")
	}
	out, _, err := p.user(ctx, "ip -o addr show 2>/dev/null || hostname -I")
	if err != nil {
		return problem("cannot list the machine's addresses: "+err.Error(), "")
	}
	var addrs []string
	for _, ip := range listedIPs(out) {
		if ip.Equal(want) {
			return pass(want.String())
		}
		if !ip.IsLoopback() {
			addrs = append(addrs, ip.String())
		}
	}
	return problem(fmt.Sprintf("%s is not one of the machine's addresses (%s)", want, strings.Join(addrs, ", ")),
		"write the machine's own LAN address as its hostip in layout.yaml (not a NAT or forwarded address)")
}

// listedIPs reads the addresses of `ip -o addr show` (the words after
// "inet" and "inet6") or, failing that, of `hostname -I` (every word).
func listedIPs(out string) []net.IP {
	words := strings.Fields(out)
	ipForm := slices.Contains(words, "inet") || slices.Contains(words, "inet6")
	var ips []net.IP
	for i, w := range words {
		if ipForm {
			if i == 0 || (words[i-1] != "inet" && words[i-1] != "inet6") {
				continue
			}
			w, _, _ = strings.Cut(w, "/")
		}
		if ip := net.ParseIP(w); ip != nil {
			ips = append(ips, ip)
		}
	}
	return ips
}

// readFileCmd prints a file, exiting 3 when it does not exist.
func readFileCmd(path string) string {
	return fmt.Sprintf(`if [ -e %s ]; then cat %s; else exit 3; fi`, shell.Quote(path), shell.Quote(path))
}

// isAbsent reports whether err is readFileCmd's "no such file".
func isAbsent(err error) bool {
	var ce *CommandError
	return errors.As(err, &ce) && ce.Status == 3
}

func checkDaemonJSON(ctx context.Context, p *probe) outcome {
	out, errb, err := p.run(ctx, readFileCmd(DaemonJSONPath))
	switch {
	case isAbsent(err):
		return pass("absent (prepare writes it)")
	case err != nil:
		return problem("cannot read "+DaemonJSONPath+": "+firstLines(errb+" "+errText(err), 2), "")
	}
	if len(bytes.TrimSpace([]byte(out))) == 0 {
		return outcome{soft: true, detail: "empty: docker accepts it, pai v1.8.0's docker cache step crashes on it",
			fix: "nothing to do: prepare writes valid JSON there"}
	}
	c, err := parseDaemonJSON([]byte(out))
	if err != nil {
		return problem(err.Error(), fmt.Sprintf("repair %s on %s by hand (docker will not start with it either), or move it away; prepare leaves it untouched", DaemonJSONPath, p.n.Name))
	}
	return pass(fmt.Sprintf("valid JSON, %d key(s)", len(c.keys)))
}

func checkMirror(ctx context.Context, p *probe) outcome {
	m := p.opts.Mirror
	base := m.scheme() + "://" + m.Addr
	host, port, _ := net.SplitHostPort(m.Addr)
	script := fmt.Sprintf(`base=%s; file=%s; host=%s; port=%s; tls=%s
if command -v curl >/dev/null 2>&1; then
  curl -fsS $k --max-time 15 -o /dev/null "$base/v2/" || exit 10
  [ -z "$file" ] || curl -fsS $k --max-time 15 -I -o /dev/null "$base$file" || exit 11
  echo curl
elif command -v wget >/dev/null 2>&1; then
  wget -q $kw -T 15 -O /dev/null "$base/v2/" || exit 10
  [ -z "$file" ] || wget -q $kw -T 15 --spider "$base$file" || exit 11
  echo wget
elif [ "$tls" != yes ] && command -v bash >/dev/null 2>&1; then
  probe() { timeout 15 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "%%s %%s HTTP/1.0\r\nHost: %%s:%%s\r\n\r\n" "$2" "$3" "$0" "$1" >&3 && head -n 1 <&3' "$host" "$port" "$1" "$2" | grep -q " 200 "; }
  probe GET /v2/ || exit 10
  [ -z "$file" ] || probe HEAD "$file" || exit 11
  echo bash
else
  echo "no curl, wget or bash to reach the mirror with" >&2; exit 12
fi`, shell.Quote(base), shell.Quote(p.opts.MirrorFile), shell.Quote(host), shell.Quote(port), shell.Quote(map[bool]string{true: "yes", false: "no"}[m.TLS]))
	out, errb, err := p.fetchMirror(ctx, script)
	fix := mirrorFix(m, p.n.Name)
	var ce *CommandError
	if errors.As(err, &ce) {
		msg := strings.TrimSpace(errb)
		switch ce.Status {
		case 10:
			return problem(firstLines(fmt.Sprintf("%s/v2/ does not answer: %s", base, msg), 2), fix)
		case 11:
			return problem(firstLines(fmt.Sprintf("%s%s cannot be fetched: %s", base, p.opts.MirrorFile, msg), 2),
				fmt.Sprintf("check that the mirror at %s serves %s (is it the right bundle?)", m.Addr, p.opts.MirrorFile))
		case 12:
			return problem(msg, "sudo apt-get install -y curl on "+p.n.Name)
		}
	}
	if err != nil {
		return problem("checking the mirror failed: "+err.Error(), fix)
	}
	what := "/v2/"
	if p.opts.MirrorFile != "" {
		what += " and " + p.opts.MirrorFile
	}
	return pass(fmt.Sprintf("%s%s answered (%s)", base, what, strings.TrimSpace(out)))
}
