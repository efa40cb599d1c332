package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paimirror/paimirror/installer/kube"
	"github.com/paimirror/paimirror/installer/kube/kubetest"
	"github.com/paimirror/paimirror/installer/steps"
)

// The cluster configuration of the tests, in the shapes pai leaves in
// ~/pai-deploy/cluster-cfg: the user's layout.yaml and config.yaml as
// quick-start-service.sh copies them, and services-configuration.yaml as
// openpai_generator.py writes it (storage-manager commented out).
const (
	testConfig = `user: pai
password: ssh-password
docker_image_tag: v1.8.0
`
	testServices = `cluster:
  common:
    cluster-id: pai
    cluster-type: k8s
  docker-registry:
    namespace: openpai
    domain: docker.io
    tag: v1.8.0
    secret-name: pai-secret

rest-server:
  default-pai-admin-username: admin
  default-pai-admin-password: admin-password

webportal:
  server-port: 9286

# to change storage-manager's settings, uncomment this
# storage-manager:
#  localpath: /share
#  security-type: AUTO
#  workgroup: WORKGROUP
#  smbuser: smbuser
#  smbpwd: smbpwd
`
	testPassword = `admin "pw" <&> \ secret`
)

// testLayout is a layout.yaml whose storage candidate (storage) is at
// 127.0.0.1, where the tests' NFS stand-in listens.
func testLayout(storage string) string {
	return fmt.Sprintf(`machine-sku:
  master-machine:
    mem: 60Gi
    cpu:
      vcore: 24
  gpu-machine:
    computing-device:
      type: nvidia.com/gpu
      model: K80
      count: 4
    mem: 220Gi
    cpu:
      vcore: 24

machine-list:
  - hostname: pai-master
    hostip: 10.99.0.1
    machine-type: master-machine
    pai-master: "true"

  - hostname: %s
    hostip: 127.0.0.1
    machine-type: gpu-machine
    pai-worker: "true"

  - hostname: pai-worker9
    hostip: 10.99.0.9
    machine-type: gpu-machine
    pai-worker: "true"
`, storage)
}

// writeClusterCfg writes a cluster configuration directory.
func writeClusterCfg(t *testing.T, layout, services string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range map[string]string{"config.yaml": testConfig, "layout.yaml": layout, "services-configuration.yaml": services} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// fakeRunner answers dpkg-query for each machine from a table.
type fakeRunner struct {
	mu      sync.Mutex
	answers map[string]fakeAnswer // hostname -> answer; default installed
	calls   []string              // "hostname: cmd"
}

type fakeAnswer struct {
	out    string
	status int
	err    error
}

func (r *fakeRunner) Run(ctx context.Context, m Machine, cmd string) ([]byte, int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, m.Hostname+": "+cmd)
	a, ok := r.answers[m.Hostname]
	if !ok {
		a = fakeAnswer{out: "install ok installed\n"}
	}
	return []byte(a.out), a.status, a.err
}

// nfsStandIn listens where the storage node's NFS would and returns its
// port; the listener closes when the test ends.
func nfsStandIn(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}

// closedPort returns a loopback port nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// recorder keeps Setup's events and log records.
type recorder struct {
	mu     sync.Mutex
	events []steps.Event
	logs   bytes.Buffer
	output bytes.Buffer
}

func (r *recorder) report(e steps.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) take() []steps.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.events
	r.events = nil
	return e
}

