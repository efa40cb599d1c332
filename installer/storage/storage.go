package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/paimirror/paimirror/installer/kube"
	"github.com/paimirror/paimirror/installer/nodes"
	"github.com/paimirror/paimirror/installer/pai"
	"github.com/paimirror/paimirror/installer/steps"
	"github.com/paimirror/paimirror/manifests/atomicfile"
	"github.com/paimirror/paimirror/manifests/shell"
)

// The steps of Setup, in order.
const (
	// StepCheck: the storage node is a worker of layout.yaml and every
	// worker has nfs-common.
	StepCheck = "check"
	// StepConfigure: pai-storage on the node in layout.yaml and the
	// storage-manager section in services-configuration.yaml.
	StepConfigure = "configure"
	// StepRestart: paictl stops, pushes and starts cluster-configuration
	// and storage-manager; storage-manager runs on the node and NFS
	// answers.
	StepRestart = "restart"
	// StepVolume: the persistent volume and claim, bound.
	StepVolume = "volume"
	// StepGrant: the groups may use the storage.
	StepGrant = "grant"
	// StepInstructions: how to mount the share from a workstation.
	StepInstructions = "instructions"
)

// Steps lists the step names in order.
var Steps = []string{StepCheck, StepConfigure, StepRestart, StepVolume, StepGrant, StepInstructions}

// stepTitles say what each step does, for people.
var stepTitles = map[string]string{
	StepCheck:        "check the storage node and nfs-common on the workers",
	StepConfigure:    "mark the storage node and enable storage-manager",
	StepRestart:      "restart cluster-configuration and storage-manager",
	StepVolume:       "create the persistent volume and claim",
	StepGrant:        "grant the storage to the groups",
	StepInstructions: "how to mount the share",
}

// stepNumber returns a step's 1-based position, 0 when unknown.
func stepNumber(step string) int { return slices.Index(Steps, step) + 1 }

// Defaults of Options.
const (
	DefaultSharePath  = "/share"
	DefaultName       = "nfs-storage"
	DefaultNFSPath    = "/data"
	DefaultGroup      = "default"
	DefaultAdminUser  = "admin"
	DefaultNFSPort    = 2049
	DefaultPodWait    = 10 * time.Minute
	DefaultNFSWait    = 3 * time.Minute
	DefaultBindWait   = 2 * time.Minute
	DefaultPoll       = 2 * time.Second
	storageManagerApp = "storage-manager" // the pods' app label (storage-manager.yaml.template)
	storageManagerNS  = "default"         // the DaemonSet's namespace (none in its template)
)

// Options configures Setup. Node and AdminPassword are required; the zero
// value of every other field works.
type Options struct {
	// Node is the storage worker's hostname in layout.yaml. Required; it
	// must be a worker, never the master.
	Node string
	// SharePath is the directory on Node that storage-manager shares
	// (services-configuration.yaml's storage-manager.localpath); a large
	// disk belongs there. Default DefaultSharePath, "/share". Letters,
	// digits and ._+-/ only: pai's templates put it in YAML unquoted.
	SharePath string
	// Name is the claim's name, the storage name OpenPAI's groups are
	// granted and jobs mount; the volume is Name+"-pv" and carries the
	// label name: Name. Default DefaultName, "nfs-storage".
	Name string
	// NFSPath is the exported path the volume mounts: storage-manager
	// exports SharePath as the NFSv4 root, so "/data" is SharePath/data
	// on Node. Default DefaultNFSPath, "/data".
	NFSPath string
	// Groups are the OpenPAI groups granted the storage; default
	// [DefaultGroup], ["default"].
	Groups []string
	// ReadWrite lets jobs write to the storage; default false: read-only in
	// the cluster, as the guide sets it (data goes in from a workstation
	// mount, see Result.Instructions).
	ReadWrite bool
	// Recreate replaces a volume or claim that exists with other
	// settings (the guide's 重新生成存储); default false: such a volume stops
	// Setup with the differences. The data on the share is never touched.
	Recreate bool
	// ClusterCfgDir is the cluster's configuration (layout.yaml,
	// services-configuration.yaml, config.yaml), which the dev-box
	// container has at /cluster-configuration; default
	// ~/pai-deploy/cluster-cfg.
	ClusterCfgDir string
	// Kubeconfig reaches the cluster's API server; default
	// ~/pai-deploy/kube/config.
	Kubeconfig string
	// RestServer is the rest-server's base URL; default
	// http://<master hostip>/rest-server (through pylon).
	RestServer string
	// AdminUser is the OpenPAI admin to log in as; default "admin".
	AdminUser string
	// AdminPassword is AdminUser's password, from an environment variable
	// or a prompt. Required. It is sent only to the rest-server's login
	// and never logged or put in an error.
	AdminPassword string
	// HTTPClient talks to the rest-server; default: a client with a 30 s
	// timeout and no proxy (the rest-server is on the LAN).
	HTTPClient *http.Client
	// DevBox runs paictl.py; default &Docker{} (the container "dev-box").
	DevBox DevBox
	// Output receives paictl's output as it runs; default: discarded (the
	// last lines are in errors).
	Output io.Writer
	// Runner runs the nfs-common check on the workers; default an
	// SSHRunner with config.yaml's user and password (or
	// ssh_key_file_path) and the host keys in KnownHosts.
	Runner Runner
	// KnownHosts is the default Runner's record of SSH host keys; default
	// ~/.paimirror/known_hosts.
	KnownHosts string
	// NFSPort is the port NFS answers on at Node (storage-manager's
	// hostPort); default 2049.
	NFSPort int
	// PodWait bounds the wait for the storage-manager pod to run on Node;
	// default 10 minutes. NFSWait bounds the wait for NFS to answer after
	// that; default 3 minutes. BindWait bounds the wait for the claim to
	// bind; default 2 minutes. Poll is how often they look; default 2 s.
	PodWait, NFSWait, BindWait, Poll time.Duration
	// Logger receives debug records (commands, requests, never a
	// password or token); default: discard.
	Logger *slog.Logger
	// Report receives progress, one call at a time, from Setup's
	// goroutine: for each step a steps.Event Started (Text its title),
	// Status lines, then Done (Changed, Text what it did or found) or
	// Failed (Err); Step is the step's name, N its number and Total 6.
	// Default: none.
	Report func(steps.Event)
}

