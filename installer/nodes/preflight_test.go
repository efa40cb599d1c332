package nodes

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle/bundletest"
)

// cells is the expected table: node -> check -> status; a check missing
// from a row must not apply to that node ("-").
type cells map[string]map[string]Status

func assertTable(t *testing.T, tab *Table, want cells) {
	t.Helper()
	for node, row := range want {
		for _, c := range Checks() {
			got, ok := tab.Result(node, c.ID)
			w, applies := row[c.ID]
			switch {
			case !applies && ok:
				t.Errorf("%s/%s: %s (%s), want no result (does not apply)", node, c.ID, got.Status, got.Detail)
			case applies && !ok:
				t.Errorf("%s/%s: no result, want %s", node, c.ID, w)
			case applies && got.Status != w:
				t.Errorf("%s/%s: %s (%s), want %s", node, c.ID, got.Status, got.Detail, w)
			}
			if ok && (got.Status == Fail || got.Status == Warn) && got.Fix == "" {
				t.Errorf("%s/%s: %s without a fix", node, c.ID, got.Status)
			}
			if ok && got.Status == Pass && got.Fix != "" {
				t.Errorf("%s/%s: pass with a fix %q", node, c.ID, got.Fix)
			}
		}
	}
}

func assertDetail(t *testing.T, tab *Table, node, check string, wants ...string) {
	t.Helper()
	r, ok := tab.Result(node, check)
	if !ok {
		t.Errorf("%s/%s: no result", node, check)
		return
	}
	for _, w := range wants {
		if !strings.Contains(r.Detail+" | fix: "+r.Fix, w) {
			t.Errorf("%s/%s: %q (fix %q) does not mention %q", node, check, r.Detail, r.Fix, w)
		}
	}
}

const nvidiaDaemonJSON = `{
  "default-runtime": "nvidia",
  "runtimes": {
    "nvidia": {"path": "/usr/bin/nvidia-container-runtime", "runtimeArgs": []}
  }
}
`