// env is one test cluster: the API server, the rest-server stand-in, the
// docker double and the NFS stand-in.
type env struct {
	cluster    *kubetest.Cluster
	kube       *kube.Client
	kubeconfig string
	rest       *fakeRest
	restURL    string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	cluster := kubetest.Start(t, kubetest.Options{})
	kc := cluster.Kubeconfig(t, kubetest.AuthToken)
	cfg, err := kube.LoadConfig(kc, kube.ConfigOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := kube.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rest, srv := newFakeRest(t)
	rest.users["admin"] = fakeUser{testPassword, true}
	rest.group("default", `{"storageConfigs":[],"admin":false,"virtualClusters":["default"]}`)
	rest.group("vc1", `{"storageConfigs":["team-nfs"],"admin":false,"virtualClusters":["vc1"]}`)
	return &env{cluster: cluster, kube: c, kubeconfig: kc, rest: rest, restURL: srv.URL + restPrefix}
}

// options returns Options for a run against e.
func (e *env) options(cfgDir, node, name string, nfsPort int, rec *recorder) Options {
	return Options{
		Node:          node,
		Name:          name,
		ClusterCfgDir: cfgDir,
		Kubeconfig:    e.kubeconfig,
		RestServer:    e.restURL,
		AdminPassword: testPassword,
		Runner:        &fakeRunner{},
		NFSPort:       nfsPort,
		Poll:          100 * time.Millisecond,
		PodWait:       20 * time.Second,
		NFSWait:       5 * time.Second,
		BindWait:      30 * time.Second,
		Logger:        slog.New(slog.NewTextHandler(&rec.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Report:        rec.report,
		Output:        &rec.output,
	}
}

func (e *env) dockerState(cfgDir string) dockerState {
	return dockerState{Container: DefaultContainer, State: "running", ClusterID: "pai-lab", CfgDir: cfgDir,
		API: e.cluster.URL, Token: e.cluster.AdminToken, CA: e.cluster.CA}
}

// changes lists the steps a result says changed something.
func changes(r *Result) []string {
	var out []string
	for _, s := range r.Steps {
		if s.Changed {
			out = append(out, s.Step)
		}
	}
	return out
}

// paictlCall is a docker call that runs paictl in the dev-box container.
func paictlCall(stdin string, args ...string) dockerCall {
	return dockerCall{Args: append([]string{"exec", "-i", "-w", "/mnt/pai", DefaultContainer, "./paictl.py"}, args...), Stdin: stdin}
}

var (
	inspectCall = dockerCall{Args: []string{"inspect", "--format", "{{.State.Running}}", DefaultContainer}}
	getIDCall   = paictlCall("", "config", "get-id")
	stopCall    = func(id string) dockerCall {
		return paictlCall(id+"\n", "service", "stop", "-n", "cluster-configuration", "storage-manager")
	}
	pushCall = func(id string) dockerCall {
		return paictlCall(id+"\n", "config", "push", "-p", "/cluster-configuration", "-m", "service")
	}
	startCall = func(id string) dockerCall {
		return paictlCall(id+"\n", "service", "start", "-n", "cluster-configuration", "storage-manager")
	}
)

func checkCalls(t *testing.T, got []dockerCall, want ...dockerCall) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("docker calls:\n%s\nwant:\n%s", fmtCalls(got), fmtCalls(want))
	}
	for i := range want {
		if !slices.Equal(got[i].Args, want[i].Args) || got[i].Stdin != want[i].Stdin {
			t.Fatalf("docker call %d: %q stdin %q\nwant %q stdin %q", i, got[i].Args, got[i].Stdin, want[i].Args, want[i].Stdin)
		}
	}
}

func fmtCalls(calls []dockerCall) string {
	var b strings.Builder
	for _, c := range calls {
		fmt.Fprintf(&b, "  docker %s  <<< %q\n", c, c.Stdin)
	}
	return b.String()
}

// noSecrets fails when the admin password or a token the rest-server
// handed out shows in any of texts.
func noSecrets(t *testing.T, rest *fakeRest, texts ...string) {
	t.Helper()
	secrets := []string{testPassword, jsonInner(testPassword)}
	rest.mu.Lock()
	for tok := range rest.tokens {
		secrets = append(secrets, tok)
	}
	rest.mu.Unlock()
	for _, s := range texts {
		for _, secret := range secrets {
			if strings.Contains(s, secret) {
				t.Errorf("a secret (%.3s...) shows in %q", secret, s)
			}
		}
	}
}

func eventTexts(events []steps.Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Text)
		if e.Err != nil {
			out = append(out, e.Err.Error())
		}
	}
	return out
}