// StepResult is what one step did.
type StepResult struct {
	// Step is the step's name.
	Step string
	// Changed says whether it changed anything (a file, the cluster, a
	// group); false means it found everything done.
	Changed bool
	// Detail says what it did or found, for people.
	Detail string
}

// Result is what Setup did, step by step, and how to use the storage.
type Result struct {
	// Steps has one entry per step, in order.
	Steps []StepResult
	// Server and Path are the NFS export: Node's IP and NFSPath.
	Server, Path string
	// HostPath is where the export's files are on Node (SharePath +
	// NFSPath).
	HostPath string
	// Instructions tells how to mount the share from a workstation to add
	// data (the guide's 本地管理存储).
	Instructions string
}

// Changed reports whether any step changed anything.
func (r *Result) Changed() bool {
	for _, s := range r.Steps {
		if s.Changed {
			return true
		}
	}
	return false
}

var (
	safePath  = regexp.MustCompile(`^/[A-Za-z0-9._+/-]*$`)
	groupName = regexp.MustCompile(`^[A-Za-z0-9_]+$`)                  // rest-server's groupname rule
	dnsName   = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)  // a claim name, also a label value
	hostname  = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`) // layout.yaml's hostname rule
	cidLine   = regexp.MustCompile(`Cluster-id is: *(\S+)`)            // paictl config get-id
	cidUnset  = regexp.MustCompile(`Cluster-id hasn't been set`)       // paictl config get-id
)

// ClusterIDPrompt is the question paictl.py config push, service stop and
// service start (and config pull) each ask once with Python 2's
// raw_input, on standard input: the answer must be the cluster-id stored in
// the cluster's pai-cluster-id ConfigMap, or paictl exits with status 1
// ("Ops, maybe you find the wrong cluster."). pai's own
// start-service-in-dev-box.sh answers it from a file holding "pai"; Setup
// writes the id paictl config get-id reports, and a newline, to each
// command's standard input.
const ClusterIDPrompt = "Please input the cluster-id which you wanna operate: "

// paiDeployDir returns ~/pai-deploy, where pai's quick-start leaves the
// cluster's kubeconfig and configuration.
func paiDeployDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("finding ~/%s: %w", pai.DeployDir, err)
	}
	return filepath.Join(home, pai.DeployDir), nil
}

// withDefaults checks opts and fills in its defaults, for Setup.
func (o Options) withDefaults() (Options, error) {
	o, err := o.checked()
	if err != nil {
		return o, err
	}
	if o.AdminPassword == "" {
		return o, fmt.Errorf("%w: the password of OpenPAI admin %s is required to grant the storage to groups", ErrInvalidOptions, o.AdminUser)
	}
	if o.Output == nil {
		o.Output = io.Discard
	}
	if o.DevBox == nil {
		o.DevBox = &Docker{Logger: o.Logger}
	}
	if o.HTTPClient == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.Proxy = nil
		o.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: tr}
	}
	return o, nil
}