// TestPreflight: three real nodes and one address where nothing answers.
// Every cell comes out as the machine state says, each problem with its
// fix; the unreachable node fails its ssh cell while the others are still
// checked; the mirror is fetched from each node itself.
func TestPreflight(t *testing.T) {
	mirror := newMirror(t)
	master := newNode(t, nodeSpec{hostname: "pai-master", memGB: 64,
		packages: []string{"nfs-common", "unzip"}})
	gpu := newNode(t, nodeSpec{hostname: "pai-worker1", osRelease: ubuntu("16.04"), memGB: 32, gpu: true, runtime: "nvidia",
		packages: []string{"nfs-common", "unzip"}, daemonJSON: strp(nvidiaDaemonJSON)})
	bad := newNode(t, nodeSpec{hostname: "pai-worker2", osRelease: ubuntu("20.04"), memGB: 8,
		packages: []string{"unzip"}, daemonJSON: strp(`{"registry-mirrors": ["http://10.0.0.1:5000"],}`)})
	dev := newNode(t, nodeSpec{hostname: "dev-box", memGB: 4, osRelease: "ID=debian\nVERSION_ID=\"12\"\n"})
	nodes := []Node{master.node(Master), gpu.node(Worker), bad.node(Worker),
		{Name: "pai-worker3", Addr: unusedIP, Role: Worker},
		{Name: "dev-box", Addr: dev.ip, Role: DevBox}}

	keys, stateDir := openKeys(t)
	log, logs := testLogger()
	tab, err := Preflight(context.Background(), nodes, testAuth(), keys, PreflightOptions{
		Mirror:     Mirror{Addr: mirror.addr},
		MirrorFile: mirrorFile,
		Dial:       DialOptions{Timeout: 2 * time.Second},
		Logger:     log,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", tab)
	if slices.ContainsFunc(tab.Checks, func(c Check) bool { return c.ID == CheckApt }) {
		t.Error("the apt check is in the table without PreflightOptions.Apt")
	}

	all := func(m map[string]Status) map[string]Status {
		base := map[string]Status{CheckSSH: Pass, CheckSudo: Pass, CheckOS: Pass, CheckMemory: Pass, CheckDisk: Pass,
			CheckDocker: Pass, CheckPackages: Pass, CheckHostname: Pass, CheckAddress: Pass, CheckDaemonJSON: Pass, CheckMirror: Pass}
		for k, v := range m {
			base[k] = v
		}
		return base
	}
	assertTable(t, tab, cells{
		"pai-master":  all(map[string]Status{CheckNTP: Pass}),
		"pai-worker1": all(map[string]Status{CheckNvidia: Pass}),
		"pai-worker2": all(map[string]Status{CheckMemory: Warn, CheckPackages: Warn, CheckDaemonJSON: Fail}),
		"pai-worker3": {CheckSSH: Fail, CheckSudo: Skip, CheckOS: Skip, CheckMemory: Skip, CheckDisk: Skip, CheckDocker: Skip,
			CheckPackages: Skip, CheckHostname: Skip, CheckAddress: Skip, CheckDaemonJSON: Skip, CheckMirror: Skip},
		// The dev box needs docker and the mirror; the cluster's machine
		// requirements do not apply to it.
		"dev-box": {CheckSSH: Pass, CheckSudo: Pass, CheckDisk: Pass, CheckDocker: Pass, CheckDaemonJSON: Pass, CheckMirror: Pass},
	})
	assertDetail(t, tab, "pai-master", CheckOS, "Ubuntu 18.04")
	assertDetail(t, tab, "pai-worker1", CheckOS, "Ubuntu 16.04")
	assertDetail(t, tab, "pai-worker1", CheckNvidia, "2 GPU(s)", "nvidia")
	assertDetail(t, tab, "pai-worker2", CheckPackages, "nfs-common not installed", "apt-get install -y nfs-common")
	assertDetail(t, tab, "pai-worker2", CheckMemory, "8.0 GB", "16.0 GB")
	assertDetail(t, tab, "pai-worker2", CheckDaemonJSON, "line 1, column 47", "by hand")
	assertDetail(t, tab, "pai-worker3", CheckSSH, "pai-worker3", unusedIP+":22", "cannot reach", "layout.yaml")
	assertDetail(t, tab, "pai-master", CheckHostname, "pai-master")
	assertDetail(t, tab, "pai-master", CheckAddress, master.ip)

	var be *BlockingError
	if err := tab.Err(); !errors.As(err, &be) {
		t.Fatalf("Err() = %v, want a *BlockingError", err)
	}
	var failed []string
	for _, f := range be.Failures {
		failed = append(failed, f.Node+"/"+f.Check)
	}
	if want := []string{"pai-worker2/daemon.json", "pai-worker3/ssh"}; !slices.Equal(failed, want) {
		t.Errorf("blocking failures %v, want %v", failed, want)
	}

	// Every reachable node's key was recorded, from parallel connections.
	known, err := os.ReadFile(keys.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*testNode{master, gpu, bad, dev} {
		if !strings.Contains(string(known), n.ip+" ssh-ed25519 ") {
			t.Errorf("no host key recorded for %s:\n%s", n.ip, known)
		}
	}
	if lines := strings.Count(string(known), "\n"); lines != 4 {
		t.Errorf("known_hosts has %d lines, want 4:\n%s", lines, known)
	}

	// The mirror was reached from inside each node, not from the test.
	for _, n := range []*testNode{master, gpu, bad, dev} {
		hits := mirror.hitsFrom(n.ip)
		if !slices.Contains(hits, "GET /v2/") || !slices.Contains(hits, "HEAD "+mirrorFile) {
			t.Errorf("mirror hits from %s: %v", n.ip, hits)
		}
	}

	out := tab.String()
	for _, want := range []string{"NODE", "ROLE", "daemon.json", "worker,gpu", "FAIL pai-worker2 daemon.json:",
		"warn pai-worker2 packages:", "fix: sudo apt-get install -y nfs-common", "FAIL pai-worker3 ssh:"} {
		if !strings.Contains(out, want) {
			t.Errorf("rendered table lacks %q", want)
		}
	}
	// Blocking problems are listed before warnings.
	if strings.Index(out, "FAIL pai-worker3") > strings.Index(out, "warn pai-worker2") {
		t.Error("warnings are listed before blocking failures")
	}
	row := func(name string) []string {
		for _, line := range strings.Split(out, "\n") {
			if f := strings.Fields(line); len(f) > 0 && f[0] == name {
				return f
			}
		}
		return nil
	}
	if r := row("pai-worker1"); len(r) != 2+len(tab.Checks) || r[2+slices.IndexFunc(tab.Checks, func(c Check) bool { return c.ID == CheckNTP })] != "-" {
		t.Errorf("pai-worker1's row %v: want one cell per check, ntp as -", r)
	}

	assertNoPassword(t, "the log", logs.String())
	assertNoPassword(t, "the table", out)
	assertNoPassword(t, "the results", fmt.Sprintf("%+v", tab.Results))
	assertNoPasswordInFiles(t, stateDir)
	for _, n := range []*testNode{master, gpu, bad, dev} {
		assertNoPasswordInFiles(t, n.dir)
	}
}

// TestPreflightProblems: the failure path of each check, against nodes
// whose state is wrong in one way each, and a mirror that does not answer.
func TestPreflightProblems(t *testing.T) {
	deadMirror := hostSideIP + ":9" // discard port, nothing listens
	master := newNode(t, nodeSpec{hostname: "old-name", osRelease: "ID=debian\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n",
		memGB: 16, ntp: "no", dockerStopped: true, freeGB: 10, packages: []string{"nfs-common", "unzip"}})
	gpu := newNode(t, nodeSpec{hostname: "pai-worker1", memGB: 32, gpu: true, runtime: "runc",
		packages: []string{"nfs-common", "unzip"}})
	nodocker := newNode(t, nodeSpec{hostname: "pai-worker2", memGB: 32, noDocker: true, daemonJSON: strp(" \n"),
		packages: []string{"nfs-common", "unzip"}})
	nodes := []Node{
		{Name: "pai-master", Addr: master.ip, Role: Master},
		gpu.node(Worker),
		nodocker.node(Worker),
	}
	keys, _ := openKeys(t)
	tab, err := Preflight(context.Background(), nodes, testAuth(), keys, PreflightOptions{Mirror: Mirror{Addr: deadMirror}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", tab)
	assertTable(t, tab, cells{
		"pai-master": {CheckSSH: Pass, CheckSudo: Pass, CheckOS: Fail, CheckMemory: Warn, CheckDisk: Warn, CheckDocker: Fail,
			CheckNTP: Warn, CheckPackages: Pass, CheckHostname: Warn, CheckAddress: Pass, CheckDaemonJSON: Pass, CheckMirror: Fail},
		"pai-worker1": {CheckSSH: Pass, CheckSudo: Pass, CheckOS: Pass, CheckMemory: Pass, CheckDisk: Pass, CheckDocker: Pass,
			CheckNvidia: Fail, CheckPackages: Pass, CheckHostname: Pass, CheckAddress: Pass, CheckDaemonJSON: Pass, CheckMirror: Fail},
		"pai-worker2": {CheckSSH: Pass, CheckSudo: Pass, CheckOS: Pass, CheckMemory: Pass, CheckDisk: Pass, CheckDocker: Fail,
			CheckPackages: Pass, CheckHostname: Pass, CheckAddress: Pass, CheckDaemonJSON: Warn, CheckMirror: Fail},
	})
	assertDetail(t, tab, "pai-master", CheckOS, "Debian GNU/Linux 12")
	assertDetail(t, tab, "pai-master", CheckMemory, "16.0 GB", "40.0 GB")
	assertDetail(t, tab, "pai-master", CheckDocker, "does not answer", "systemctl")
	assertDetail(t, tab, "pai-master", CheckNTP, "no NTP service is active", "timedatectl set-ntp true")
	assertDetail(t, tab, "pai-master", CheckHostname, `"old-name"`, `"pai-master"`, "hostnamectl set-hostname pai-master")
	assertDetail(t, tab, "pai-master", CheckDisk, "10.0 GB free")
	assertDetail(t, tab, "pai-worker1", CheckNvidia, `default runtime is "runc"`, "default-runtime")
	assertDetail(t, tab, "pai-worker2", CheckDocker, "not installed")
	assertDetail(t, tab, "pai-worker2", CheckDaemonJSON, "empty")
	assertDetail(t, tab, "pai-worker2", CheckMirror, "http://"+deadMirror+"/v2/ does not answer")
}

// TestPreflightWrongPassword: a rejected login is a clear ssh failure in the
// node's row, and the password is nowhere in the table or the log.
func TestPreflightWrongPassword(t *testing.T) {
	mirror := newMirror(t)
	n := newNode(t, nodeSpec{hostname: "pai-master"})
	keys, _ := openKeys(t)
	log, logs := testLogger()
	wrong := Auth{User: testUser, Password: testPassword + "x"}
	tab, err := Preflight(context.Background(), []Node{n.node(Master)}, wrong, keys,
		PreflightOptions{Mirror: Mirror{Addr: mirror.addr}, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := tab.Result("pai-master", CheckSSH)
	if r.Status != Fail || !strings.Contains(r.Detail, "rejected") || !strings.Contains(r.Fix, "same user and password") {
		t.Errorf("ssh cell %+v", r)
	}
	for _, s := range []string{tab.String(), logs.String(), fmt.Sprintf("%+v", tab.Results), tab.Err().Error()} {
		if strings.Contains(s, wrong.Password) || strings.Contains(s, testPassword) {
			t.Errorf("the password appears in %q", s)
		}
	}
}

func TestPreflightInput(t *testing.T) {
	keys, _ := openKeys(t)
	ctx := context.Background()
	if _, err := Preflight(ctx, nil, testAuth(), keys, PreflightOptions{Mirror: Mirror{Addr: "10.0.0.1:5000"}}); !errors.Is(err, ErrNoNodes) {
		t.Errorf("no nodes: %v", err)
	}
	twice := []Node{{Name: "a", Addr: "10.0.0.2"}, {Name: "a", Addr: "10.0.0.3"}}
	if _, err := Preflight(ctx, twice, testAuth(), keys, PreflightOptions{Mirror: Mirror{Addr: "10.0.0.1:5000"}}); err == nil {
		t.Error("a repeated node name was accepted")
	}
	if _, err := Preflight(ctx, twice[:1], testAuth(), keys, PreflightOptions{Mirror: Mirror{Addr: "http://x"}}); !errors.Is(err, ErrMirrorAddr) {
		t.Errorf("bad mirror: %v", err)
	}
}

// TestPreflightFallbacks: the other ways a check gets its answer. Ubuntu
// 18.04 and 16.04 have no `timedatectl show` (systemd < 239), so NTP is read
// from `timedatectl status`, or from ntpq where there is no systemd; a node
// without curl reaches the mirror with wget, one without curl and wget
// with bash's /dev/tcp.
func TestPreflightFallbacks(t *testing.T) {
	bundletest.Tool(t, "wget")
	mirror := newMirror(t)
	pkgs := []string{"nfs-common", "unzip"}
	m18 := newNode(t, nodeSpec{hostname: "m18", ntpStyle: "status18", packages: pkgs, hide: []string{"/usr/bin/curl"}})
	m16 := newNode(t, nodeSpec{hostname: "m16", ntpStyle: "status16", ntp: "no", packages: pkgs,
		hide: []string{"/usr/bin/curl", "/usr/bin/wget"}})
	mntp := newNode(t, nodeSpec{hostname: "mntp", ntpStyle: "ntpq", packages: pkgs})
	keys, _ := openKeys(t)
	ctx := context.Background()
	run := func(n *testNode, file string) *Table {
		t.Helper()
		tab, err := Preflight(ctx, []Node{n.node(Master)}, testAuth(), keys,
			PreflightOptions{Mirror: Mirror{Addr: mirror.addr}, MirrorFile: file})
		if err != nil {
			t.Fatal(err)
		}
		return tab
	}
	tab := run(m18, mirrorFile)
	assertDetail(t, tab, "m18", CheckNTP, "clock synchronized (timedatectl)")
	assertDetail(t, tab, "m18", CheckMirror, "(wget)")
	if r, _ := tab.Result("m18", CheckNTP); r.Status != Pass {
		t.Errorf("m18 ntp: %+v", r)
	}

	tab = run(m16, mirrorFile)
	assertDetail(t, tab, "m16", CheckNTP, "NTP is on but the clock is not synchronized")
	assertDetail(t, tab, "m16", CheckMirror, "(bash)")
	if r, _ := tab.Result("m16", CheckMirror); r.Status != Pass {
		t.Errorf("m16 mirror: %+v", r)
	}
	if hits := mirror.hitsFrom(m16.ip); !slices.Contains(hits, "HEAD "+mirrorFile) {
		t.Errorf("bash fallback: mirror saw %v", hits)
	}
	tab = run(m16, "/no/such/file")
	if r, _ := tab.Result("m16", CheckMirror); r.Status != Fail || !strings.Contains(r.Detail, "/no/such/file cannot be fetched") {
		t.Errorf("bash fallback, missing file: %+v", r)
	}

	tab = run(mntp, mirrorFile)
	assertDetail(t, tab, "mntp", CheckNTP, "ntpd synchronized to 10.0.0.123")
	assertDetail(t, tab, "mntp", CheckMirror, "(curl)")
	if err := tab.Err(); err != nil {
		t.Errorf("mntp: %v\n%s", err, tab)
	}
}