// TestSetup runs Setup end to end against a real API server with the
// persistent-volume binder, the docker double standing in for the dev-box
// container and paictl, the rest-server stand-in and a TCP listener
// standing in for the storage node's NFS port.
func TestSetup(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()

	t.Run("from no storage to granted, then nothing to do", func(t *testing.T) {
		cfg := writeClusterCfg(t, testLayout("worker1"), testServices)
		dd := fakeDockerDir(t, e.dockerState(cfg))
		rec := &recorder{}
		opts := e.options(cfg, "worker1", "", nfsStandIn(t), rec)
		opts.Groups = []string{"default", "vc1"}

		res, err := Setup(ctx, opts)
		if err != nil {
			t.Fatalf("first run: %v", err)
		}
		if got, want := changes(res), []string{StepConfigure, StepRestart, StepVolume, StepGrant}; !slices.Equal(got, want) {
			t.Errorf("first run changed %v, want %v", got, want)
		}
		// Step 3 through the docker double: the guide's commands, each
		// answered with the id get-id reported.
		checkCalls(t, dockerCalls(t, dd), inspectCall, getIDCall, stopCall("pai-lab"), pushCall("pai-lab"), startCall("pai-lab"))
		if out := rec.output.String(); strings.Count(out, ClusterIDPrompt) != 3 || !strings.Contains(out, "Cluster-id is: pai-lab") {
			t.Errorf("paictl output:\n%s", out)
		}
		// Step 2: the files, edited, originals kept.
		layout, _ := os.ReadFile(filepath.Join(cfg, "layout.yaml"))
		wantLayout := strings.Replace(testLayout("worker1"), "    hostip: 127.0.0.1\n    machine-type: gpu-machine\n    pai-worker: \"true\"\n",
			"    hostip: 127.0.0.1\n    machine-type: gpu-machine\n    pai-worker: \"true\"\n    pai-storage: \"true\"\n", 1)
		if string(layout) != wantLayout {
			t.Errorf("layout.yaml:\n%s", layout)
		}
		services, _ := os.ReadFile(filepath.Join(cfg, "services-configuration.yaml"))
		if want := strings.Replace(testServices, "# storage-manager:\n#  localpath: /share\n", "storage-manager:\n  localpath: /share\n", 1); string(services) != want {
			t.Errorf("services-configuration.yaml:\n%s", services)
		}
		for name, want := range map[string]string{"layout.yaml": testLayout("worker1"), "services-configuration.yaml": testServices} {
			if b, err := os.ReadFile(filepath.Join(cfg, name+".paimirror-orig")); err != nil || string(b) != want {
				t.Errorf("%s.paimirror-orig: %v\n%s", name, err, b)
			}
		}
		// Step 4: the volume and the claim, bound, as the guide writes them.
		pv, err := e.kube.GetPersistentVolume(ctx, "nfs-storage-pv")
		if err != nil {
			t.Fatal(err)
		}
		if nfs := pv.Spec.NFS; nfs == nil || nfs.Server != "127.0.0.1" || nfs.Path != "/data" || !nfs.ReadOnly ||
			!slices.Equal(pv.Spec.MountOptions, []string{"nfsvers=4.1"}) || pv.Spec.PersistentVolumeReclaimPolicy != "Retain" ||
			!slices.Equal(pv.Spec.AccessModes, []string{"ReadWriteMany"}) || pv.Metadata.Labels["name"] != "nfs-storage" {
			t.Errorf("volume: %+v %+v", pv.Metadata, pv.Spec)
		}
		pvc, err := e.kube.GetPersistentVolumeClaim(ctx, "default", "nfs-storage")
		if err != nil || pvc.Status.Phase != "Bound" || pvc.Spec.VolumeName != "nfs-storage-pv" {
			t.Fatalf("claim: %+v %v", pvc, err)
		}
		// Step 5: both groups granted, their other acls kept.
		if got := e.rest.acls("default"); got != `{"admin":false,"storageConfigs":["nfs-storage"],"virtualClusters":["default"]}` {
			t.Errorf("default's acls: %s", got)
		}
		if got := e.rest.acls("vc1"); got != `{"admin":false,"storageConfigs":["team-nfs","nfs-storage"],"virtualClusters":["vc1"]}` {
			t.Errorf("vc1's acls: %s", got)
		}
		var puts []string
		for _, r := range e.rest.requests() {
			if r.Method == http.MethodPut {
				puts = append(puts, r.Body)
			}
		}
		if want := []string{
			`{"data":{"groupname":"default","extension":{"acls":{"admin":false,"storageConfigs":["nfs-storage"],"virtualClusters":["default"]}}},"patch":true}`,
			`{"data":{"groupname":"vc1","extension":{"acls":{"admin":false,"storageConfigs":["team-nfs","nfs-storage"],"virtualClusters":["vc1"]}}},"patch":true}`,
		}; !slices.Equal(puts, want) {
			t.Errorf("PUT bodies:\n%s\nwant:\n%s", strings.Join(puts, "\n"), strings.Join(want, "\n"))
		}
		// Step 6.
		if res.Server != "127.0.0.1" || res.Path != "/data" || res.HostPath != "/share/data" ||
			!strings.Contains(res.Instructions, "sudo mount -t nfs4 127.0.0.1:/data /mnt/nfsData\n") ||
			!strings.Contains(res.Instructions, "sudo apt-get install -y nfs-common\n") ||
			!strings.Contains(res.Instructions, "sudo mkdir -p /mnt/nfsData\n") ||
			!strings.Contains(res.Instructions, "/share/data on worker1") {
			t.Errorf("result %+v\ninstructions:\n%s", res, res.Instructions)
		}
		// Progress: each step starts and ends, numbered.
		events := rec.take()
		var ends []string
		for _, ev := range events {
			if ev.N != stepNumber(ev.Step) || ev.N == 0 || ev.Total != len(Steps) {
				t.Errorf("event %+v: wrong number", ev)
			}
			if ev.Kind == steps.Done {
				ends = append(ends, fmt.Sprintf("%d %s %v", ev.N, ev.Step, ev.Changed))
			}
		}
		if want := []string{"1 check false", "2 configure true", "3 restart true", "4 volume true", "5 grant true", "6 instructions false"}; !slices.Equal(ends, want) {
			t.Errorf("done events %q, want %q", ends, want)
		}
		noSecrets(t, e.rest, append(eventTexts(events), rec.logs.String(), rec.output.String(), fmt.Sprintf("%+v", res))...)

		// A second run finds everything done and changes nothing.
		res, err = Setup(ctx, opts)
		if err != nil {
			t.Fatalf("second run: %v", err)
		}
		if got := changes(res); len(got) != 0 || res.Changed() {
			t.Errorf("second run changed %v", got)
		}
		checkCalls(t, dockerCalls(t, dd)) // no paictl, not even docker inspect
		if b, _ := os.ReadFile(filepath.Join(cfg, "layout.yaml")); string(b) != wantLayout {
			t.Error("second run changed layout.yaml")
		}
		for _, r := range e.rest.requests() {
			if r.Method == http.MethodPut {
				t.Errorf("second run wrote %s", r.Body)
			}
		}
		for _, ev := range rec.take() {
			if ev.Kind == steps.Done && ev.Changed {
				t.Errorf("second run reported %+v", ev)
			}
		}

		// Asked for read-write now: the volume differs, Setup stops and
		// says how; recreate replaces it.
		opts.ReadWrite = true
		_, err = Setup(ctx, opts)
		var se *StepError
		var ce *kube.ConflictError
		if !errors.As(err, &se) || se.Step != StepVolume || !errors.As(err, &ce) || !strings.Contains(se.Hint, "recreate") {
			t.Fatalf("read-write run: %v", err)
		}
		if !strings.Contains(err.Error(), "storage step 4 (volume): ") || !strings.Contains(err.Error(), "spec.nfs.readOnly") {
			t.Errorf("error %q", err)
		}
		if pv, _ := e.kube.GetPersistentVolume(ctx, "nfs-storage-pv"); pv == nil || !pv.Spec.NFS.ReadOnly {
			t.Error("the conflicting run changed the volume")
		}
		opts.Recreate = true
		res, err = Setup(ctx, opts)
		if err != nil {
			t.Fatalf("recreate run: %v", err)
		}
		if got := changes(res); !slices.Equal(got, []string{StepVolume}) || !strings.Contains(res.Steps[3].Detail, "recreated") {
			t.Errorf("recreate run changed %v (%q)", got, res.Steps[3].Detail)
		}
		if pv, _ := e.kube.GetPersistentVolume(ctx, "nfs-storage-pv"); pv == nil || pv.Spec.NFS.ReadOnly {
			t.Error("the volume is still read-only")
		}
		checkCalls(t, dockerCalls(t, dd))
		noSecrets(t, e.rest, rec.logs.String(), err2s(err))
	})

	t.Run("storage-manager runs elsewhere: paictl runs though the files are done", func(t *testing.T) {
		// The configuration was edited by an earlier run, but
		// storage-manager on the node shares another directory.
		layout, _, _ := markStorage([]byte(testLayout("worker2")), "worker2")
		services, _, _ := enableStorageManager([]byte(testServices), "/share")
		cfg := writeClusterCfg(t, string(layout), string(services))
		dd := fakeDockerDir(t, e.dockerState(cfg))
		for _, p := range []struct{ node, localpath string }{{"worker2", "/old"}, {"pai-worker9", "/share"}} {
			e.cluster.Request(t, http.MethodPost, "/api/v1/namespaces/default/pods", map[string]any{
				"metadata": map[string]any{"name": "storage-manager-ds-" + p.node, "labels": map[string]string{"app": "storage-manager"},
					"annotations": map[string]string{"localpath": p.localpath}},
				"spec": map[string]any{"nodeName": p.node, "containers": []map[string]any{{"name": "storage-manager", "image": "openpai/storage-manager:v1.8.0"}}},
			})
			e.cluster.Request(t, http.MethodPatch, "/api/v1/namespaces/default/pods/storage-manager-ds-"+p.node+"/status", `{"status":{"phase":"Running"}}`)
		}
		rec := &recorder{}
		res, err := Setup(ctx, e.options(cfg, "worker2", "nfs2", nfsStandIn(t), rec))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := changes(res), []string{StepRestart, StepVolume, StepGrant}; !slices.Equal(got, want) {
			t.Errorf("changed %v, want %v", got, want)
		}
		checkCalls(t, dockerCalls(t, dd), inspectCall, getIDCall, stopCall("pai-lab"), pushCall("pai-lab"), startCall("pai-lab"))
		if _, err := os.Stat(filepath.Join(cfg, "layout.yaml.paimirror-orig")); err == nil {
			t.Error("an original was kept though nothing was edited")
		}
	})

	t.Run("pod runs already: waits pass through the real API server", func(t *testing.T) {
		// The harness's pod, Running on the node, and NFS answering: the
		// restart step has nothing to do and runs no docker at all.
		layout, _, _ := markStorage([]byte(testLayout("worker3")), "worker3")
		services, _, _ := enableStorageManager([]byte(testServices), "/disk")
		cfg := writeClusterCfg(t, string(layout), string(services))
		dd := fakeDockerDir(t, e.dockerState(cfg))
		e.cluster.Request(t, http.MethodPost, "/api/v1/namespaces/default/pods", map[string]any{
			"metadata": map[string]any{"name": "storage-manager-ds-abcde", "labels": map[string]string{"app": "storage-manager"},
				"annotations": map[string]string{"localpath": "/disk"}},
			"spec": map[string]any{"nodeName": "worker3", "containers": []map[string]any{{"name": "storage-manager", "image": "openpai/storage-manager:v1.8.0"}}},
		})
		e.cluster.Request(t, http.MethodPatch, "/api/v1/namespaces/default/pods/storage-manager-ds-abcde/status", `{"status":{"phase":"Running"}}`)
		rec := &recorder{}
		opts := e.options(cfg, "worker3", "nfs3", nfsStandIn(t), rec)
		opts.SharePath = "/disk"
		res, err := Setup(ctx, opts)
		if err != nil {
			t.Fatal(err)
		}
		if res.Steps[2].Changed || !strings.Contains(res.Steps[2].Detail, "storage-manager runs on worker3 and NFS answers at 127.0.0.1:") {
			t.Errorf("restart step: %+v", res.Steps[2])
		}
		checkCalls(t, dockerCalls(t, dd))
		if res.HostPath != "/disk/data" {
			t.Errorf("host path %s", res.HostPath)
		}
	})

	t.Run("cluster-id not set: no stop, the push sets it", func(t *testing.T) {
		cfg := writeClusterCfg(t, testLayout("worker4"), testServices)
		st := e.dockerState(cfg)
		st.ClusterID = ""
		dd := fakeDockerDir(t, st)
		rec := &recorder{}
		if _, err := Setup(ctx, e.options(cfg, "worker4", "nfs4", nfsStandIn(t), rec)); err != nil {
			t.Fatal(err)
		}
		checkCalls(t, dockerCalls(t, dd), inspectCall, getIDCall, pushCall("pai"), startCall("pai"))
		if got := readState(t, dd).ClusterID; got != "pai" {
			t.Errorf("cluster-id now %q", got)
		}
	})

	t.Run("storage-manager never runs", func(t *testing.T) {
		cfg := writeClusterCfg(t, testLayout("worker5"), testServices)
		st := e.dockerState(cfg)
		st.NoPods = true
		fakeDockerDir(t, st)
		rec := &recorder{}
		opts := e.options(cfg, "worker5", "nfs5", nfsStandIn(t), rec)
		opts.PodWait = time.Second
		_, err := Setup(ctx, opts)
		var se *StepError
		if !errors.As(err, &se) || se.Step != StepRestart || !strings.Contains(err.Error(), "storage-manager did not run on worker5 within 1s: no storage-manager pod on worker5") {
			t.Fatalf("got %v", err)
		}
	})

	t.Run("NFS does not answer", func(t *testing.T) {
		cfg := writeClusterCfg(t, testLayout("worker6"), testServices)
		fakeDockerDir(t, e.dockerState(cfg))
		rec := &recorder{}
		port := closedPort(t)
		opts := e.options(cfg, "worker6", "nfs6", port, rec)
		opts.NFSWait = time.Second
		_, err := Setup(ctx, opts)
		var se *StepError
		if !errors.As(err, &se) || se.Step != StepRestart || !strings.Contains(err.Error(), fmt.Sprintf("nfs at 127.0.0.1:%d did not answer within 1s", port)) {
			t.Fatalf("got %v", err)
		}
		if _, err := e.kube.GetPersistentVolume(ctx, "nfs6-pv"); !errors.Is(err, kube.ErrNotFound) {
			t.Errorf("a volume was made though NFS does not answer: %v", err)
		}
	})

	t.Run("paictl fails", func(t *testing.T) {
		cfg := writeClusterCfg(t, testLayout("worker7"), testServices)
		st := e.dockerState(cfg)
		st.Fail = "service start"
		fakeDockerDir(t, st)
		rec := &recorder{}
		_, err := Setup(ctx, e.options(cfg, "worker7", "nfs7", nfsStandIn(t), rec))
		var se *StepError
		var pe *PaictlError
		if !errors.As(err, &se) || se.Step != StepRestart || !errors.As(err, &pe) || se.Hint == "" {
			t.Fatalf("got %v", err)
		}
		if !strings.Contains(err.Error(), "./paictl.py service start -n cluster-configuration storage-manager: exit status 1; last lines:") ||
			!strings.Contains(err.Error(), "something went wrong as asked by the test") {
			t.Errorf("error %q", err)
		}
	})

	t.Run("dev-box container", func(t *testing.T) {
		cfg := writeClusterCfg(t, testLayout("worker8"), testServices)
		for _, tt := range []struct {
			name, state, image string
			want               []string // the calls before get-id
			err                error
		}{
			{name: "stopped", state: "stopped",
				want: []string{"inspect --format {{.State.Running}} dev-box", "start dev-box"}},
			{name: "missing, image given", state: "missing", image: "openpai/dev-box:v1.8.0",
				want: []string{"inspect --format {{.State.Running}} dev-box",
					"run -itd -v /var/run/docker.sock:/var/run/docker.sock -v " + cfg + ":/cluster-configuration -v /root/pai-deploy/kube:/root/.kube -v /srv/pai:/mnt/pai --pid=host --privileged=true --net=host --entrypoint /bin/bash --name=dev-box openpai/dev-box:v1.8.0"}},
			{name: "missing", state: "missing", err: ErrNoDevBox,
				want: []string{"inspect --format {{.State.Running}} dev-box"}},
		} {
			t.Run(tt.name, func(t *testing.T) {
				st := e.dockerState(cfg)
				st.State = tt.state
				dd := fakeDockerDir(t, st)
				box := &Docker{Image: tt.image, PaiDir: "/srv/pai", ClusterCfgDir: cfg, KubeDir: "/root/pai-deploy/kube"}
				var out bytes.Buffer
				err := box.Exec(ctx, []string{"./paictl.py", "config", "get-id"}, nil, &out)
				if !errors.Is(err, tt.err) {
					t.Fatalf("exec: %v, want %v", err, tt.err)
				}
				var got []string
				for _, c := range dockerCalls(t, dd) {
					got = append(got, c.String())
				}
				want := tt.want
				if tt.err == nil {
					want = append(want, "exec -i -w /mnt/pai dev-box ./paictl.py config get-id")
					if !strings.Contains(out.String(), "Cluster-id is: pai-lab") {
						t.Errorf("output %q", out.String())
					}
					// The container is known to run now: no second inspect.
					if err := box.Exec(ctx, []string{"./paictl.py", "config", "get-id"}, nil, nil); err != nil {
						t.Fatal(err)
					}
					if calls := dockerCalls(t, dd); len(calls) != 1 || calls[0].Args[0] != "exec" {
						t.Errorf("second exec: %v", calls)
					}
				}
				if !slices.Equal(got, want) {
					t.Errorf("calls:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
				}
			})
		}
		// Through Setup: the step and the hint say what to do.
		st := e.dockerState(cfg)
		st.State = "missing"
		fakeDockerDir(t, st)
		_, err := Setup(ctx, e.options(cfg, "worker8", "nfs8", nfsStandIn(t), &recorder{}))
		var se *StepError
		if !errors.As(err, &se) || se.Step != StepRestart || !errors.Is(err, ErrNoDevBox) || !strings.Contains(se.Hint, "docker run -itd") {
			t.Fatalf("got %v (%+v)", err, se)
		}
	})
}

func err2s(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