// checked checks what Setup and NewPlan share of opts (not the admin's
// password, which only Setup needs) and fills in the defaults of plain
// values.
func (o Options) checked() (Options, error) {
	bad := func(format string, args ...any) (Options, error) {
		return o, fmt.Errorf("%w: %s", ErrInvalidOptions, fmt.Sprintf(format, args...))
	}
	if o.SharePath == "" {
		o.SharePath = DefaultSharePath
	}
	if o.Name == "" {
		o.Name = DefaultName
	}
	if o.NFSPath == "" {
		o.NFSPath = DefaultNFSPath
	}
	if len(o.Groups) == 0 {
		o.Groups = []string{DefaultGroup}
	}
	if o.AdminUser == "" {
		o.AdminUser = DefaultAdminUser
	}
	if o.NFSPort == 0 {
		o.NFSPort = DefaultNFSPort
	}
	for _, d := range []*time.Duration{&o.PodWait, &o.NFSWait, &o.BindWait, &o.Poll} {
		if *d < 0 {
			return bad("negative wait %s", *d)
		}
	}
	if o.PodWait == 0 {
		o.PodWait = DefaultPodWait
	}
	if o.NFSWait == 0 {
		o.NFSWait = DefaultNFSWait
	}
	if o.BindWait == 0 {
		o.BindWait = DefaultBindWait
	}
	if o.Poll == 0 {
		o.Poll = DefaultPoll
	}
	if o.ClusterCfgDir == "" || o.Kubeconfig == "" {
		deploy, err := paiDeployDir()
		if err != nil {
			return o, err
		}
		if o.ClusterCfgDir == "" {
			o.ClusterCfgDir = filepath.Join(deploy, pai.ClusterCfgDir)
		}
		if o.Kubeconfig == "" {
			o.Kubeconfig = filepath.Join(deploy, filepath.FromSlash(pai.KubeconfigFile))
		}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case o.Node == "":
		return bad("the storage node is required (a worker's hostname in layout.yaml)")
	case !hostname.MatchString(o.Node):
		return bad("storage node %q is not a layout.yaml hostname", o.Node)
	case !safePath.MatchString(o.SharePath) || path.Clean(o.SharePath) != o.SharePath:
		return bad("share path %q is not a clean absolute path of letters, digits and ._+-/", o.SharePath)
	case !safePath.MatchString(o.NFSPath) || path.Clean(o.NFSPath) != o.NFSPath:
		return bad("nfs path %q is not a clean absolute path of letters, digits and ._+-/", o.NFSPath)
	case len(o.Name) > 60 || !dnsName.MatchString(o.Name):
		return bad("storage name %q is not a valid Kubernetes name (lower-case letters, digits and '-', at most 60)", o.Name)
	case o.NFSPort < 1 || o.NFSPort > 65535:
		return bad("nfs port %d is out of range", o.NFSPort)
	}
	for _, g := range o.Groups {
		if !groupName.MatchString(g) {
			return bad("group %q is not an OpenPAI group name (letters, digits and _)", g)
		}
	}
	if o.RestServer != "" {
		if !strings.HasPrefix(o.RestServer, "http://") && !strings.HasPrefix(o.RestServer, "https://") {
			return bad("rest-server %q is not an http:// or https:// URL", o.RestServer)
		}
		o.RestServer = strings.TrimRight(o.RestServer, "/")
	}
	return o, nil
}

// setup is one run of Setup.
type setup struct {
	opts     Options
	log      *slog.Logger
	res      *Result
	machines []Machine
	node     Machine // the storage node
	master   Machine
	kube     *kube.Client
	// configChanged says the configure step changed a file.
	configChanged bool
}

// Setup makes OpenPAI's NFS storage ready, as the seed guide's 存储设置
// does by hand, in six steps (see the package documentation). Each step
// first looks whether its work is done and changes only what is not, so a
// second run changes nothing and a run after a failure resumes.
//
// Errors are a *StepError naming the step, with a hint; the Result then
// holds the steps done before it. Options errors wrap ErrInvalidOptions and
// come before anything is done.
func Setup(ctx context.Context, opts Options) (*Result, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	s := &setup{opts: opts, log: opts.Logger, res: &Result{}}
	sequence := []struct {
		name string
		run  func(context.Context) (bool, string, error)
	}{
		{StepCheck, s.check},
		{StepConfigure, s.configure},
		{StepRestart, s.restart},
		{StepVolume, s.volume},
		{StepGrant, s.grant},
		{StepInstructions, s.instructions},
	}
	for _, st := range sequence {
		s.report(steps.Event{Step: st.name, Kind: steps.Started, Text: stepTitles[st.name]})
		changed, detail, err := st.run(ctx)
		if err != nil {
			se := s.stepError(st.name, err)
			s.report(steps.Event{Step: st.name, Kind: steps.Failed, Err: se.Err})
			return s.res, se
		}
		s.res.Steps = append(s.res.Steps, StepResult{Step: st.name, Changed: changed, Detail: detail})
		s.log.Debug("storage step done", "step", st.name, "changed", changed)
		s.report(steps.Event{Step: st.name, Kind: steps.Done, Changed: changed, Text: detail})
	}
	return s.res, nil
}

func (s *setup) report(e steps.Event) {
	e.N, e.Total = stepNumber(e.Step), len(Steps)
	if s.opts.Report != nil {
		s.opts.Report(e)
	}
}

func (s *setup) status(step, format string, args ...any) {
	s.report(steps.Event{Step: step, Kind: steps.Status, Text: fmt.Sprintf(format, args...)})
}

// stepError wraps err as the step's *StepError, with a hint for the
// errors Setup knows.
func (s *setup) stepError(step string, err error) *StepError {
	var se *StepError
	if errors.As(err, &se) {
		return se
	}
	e := &StepError{Step: step, Err: err}
	var (
		mp *MissingPackageError
		ce *kube.ConflictError
		pe *PaictlError
		le *pai.LayoutError
		nb *kube.NotBoundError
		ae *kube.APIError
	)
	layout := filepath.Join(s.opts.ClusterCfgDir, pai.LayoutName)
	switch {
	case errors.As(err, &mp):
		e.Hint = "install it on those workers (sudo apt-get install -y nfs-common; offline: from the Ubuntu install media or a local apt mirror), make sure they can be reached over SSH, and run again"
	case errors.Is(err, ErrNoSuchNode), errors.Is(err, ErrNotWorker):
		e.Hint = "choose one of the workers of " + layout + ": " + strings.Join(s.workerNames(), ", ")
	case errors.As(err, &le):
		e.Hint = "fix " + layout + " (it must be the layout the cluster was installed with) and run again"
	case errors.Is(err, ErrEdit):
		e.Hint = "make the change by hand as the seed guide shows (pai-storage: \"true\" on the node in layout.yaml; storage-manager: with localpath: in services-configuration.yaml), then run again: Setup sees it is done"
	case errors.Is(err, errKubeconfig):
		e.Hint = "Setup reaches the cluster with the kubeconfig pai's quick-start leaves in ~/pai-deploy/kube/config; point it at that file (--kubeconfig)"
	case errors.As(err, &ae):
		e.Hint = "the Kubernetes API server refused a request: check the cluster (kubectl --kubeconfig " + shell.Word(s.opts.Kubeconfig) + " get nodes) and that the kubeconfig is the cluster admin's"
	case errors.Is(err, ErrNoDevBox):
		e.Hint = "start the dev-box container as the guide's 服务管理 does (docker run -itd ... --name=" + DefaultContainer + " openpai/dev-box:v1.8.0 with ~/pai-deploy/cluster-cfg, ~/pai-deploy/kube and the pai checkout mounted), or let paimirror create it by giving it the dev-box image"
	case errors.Is(err, ErrClusterID):
		e.Hint = "run ./paictl.py config get-id in the dev-box container to see what is wrong"
	case errors.As(err, &pe):
		e.Hint = "see paictl's output above; once the cause is fixed, run again (the configuration is already edited and kept)"
	case errors.As(err, &ce):
		e.Hint = "run again with recreate (--recreate) to delete and recreate both (the data on the share is kept), or choose another storage name"
	case errors.As(err, &nb):
		e.Hint = "the claim did not bind: check the volume with kubectl describe pv " + s.opts.Name + "-pv and the claim with kubectl describe pvc " + s.opts.Name
	case errors.Is(err, ErrNotAdmin):
		e.Hint = "log in as an OpenPAI admin (admin user and its password; the default admin is admin)"
	case errors.Is(err, ErrLogin):
		e.Hint = "check the admin user and password (the password of " + s.opts.AdminUser + " as set in the web portal; the default is admin-password)"
	case errors.Is(err, ErrNoGroup):
		e.Hint = "create the group in the web portal's user management first, or leave it out of the groups"
	case errors.Is(err, ErrUnauthorized):
		e.Hint = "the rest-server did not accept the login's token; log in again by running again"
	}
	return e
}

func (s *setup) workerNames() []string {
	var names []string
	for _, m := range s.machines {
		if m.Worker && !m.Master {
			names = append(names, m.Hostname)
		}
	}
	return names
}

// check is step 1: NODE is a worker of layout.yaml, the files paictl pushes
// are there, and every worker has nfs-common.
func (s *setup) check(ctx context.Context) (bool, string, error) {
	layoutPath := filepath.Join(s.opts.ClusterCfgDir, pai.LayoutName)
	data, err := os.ReadFile(layoutPath)
	if err != nil {
		return false, "", fmt.Errorf("reading the cluster's layout: %w (is %s the ~/pai-deploy/cluster-cfg of the install?)", err, s.opts.ClusterCfgDir)
	}
	s.machines, err = parseMachines(data, layoutPath)
	if err != nil {
		return false, "", err
	}
	if s.node, s.master, err = locate(s.machines, s.opts.Node, layoutPath); err != nil {
		return false, "", err
	}
	for _, f := range []string{pai.ConfigName, pai.LayoutName, pai.ServicesName} {
		if _, err := os.Stat(filepath.Join(s.opts.ClusterCfgDir, f)); err != nil {
			return false, "", fmt.Errorf("paictl config push needs %s in %s: %w", f, s.opts.ClusterCfgDir, err)
		}
	}

	var workers []Machine
	for _, m := range s.machines {
		if m.Worker && !m.Master {
			workers = append(workers, m)
		}
	}
	r := s.opts.Runner
	if r == nil {
		if r, err = s.sshRunner(); err != nil {
			return false, "", err
		}
	}
	s.status(StepCheck, "checking %s on %d workers", nfsCommon, len(workers))
	if err := checkPackage(ctx, r, workers, nfsCommon); err != nil {
		return false, "", err
	}
	return false, fmt.Sprintf("%s is a worker (%s); %s is installed on every worker", s.node.Hostname, s.node.IP, nfsCommon), nil
}

// locate finds the storage node and the master among the machines of
// layoutPath; the node must be a worker.
func locate(machines []Machine, node, layoutPath string) (found, master Machine, err error) {
	ok := false
	for _, m := range machines {
		if m.Master {
			master = m
		}
		if m.Hostname == node {
			found, ok = m, true
		}
	}
	switch {
	case !ok:
		return found, master, fmt.Errorf("storage node %s: %w %s", node, ErrNoSuchNode, layoutPath)
	case found.Master:
		return found, master, fmt.Errorf("storage node %s is the master: %w (the guide: the storage server must be a worker)", node, ErrNotWorker)
	case !found.Worker:
		return found, master, fmt.Errorf("storage node %s: %w (no pai-worker: \"true\")", node, ErrNotWorker)
	}
	return found, master, nil
}

// sshRunner builds the default Runner from config.yaml.
func (s *setup) sshRunner() (Runner, error) {
	cfgPath := filepath.Join(s.opts.ClusterCfgDir, pai.ConfigName)
	c, err := pai.ReadConfig(cfgPath)
	if err != nil {
		return nil, fmt.Errorf("the workers' SSH login: %w", err)
	}
	if err := c.CheckLogin(); err != nil {
		return nil, fmt.Errorf("%s: %w", cfgPath, err)
	}
	known := s.opts.KnownHosts
	if known == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("finding ~/.paimirror/known_hosts: %w", err)
		}
		known = filepath.Join(home, ".paimirror", "known_hosts")
	}
	keys, err := nodes.OpenHostKeys(known)
	if err != nil {
		return nil, err
	}
	return &SSHRunner{
		Auth:     nodes.Auth{User: c.User, Password: c.Password, KeyFile: c.SSHKeyFile},
		HostKeys: keys,
		Dial:     nodes.DialOptions{Logger: s.log},
	}, nil
}

// configure is step 2: pai-storage on NODE in layout.yaml, storage-manager
// enabled with localpath in services-configuration.yaml.
func (s *setup) configure(ctx context.Context) (bool, string, error) {
	var done []string
	for _, f := range []struct {
		name string
		edit func([]byte) ([]byte, bool, error)
		what string
	}{
		{pai.LayoutName, func(b []byte) ([]byte, bool, error) { return markStorage(b, s.node.Hostname) },
			fmt.Sprintf(`%s: pai-storage: "true" on %s`, pai.LayoutName, s.node.Hostname)},
		{pai.ServicesName, func(b []byte) ([]byte, bool, error) { return enableStorageManager(b, s.opts.SharePath) },
			fmt.Sprintf("%s: storage-manager localpath %s", pai.ServicesName, s.opts.SharePath)},
	} {
		p := filepath.Join(s.opts.ClusterCfgDir, f.name)
		changed, err := editFile(p, f.edit)
		if err != nil {
			return len(done) > 0, strings.Join(done, "; "), fmt.Errorf("%s: %w", p, err)
		}
		if changed {
			s.log.Debug("edited", "file", p)
			done = append(done, f.what)
		}
	}
	s.configChanged = len(done) > 0
	if !s.configChanged {
		return false, fmt.Sprintf("%s is marked pai-storage and storage-manager shares %s already", s.node.Hostname, s.opts.SharePath), nil
	}
	return true, strings.Join(done, "; "), nil
}

// editFile applies edit to the file at p: the original is kept once as
// p.paimirror-orig, and the new content replaces the file atomically
// (temporary file, rename), with the same permissions.
func editFile(p string, edit func([]byte) ([]byte, bool, error)) (bool, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return false, err
	}
	out, changed, err := edit(data)
	if err != nil || !changed {
		return false, err
	}
	fi, err := os.Stat(p)
	if err != nil {
		return false, err
	}
	orig := p + pai.OrigSuffix
	if _, err := os.Lstat(orig); errors.Is(err, fs.ErrNotExist) {
		if err := atomicfile.WriteFile(orig, data, fi.Mode().Perm()); err != nil {
			return false, fmt.Errorf("keeping the original: %w", err)
		}
	} else if err != nil {
		return false, err
	}
	if err := atomicfile.WriteFile(p, out, fi.Mode().Perm()); err != nil {
		return false, err
	}
	return true, nil
}

// errKubeconfig marks a kubeconfig that cannot be used.
var errKubeconfig = errors.New("kubeconfig")

// kubeClient connects to the cluster's API server, once.
func (s *setup) kubeClient() (*kube.Client, error) {
	if s.kube != nil {
		return s.kube, nil
	}
	cfg, err := kube.LoadConfig(s.opts.Kubeconfig, kube.ConfigOptions{})
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errKubeconfig, err)
	}
	c, err := kube.New(cfg, kube.WithLogger(s.log), kube.WithPollInterval(min(s.opts.Poll, time.Second)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", errKubeconfig, err)
	}
	s.kube = c
	return c, nil
}

// storagePod returns the running storage-manager pod on NODE that shares
// SharePath, or nil, and says what it found otherwise.
func (s *setup) storagePod(ctx context.Context) (*kube.Pod, string, error) {
	pods, err := s.kube.ListPods(ctx, storageManagerNS)
	if err != nil {
		return nil, "", err
	}
	found := "no storage-manager pod on " + s.node.Hostname
	for i := range pods {
		p := &pods[i]
		if p.Metadata.Labels["app"] != storageManagerApp || p.Spec.NodeName != s.node.Hostname {
			continue
		}
		if p.Metadata.DeletionTimestamp != nil {
			found = fmt.Sprintf("storage-manager pod %s on %s is being deleted", p.Metadata.Name, s.node.Hostname)
			continue
		}
		if lp, ok := p.Metadata.Annotations["localpath"]; ok && lp != s.opts.SharePath {
			found = fmt.Sprintf("storage-manager pod %s on %s shares %s, not %s", p.Metadata.Name, s.node.Hostname, lp, s.opts.SharePath)
			continue
		}
		if p.Status.Phase != "Running" {
			found = fmt.Sprintf("storage-manager pod %s on %s is %s", p.Metadata.Name, s.node.Hostname, strings.ToLower(cmpOr(p.Status.Phase, "Pending")))
			continue
		}
		return p, "", nil
	}
	return nil, found, nil
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// restart is step 3: paictl stops, pushes and starts cluster-configuration
// and storage-manager when the configuration changed or storage-manager
// does not run on NODE; then it waits for the pod and for NFS.
func (s *setup) restart(ctx context.Context) (bool, string, error) {
	if _, err := s.kubeClient(); err != nil {
		return false, "", err
	}
	pod, why, err := s.storagePod(ctx)
	if err != nil {
		return false, "", err
	}
	changed := false
	if s.configChanged || pod == nil {
		reason := why
		if s.configChanged {
			reason = "the configuration changed"
		}
		s.log.Debug("restarting storage-manager", "why", reason)
		if err := s.paictlRestart(ctx); err != nil {
			return false, "", err
		}
		changed = true
	}
	s.status(StepRestart, "waiting for storage-manager to run on %s", s.node.Hostname)
	if err := s.waitPod(ctx); err != nil {
		return changed, "", err
	}
	addr := net.JoinHostPort(s.node.IP, strconv.Itoa(s.opts.NFSPort))
	s.status(StepRestart, "waiting for NFS at %s", addr)
	if err := s.waitNFS(ctx, addr); err != nil {
		return changed, "", err
	}
	if changed {
		return true, fmt.Sprintf("paictl restarted cluster-configuration and storage-manager; NFS answers at %s", addr), nil
	}
	return false, fmt.Sprintf("storage-manager runs on %s and NFS answers at %s", s.node.Hostname, addr), nil
}

// paictlRestart runs the guide's three paictl commands in the dev-box
// container, answering the cluster-id prompt of each.
func (s *setup) paictlRestart(ctx context.Context) error {
	s.status(StepRestart, "reading the cluster-id")
	id, set, err := s.clusterID(ctx)
	if err != nil {
		return err
	}
	if set {
		s.status(StepRestart, "stopping cluster-configuration and storage-manager")
		if err := s.paictl(ctx, id, "service", "stop", "-n", "cluster-configuration", storageManagerApp); err != nil {
			return err
		}
	}
	// Not set: nothing was pushed yet, so nothing runs from it; the push
	// sets it from services-configuration.yaml.
	s.status(StepRestart, "pushing the configuration")
	if err := s.paictl(ctx, id, "config", "push", "-p", "/cluster-configuration", "-m", "service"); err != nil {
		return err
	}
	s.status(StepRestart, "starting cluster-configuration and storage-manager")
	return s.paictl(ctx, id, "service", "start", "-n", "cluster-configuration", storageManagerApp)
}

// clusterID asks paictl for the cluster-id stored in the cluster (the
// pai-cluster-id ConfigMap). When none is stored, the answer paictl's push
// will expect is services-configuration.yaml's cluster.common.cluster-id.
func (s *setup) clusterID(ctx context.Context) (id string, set bool, err error) {
	var out bytes.Buffer
	args := []string{"./paictl.py", "config", "get-id"}
	t := &tail{max: 20}
	if err := s.opts.DevBox.Exec(ctx, args, nil, io.MultiWriter(&out, t, s.opts.Output)); err != nil {
		return "", false, &PaictlError{Args: args, Err: err, LastLines: t.Lines()}
	}
	if m := cidLine.FindSubmatch(out.Bytes()); m != nil {
		return string(m[1]), true, nil
	}
	if cidUnset.Match(out.Bytes()) {
		data, err := os.ReadFile(filepath.Join(s.opts.ClusterCfgDir, pai.ServicesName))
		if err != nil {
			return "", false, err
		}
		return clusterID(data), false, nil
	}
	return "", false, &PaictlError{Args: args, Err: ErrClusterID, LastLines: t.Lines()}
}

// paictl runs ./paictl.py args in the dev-box container with the
// cluster-id as the answer to its prompt ("Please input the cluster-id
// which you wanna operate: ", asked once by config push, service stop
// and service start), as pai's start-service-in-dev-box.sh feeds it.
func (s *setup) paictl(ctx context.Context, clusterID string, args ...string) error {
	full := append([]string{"./paictl.py"}, args...)
	t := &tail{max: 20}
	s.log.Debug("paictl", "args", strings.Join(full, " "))
	err := s.opts.DevBox.Exec(ctx, full, strings.NewReader(clusterID+"\n"), io.MultiWriter(t, s.opts.Output))
	if err != nil {
		return &PaictlError{Args: full, Err: err, LastLines: t.Lines()}
	}
	return nil
}

// waitPod waits until storage-manager runs on NODE.
func (s *setup) waitPod(ctx context.Context) error {
	wctx, cancel := context.WithTimeout(ctx, s.opts.PodWait)
	defer cancel()
	tick := time.NewTicker(s.opts.Poll)
	defer tick.Stop()
	last := "no answer from the API server"
	for {
		pod, why, err := s.storagePod(wctx)
		switch {
		case err == nil && pod != nil:
			return nil
		case err == nil:
			last = why
		case wctx.Err() == nil:
			s.log.Debug("listing pods", "err", err)
			last = err.Error()
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("storage-manager did not run on %s within %s: %s (kubectl describe pod -l app=storage-manager tells why)", s.node.Hostname, s.opts.PodWait, last)
		case <-tick.C:
		}
	}
}

// waitNFS waits until something accepts TCP connections at addr.
func (s *setup) waitNFS(ctx context.Context, addr string) error {
	wctx, cancel := context.WithTimeout(ctx, s.opts.NFSWait)
	defer cancel()
	tick := time.NewTicker(s.opts.Poll)
	defer tick.Stop()
	var d net.Dialer
	for {
		dctx, dcancel := context.WithTimeout(wctx, 5*time.Second)
		c, err := d.DialContext(dctx, "tcp", addr)
		dcancel()
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("nfs at %s did not answer within %s: %v (storage-manager's log: kubectl logs -l app=storage-manager)", addr, s.opts.NFSWait, err)
		case <-tick.C:
		}
	}
}

// volume is step 4: the persistent volume and claim, bound.
func (s *setup) volume(ctx context.Context) (bool, string, error) {
	c, err := s.kubeClient()
	if err != nil {
		return false, "", err
	}
	v := nfsVolume(s.opts, s.node)
	s.status(StepVolume, "persistent volume %s and claim %s/%s", v.Name, kube.ClaimNamespace, v.Claim)
	out, err := kube.EnsureNFS(ctx, c, v, s.opts.Recreate)
	if err != nil {
		return out != kube.Unchanged, "", err
	}
	mode := "read-only"
	if s.opts.ReadWrite {
		mode = "read-write"
	}
	detail := fmt.Sprintf("volume %s (%s:%s, %s) and claim %s/%s %s, bound", v.Name, v.Server, v.Path, mode, kube.ClaimNamespace, v.Claim, out)
	return out != kube.Unchanged, detail, nil
}

// nfsVolume is the persistent volume and claim of the storage on node.
func nfsVolume(o Options, node Machine) kube.NFSVolume {
	return kube.NFSVolume{
		Name: o.Name + "-pv", Claim: o.Name, Label: o.Name,
		Server: node.IP, Path: o.NFSPath,
		ReadOnly: !o.ReadWrite, MountOptions: []string{"nfsvers=4.1"},
		BindTimeout: o.BindWait,
	}
}

// restServer is the rest-server's base URL: o.RestServer, else through
// pylon on the master.
func restServer(o Options, master Machine) string {
	if o.RestServer != "" {
		return o.RestServer
	}
	return "http://" + master.IP + "/rest-server"
}

// grant is step 5: every group may use the storage.
func (s *setup) grant(ctx context.Context) (bool, string, error) {
	base := restServer(s.opts, s.master)
	c := &restClient{base: base, http: s.opts.HTTPClient, log: s.log, user: s.opts.AdminUser, password: s.opts.AdminPassword}
	s.status(StepGrant, "logging in to the rest-server at %s as %s", base, s.opts.AdminUser)
	if err := c.login(ctx); err != nil {
		return false, "", err
	}
	var granted, had []string
	for _, g := range s.opts.Groups {
		s.status(StepGrant, "group %s", g)
		wrote, err := c.grant(ctx, g, s.opts.Name)
		if wrote {
			granted = append(granted, g)
		}
		if err != nil {
			return len(granted) > 0, "", fmt.Errorf("granting %s to group %s: %w", s.opts.Name, g, err)
		}
		if !wrote {
			had = append(had, g)
		}
	}
	var parts []string
	if len(granted) > 0 {
		parts = append(parts, fmt.Sprintf("granted %s to %s", s.opts.Name, strings.Join(granted, ", ")))
	}
	if len(had) > 0 {
		parts = append(parts, fmt.Sprintf("%s already had %s", strings.Join(had, ", "), s.opts.Name))
	}
	return len(granted) > 0, strings.Join(parts, "; "), nil
}

// instructions is step 6: how to put data on the share.
func (s *setup) instructions(context.Context) (bool, string, error) {
	s.res.Server, s.res.Path = s.node.IP, s.opts.NFSPath
	s.res.HostPath = path.Join(s.opts.SharePath, s.opts.NFSPath)
	s.res.Instructions = mountInstructions(s.node.IP, s.opts.NFSPath, s.res.HostPath, s.node.Hostname, s.opts.Name, s.opts.Groups, s.opts.ReadWrite)
	return false, "mount " + s.node.IP + ":" + s.opts.NFSPath + " from a workstation to add data", nil
}

// mountInstructions is the guide's 本地管理存储 with the real server and
// path.
func mountInstructions(ip, nfsPath, hostPath, node, name string, groups []string, readWrite bool) string {
	var b strings.Builder
	mode := "read-only"
	if readWrite {
		mode = "read-write"
	}
	fmt.Fprintf(&b, "Storage %s is ready: jobs of group %s can mount it (%s in the cluster).\n", name, strings.Join(groups, ", "), mode)
	fmt.Fprintf(&b, "To add or change data, mount the share on a workstation:\n\n")
	fmt.Fprintf(&b, "  sudo apt-get install -y nfs-common\n")
	fmt.Fprintf(&b, "  sudo mkdir -p /mnt/nfsData\n")
	fmt.Fprintf(&b, "  sudo mount -t nfs4 %s:%s /mnt/nfsData\n", ip, nfsPath)
	fmt.Fprintf(&b, "  cp -r <local_data_dir> /mnt/nfsData/<subPath>\n\n")
	fmt.Fprintf(&b, "The files are in %s on %s.\n", hostPath, node)
	return b.String()
}
