package nodes

// The test bed: real OpenSSH servers, one per node, each in its own network
// namespace on a bridge (addresses in 10.200.0.0/24, the host side is
// 10.200.0.1), its own mount and UTS namespaces (own hostname; a tmpfs on
// /run; an overlay over /etc so its user, sudoers rule, os-release and
// /etc/docker are its own and the host's /etc is never written; a file
// bound over /proc/meminfo; an overlay over /var/lib and a directory of
// its own bound over /root, so kubelet's and root's docker config.json are
// its own) and a bin directory first on PATH (for the SSH
// session and for sudo) holding test doubles for docker, systemctl,
// nvidia-smi, timedatectl, dpkg-query and df that read their answers from
// the node's state directory. SSH, sudo, the shell, file editing, ip,
// hostname and curl are the real programs.
//
// Everything is named pm<pid>...: the bridge pm<pid>b, namespaces
// pm<pid>n<i>, veth pairs pm<pid>v<i>/pm<pid>p<i>, and torn down by those
// names and by the PIDs started (t.Cleanup, TestMain). A lock file keeps two
// test processes from using the subnet at once.

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
)

const (
	testUser   = "pmtest"
	subnet     = "10.200.0."
	hostSideIP = subnet + "1"
	lockPath   = "/tmp/paimirror-installer-nodes-test.lock"
)

// testPassword has quotes, a dollar and a space, so any trip through a
// shell command line would break it (or leak it).
var testPassword = func() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return `pw'"$ x\` + hex.EncodeToString(b)
}()

func TestMain(m *testing.M) {
	code := m.Run()
	bed.teardown()
	os.Exit(code)
}

// testBed is the bridge shared by the tests of this process.
type testBed struct {
	once    sync.Once
	err     error
	skip    string
	bridge  string
	lock    *os.File
	mu      sync.Mutex
	next    int
	created bool
}

var bed testBed

// need skips (or, with PAIMIRROR_REQUIRE_TOOLS, fails) when the machine
// cannot host the test nodes, and sets the bridge up once.
func needBed(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"sshd", "ssh-keygen", "ip", "unshare", "sudo", "useradd", "chpasswd", "curl", "mount"} {
		bundletest.Tool(t, tool)
	}
	if os.Geteuid() != 0 {
		testenv.Need(t, "the SSH node tests need root (network namespaces)")
	}
	bed.once.Do(bed.setup)
	if bed.err != nil {
		if bed.skip != "" && os.Getenv(bundletest.RequireEnv) == "" {
			t.Skip(bed.skip)
		}
		t.Fatal(bed.err)
	}
}

func (b *testBed) setup() {
	f, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		b.err = err
		return
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		b.err = err
		return
	}
	b.lock = f
	// Refuse to share the subnet with anything else on this machine.
	ifaces, _ := net.Interfaces()
	_, ours, _ := net.ParseCIDR(subnet + "0/24")
	for _, ifc := range ifaces {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if ipn, ok := a.(*net.IPNet); ok && ours.Contains(ipn.IP) {
				b.err = fmt.Errorf("%s0/24 is already in use on %s (%s); if an earlier run of these tests left it, "+
					"remove it with `ip link del %s` and its namespaces (`ip netns list`, pm<pid>n<i>) with `ip netns del`", subnet, ifc.Name, ipn, ifc.Name)
				b.skip = b.err.Error()
				return
			}
		}
	}
	b.bridge = fmt.Sprintf("pm%db", os.Getpid())
	if out, err := exec.Command("ip", "link", "add", b.bridge, "type", "bridge").CombinedOutput(); err != nil {
		b.err = fmt.Errorf("creating bridge: %v: %s", err, out)
		b.skip = "cannot create a bridge here: " + strings.TrimSpace(string(out))
		return
	}
	b.created = true
	for _, args := range [][]string{
		{"addr", "add", hostSideIP + "/24", "dev", b.bridge},
		{"link", "set", b.bridge, "up"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			b.err = fmt.Errorf("ip %v: %v: %s", args, err, out)
			return
		}
	}
}

func (b *testBed) teardown() {
	if b.created {
		_ = exec.Command("ip", "link", "del", b.bridge).Run()
	}
	if b.lock != nil {
		_ = syscall.Flock(int(b.lock.Fd()), syscall.LOCK_UN)
		b.lock.Close()
	}
}

// index hands out node numbers; node i has address 10.200.0.(10+i).
func (b *testBed) index() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.next++
	if b.next > 200 {
		panic("too many test nodes")
	}
	return b.next
}

// unusedIP is an address in the subnet that no namespace holds.
const unusedIP = subnet + "250"

// nodeSpec is the machine state a test node starts with.
type nodeSpec struct {
	hostname      string
	osRelease     string   // /etc/os-release; default Ubuntu 18.04
	memGB         int      // MemTotal in /proc/meminfo; default 64
	freeGB        int      // what df reports free; default 200
	noDocker      bool     // no docker double on PATH
	dockerStopped bool     // docker installed, daemon not answering
	runtime       string   // docker's default runtime; default runc
	startDelay    int      // `docker info` fails this many times after a restart
	gpu           bool     // a working nvidia-smi
	ntp           string   // NTPSynchronized; default "yes"
	ntpStyle      string   // "" timedatectl show (systemd >= 239); "status18", "status16": only timedatectl status, in Ubuntu 18.04's or 16.04's words; "ntpq": no timedatectl double, an ntpq one
	hide          []string // programs hidden on the node (/dev/null bound over them)
	packages      []string // "name" or "name=version" (default version 1.0)
	daemonJSON    *string  // nil: no /etc/docker/daemon.json
	// apt are files of the node's own /etc/apt (over the host's), by
	// path inside it: "sources.list", "trusted.gpg.d/k.gpg".
	apt map[string]string
	// rootDockerConfig is root's /root/.docker/config.json; nil: none.
	rootDockerConfig *string
	noSSHD           bool
}

// testNode is one machine of the test bed.
type testNode struct {
	t        *testing.T
	spec     nodeSpec
	i        int
	ip       string
	ns, veth string
	dir      string // the node's files: config, keys, state, overlay
	bin      string // doubles, first on PATH
	state    string // what the doubles read and write
	upper    string // the overlay's upper layer: the node's own /etc changes
	work     string
	varUpper string // the same for /var/lib
	varWork  string
	root     string // bound over /root: root's home on the node
	hostKey  string
	userKey  string // a private key the test user may log in with

	mu     sync.Mutex
	cmd    *exec.Cmd
	done   chan struct{}
	stderr *testenv.Buffer
}

func strp(s string) *string { return &s }

const ubuntu1804 = `NAME="Ubuntu"
VERSION="18.04.6 LTS (Bionic Beaver)"
ID=ubuntu
ID_LIKE=debian
PRETTY_NAME="Ubuntu 18.04.6 LTS"
VERSION_ID="18.04"
`

func ubuntu(version string) string {
	return strings.ReplaceAll(strings.ReplaceAll(ubuntu1804, "18.04.6", version+".6"), `"18.04"`, `"`+version+`"`)
}

// newNode builds a node and, unless spec.noSSHD, starts its sshd.
func newNode(t *testing.T, spec nodeSpec) *testNode {
	t.Helper()
	needBed(t)
	if spec.osRelease == "" {
		spec.osRelease = ubuntu1804
	}
	if spec.memGB == 0 {
		spec.memGB = 64
	}
	if spec.freeGB == 0 {
		spec.freeGB = 200
	}
	if spec.runtime == "" {
		spec.runtime = "runc"
	}
	if spec.ntp == "" {
		spec.ntp = "yes"
	}
	i := bed.index()
	pid := os.Getpid()
	n := &testNode{t: t, spec: spec, i: i, ip: fmt.Sprintf("%s%d", subnet, 10+i),
		ns: fmt.Sprintf("pm%dn%d", pid, i), veth: fmt.Sprintf("pm%dv%d", pid, i)}
	dir, err := os.MkdirTemp("", "pmnode")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil { // the test user runs the doubles
		t.Fatal(err)
	}
	n.dir = dir
	n.bin = filepath.Join(dir, "bin")
	n.state = filepath.Join(dir, "state")
	n.upper = filepath.Join(dir, "etc-upper")
	n.work = filepath.Join(dir, "etc-work")
	n.varUpper = filepath.Join(dir, "varlib-upper")
	n.varWork = filepath.Join(dir, "varlib-work")
	n.root = filepath.Join(dir, "root")
	n.hostKey = filepath.Join(dir, "ssh_host_ed25519_key")
	n.userKey = filepath.Join(dir, "user_key")
	for _, d := range []string{n.bin, n.state, n.upper, n.work, n.varUpper, n.varWork, filepath.Join(n.upper, "sudoers.d"), filepath.Join(dir, "home")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(n.root, 0o700); err != nil {
		t.Fatal(err)
	}
	n.writeFiles()
	n.keygen(n.hostKey)
	n.keygen(n.userKey)
	n.network()
	if !spec.noSSHD {
		n.start()
	}
	return n
}

func (n *testNode) write(path, content string, mode os.FileMode) {
	n.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		n.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		n.t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		n.t.Fatal(err)
	}
}

func (n *testNode) keygen(path string) {
	n.t.Helper()
	os.Remove(path)
	os.Remove(path + ".pub")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", path).CombinedOutput(); err != nil {
		n.t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
}

// daemonJSON is the node's /etc/docker/daemon.json, as the node sees it.
func (n *testNode) daemonJSONPath() string { return filepath.Join(n.upper, "docker", "daemon.json") }

func (n *testNode) writeFiles() {
	s := n.spec
	st := n.state
	// Machine state read by the doubles.
	running := "yes"
	if s.dockerStopped {
		running = "no"
	}
	n.write(filepath.Join(st, "docker.env"), fmt.Sprintf("RUNNING=%s\nRUNTIME=%s\nVERSION=19.03.15\nDELAY=%d\n", running, s.runtime, s.startDelay), 0o644)
	n.write(filepath.Join(st, "packages"), strings.Join(s.packages, "\n")+"\n", 0o644)
	n.write(filepath.Join(st, "ntp"), s.ntp+"\n", 0o644)
	n.write(filepath.Join(st, "restarts"), "", 0o666)
	n.write(filepath.Join(st, "starting"), "0\n", 0o666)

	// The doubles. docker and systemctl insist on root, as the real ones do
	// for a user outside the docker group: that proves sudo is used.
	if !s.noDocker {
		n.write(filepath.Join(n.bin, "docker"), `#!/bin/sh
S=`+st+`
. "$S/docker.env"
if [ "$(id -u)" != 0 ]; then
  echo "Got permission denied while trying to connect to the Docker daemon socket at unix:///var/run/docker.sock" >&2; exit 1
fi
left=$(cat "$S/starting")
if [ "$left" -gt 0 ]; then
  echo $((left - 1)) > "$S/starting"
  echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1
fi
if [ "$RUNNING" != yes ]; then
  echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?" >&2; exit 1
fi
case "$1 $*" in
  *DefaultRuntime*) echo "$RUNTIME" ;;
  *ServerVersion*|*Server.Version*) echo "$VERSION" ;;
  info*) printf 'Server Version: %s\nDefault Runtime: %s\n' "$VERSION" "$RUNTIME" ;;
  version*) printf 'Server:\n Version: %s\n' "$VERSION" ;;
  *) echo "docker double: $* not supported" >&2; exit 2 ;;
esac
`, 0o755)
	}
	n.write(filepath.Join(n.bin, "systemctl"), `#!/bin/sh
S=`+st+`
if [ "$(id -u)" != 0 ]; then echo "Failed to $1 $2.service: Access denied" >&2; exit 1; fi
case "$1 $2" in
  "restart docker")
    echo restart >> "$S/restarts"
    . "$S/docker.env"
    echo "$DELAY" > "$S/starting"
    sed -i 's/^RUNNING=.*/RUNNING=yes/' "$S/docker.env" ;;
  *) echo "systemctl double: $* not supported" >&2; exit 1 ;;
esac
`, 0o755)
	if s.gpu {
		n.write(filepath.Join(n.bin, "nvidia-smi"), `#!/bin/sh
echo "GPU 0: Tesla K80 (UUID: GPU-8d8e1b4c-0000-0000-0000-000000000000)"
echo "GPU 1: Tesla K80 (UUID: GPU-8d8e1b4c-0000-0000-0000-000000000001)"
`, 0o755)
	}
	switch s.ntpStyle {
	case "":
		n.write(filepath.Join(n.bin, "timedatectl"), `#!/bin/sh
S=`+st+`
case "$1" in
  show) echo "NTP=$(cat "$S/ntp")"; echo "NTPSynchronized=$(cat "$S/ntp")" ;;
  *) echo "timedatectl double: $* not supported" >&2; exit 1 ;;
esac
`, 0o755)
	case "status18", "status16":
		synced, service := "System clock synchronized", "systemd-timesyncd.service active"
		if s.ntpStyle == "status16" {
			synced, service = "NTP synchronized", "Network time on"
		}
		n.write(filepath.Join(n.bin, "timedatectl"), `#!/bin/sh
S=`+st+`
case "$1" in
  status|"")
    echo "                      Local time: Mon 2024-01-01 10:00:00 UTC"
    echo "                       Time zone: Etc/UTC (UTC, +0000)"
    echo "       `+synced+`: $(cat "$S/ntp")"
    echo "`+service+`: yes" ;;
  *) echo "Unknown operation $1" >&2; exit 1 ;;
esac
`, 0o755)
	case "ntpq":
		n.write(filepath.Join(n.bin, "timedatectl"), "#!/bin/sh\necho 'System has not been booted with systemd as init system (PID 1). Can'\\''t operate.' >&2\nexit 1\n", 0o755)
		n.write(filepath.Join(n.bin, "ntpq"), `#!/bin/sh
echo "     remote           refid      st t when poll reach   delay   offset  jitter"
echo "=============================================================================="
echo "*10.0.0.123      .GPS.            1 u   33   64  377    0.210    0.012   0.004"
`, 0o755)
	}
	// dpkg-query -W with -f FORMAT (${Package}, ${binary:Package},
	// ${Version}, ${Status}); the packages file has "name" or
	// "name=version" lines.
	n.write(filepath.Join(n.bin, "dpkg-query"), `#!/bin/sh
S=`+st+`
fmt='${binary:Package}\t${Version}\n'
rc=0
while [ $# -gt 0 ]; do
  case "$1" in
    -f|--showformat) fmt=$2; shift 2; continue ;;
    -f=*|--showformat=*) fmt=${1#*=}; shift; continue ;;
    -*) shift; continue ;;
  esac
  line=$(grep -E "^$1(=|\$)" "$S/packages" | head -n 1)
  if [ -n "$line" ]; then
    name=${line%%=*}; ver=${line#*=}; [ "$ver" != "$line" ] || ver=1.0
    printf "$(printf '%s' "$fmt" | sed -e "s|[$]{Package}|$name|g" -e "s|[$]{binary:Package}|$name|g" -e "s|[$]{Version}|$ver|g" -e "s|[$]{Status}|install ok installed|g")"
  else
    echo "dpkg-query: no packages found matching $1" >&2; rc=1
  fi
  shift
done
exit $rc
`, 0o755)
	n.write(filepath.Join(n.bin, "df"), fmt.Sprintf(`#!/bin/sh
echo "Filesystem     1024-blocks      Used Available Capacity Mounted on"
echo "/dev/sda1        500000000 100000000 %d      20%% /"
`, int64(s.freeGB)*1e9/1024), 0o755)

	// The node's own /etc, layered over the host's.
	n.write(filepath.Join(n.upper, "os-release"), s.osRelease, 0o644)
	hosts, _ := os.ReadFile("/etc/hosts")
	n.write(filepath.Join(n.upper, "hosts"), string(hosts)+"\n127.0.1.1 "+s.hostname+"\n", 0o644)
	path := n.bin + ":/usr/sbin:/usr/bin:/sbin:/bin"
	n.write(filepath.Join(n.upper, "sudoers.d", testUser), fmt.Sprintf(
		"Defaults:%[1]s secure_path=\"%[2]s\"\nDefaults:%[1]s lecture=never\n%[1]s ALL=(ALL:ALL) ALL\n", testUser, path), 0o440)
	if s.daemonJSON != nil {
		n.write(n.daemonJSONPath(), *s.daemonJSON, 0o644)
	}
	if s.rootDockerConfig != nil {
		n.write(filepath.Join(n.root, ".docker", "config.json"), *s.rootDockerConfig, 0o600)
	}
	for name, content := range s.apt {
		n.write(filepath.Join(n.upper, "apt", filepath.FromSlash(name)), content, 0o644)
	}
	meminfo, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		n.t.Fatal(err)
	}
	var mi []string
	for _, line := range strings.Split(string(meminfo), "\n") {
		if strings.HasPrefix(line, "MemTotal:") {
			line = fmt.Sprintf("MemTotal:       %d kB", int64(s.memGB)*1e9/1024)
		}
		mi = append(mi, line)
	}
	n.write(filepath.Join(n.dir, "meminfo"), strings.Join(mi, "\n"), 0o444)

	n.write(filepath.Join(n.dir, "sshd_config"), fmt.Sprintf(`Port 22
ListenAddress %s
HostKey %s
PidFile none
UsePAM no
PasswordAuthentication yes
KbdInteractiveAuthentication no
PubkeyAuthentication yes
AuthorizedKeysFile %s
StrictModes no
PermitRootLogin no
AllowUsers %s
SetEnv PATH=%s
LogLevel VERBOSE
`, n.ip, n.hostKey, n.userKey+".pub", testUser, path), 0o644)
}

// network creates the node's namespace and wires it to the bridge.
func (n *testNode) network() {
	n.t.Helper()
	peer := strings.Replace(n.veth, "v", "p", 1)
	if i := strings.LastIndex(n.veth, "v"); i >= 0 {
		peer = n.veth[:i] + "p" + n.veth[i+1:]
	}
	run := func(args ...string) {
		n.t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			n.t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", n.ns)
	n.t.Cleanup(func() {
		n.stop()
		n.killLeftovers()
		_ = exec.Command("ip", "netns", "del", n.ns).Run()
		_ = exec.Command("ip", "link", "del", n.veth).Run() // gone with the namespace, normally
	})
	run("link", "add", n.veth, "type", "veth", "peer", "name", peer)
	run("link", "set", peer, "netns", n.ns)
	run("link", "set", n.veth, "master", bed.bridge)
	run("link", "set", n.veth, "up")
	run("-n", n.ns, "addr", "add", n.ip+"/24", "dev", peer)
	run("-n", n.ns, "link", "set", peer, "up")
	run("-n", n.ns, "link", "set", "lo", "up")
}

// start runs the node's sshd and waits until it accepts connections.
func (n *testNode) start() {
	n.t.Helper()
	script := fmt.Sprintf(`set -e
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p /run/sshd
mount -t overlay overlay -o lowerdir=/etc,upperdir=%[1]s,workdir=%[2]s /etc
mount -t overlay overlay -o lowerdir=/var/lib,upperdir=%[9]s,workdir=%[10]s /var/lib
mount --bind %[11]s /root
mount --bind %[3]s /proc/meminfo
mount -t tmpfs -o mode=0755 tmpfs /var/lib/apt
mount -t tmpfs -o mode=0755 tmpfs /var/cache
mkdir -p /var/lib/apt/lists/partial /var/cache/apt/archives/partial
if [ -d /usr/local/share/ca-certificates ]; then mount -t tmpfs -o mode=0755 tmpfs /usr/local/share/ca-certificates; fi
hostname %[4]s
for p in %[8]s; do if [ -e "$p" ]; then mount --bind /dev/null "$p"; fi; done
id %[5]s >/dev/null 2>&1 || useradd -M -d %[6]s -s /bin/sh %[5]s
chpasswd
exec /usr/sbin/sshd -D -e -f %[7]s </dev/null
`, n.upper, n.work, filepath.Join(n.dir, "meminfo"), n.spec.hostname, testUser, filepath.Join(n.dir, "home"),
		filepath.Join(n.dir, "sshd_config"), strings.Join(n.spec.hide, " "), n.varUpper, n.varWork, n.root)
	cmd := exec.Command("ip", "netns", "exec", n.ns, "unshare", "--mount", "--uts", "--propagation", "private", "sh", "-c", script)
	cmd.Stdin = strings.NewReader(testUser + ":" + testPassword + "\n")
	n.stderr = &testenv.Buffer{}
	cmd.Stdout = n.stderr
	cmd.Stderr = n.stderr
	if err := cmd.Start(); err != nil {
		n.t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	n.mu.Lock()
	n.cmd, n.done = cmd, done
	n.mu.Unlock()
	n.t.Cleanup(func() {
		if n.t.Failed() {
			lines := strings.Split(strings.TrimSpace(n.stderr.String()), "\n")
			if len(lines) > 30 {
				lines = lines[len(lines)-30:]
			}
			n.t.Logf("sshd on %s (%s) said, last lines:\n%s", n.spec.hostname, n.ip, strings.Join(lines, "\n"))
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(n.ip, "22"), time.Second)
		if err == nil {
			c.Close()
			return
		}
		select {
		case <-done:
			n.t.Fatalf("sshd on %s exited: %s", n.ip, n.stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("sshd on %s not ready: %v\n%s", n.ip, err, n.stderr.String())
		}
		time.Sleep(50 * time.Millisecond) // polling for readiness, not synchronisation
	}
}

// stop ends the node's sshd (the PID this test started) and waits for it.
func (n *testNode) stop() {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.cmd = nil
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-done
	}
	n.killLeftovers()
}

// killLeftovers kills what still runs in the node's namespace: only
// processes this test started can be there.
func (n *testNode) killLeftovers() {
	out, err := exec.Command("ip", "netns", "pids", n.ns).Output()
	if err != nil {
		return
	}
	for _, f := range strings.Fields(string(out)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// hostPath is where the test reads a file of the node's /etc, /var/lib or
// /root (as the node sees it at path).
func (n *testNode) hostPath(path string) string {
	for _, m := range []struct{ at, dir string }{{"/etc/", n.upper}, {"/var/lib/", n.varUpper}, {"/root/", n.root}} {
		if rest, ok := strings.CutPrefix(path, m.at); ok {
			return filepath.Join(m.dir, filepath.FromSlash(rest))
		}
	}
	n.t.Fatalf("%s is the host's own on a test node", path)
	return ""
}

// forward makes addr, a loopback address of the test process
// ("127.0.0.1:PORT", where a test registry listens), reachable at the
// same address inside the node's network namespace: a listener opened in
// the namespace relays each connection to addr. A certificate made for
// 127.0.0.1 then matches on the node too. The listener and its relays end
// with the test.
func (n *testNode) forward(addr string) {
	n.t.Helper()
	type result struct {
		l   net.Listener
		err error
	}
	ch := make(chan result, 1)
	go func() {
		// The thread enters the node's namespace only to open the
		// listener (a socket keeps the namespace it was made in), then
		// goes back and is unlocked. It must not end with this goroutine,
		// as a thread left in another namespace would: a child process
		// started earlier from that thread with Pdeathsig (every test
		// peer: the registry, toxiproxy) would be killed with it.
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer home.Close()
		f, err := os.Open(filepath.Join("/run/netns", n.ns))
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: err}
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{err: fmt.Errorf("setns %s: %w", n.ns, err)}
			return
		}
		l, err := net.Listen("tcp", addr)
		if rerr := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); rerr == nil {
			runtime.UnlockOSThread()
		} // else: stay locked, and the thread ends with the goroutine
		ch <- result{l, err}
	}()
	r := <-ch
	if r.err != nil {
		n.t.Fatalf("forwarding %s into %s: %v", addr, n.ns, r.err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	track := func(c net.Conn) bool {
		mu.Lock()
		defer mu.Unlock()
		if conns == nil {
			return false // closed
		}
		conns = append(conns, c)
		return true
	}
	conns = []net.Conn{}
	n.t.Cleanup(func() {
		r.l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		conns = nil
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			in, err := r.l.Accept()
			if err != nil {
				return
			}
			out, err := net.Dial("tcp", addr)
			if err != nil {
				in.Close()
				continue
			}
			if !track(in) || !track(out) {
				in.Close()
				out.Close()
				return
			}
			wg.Go(func() { io.Copy(out, in); out.(*net.TCPConn).CloseWrite() })
			wg.Go(func() { io.Copy(in, out); in.(*net.TCPConn).CloseWrite() })
		}
	})
}

// newHostKey gives the node a new host key, as a reinstall would.
func (n *testNode) newHostKey() {
	n.t.Helper()
	n.stop()
	n.keygen(n.hostKey)
	n.start()
}

// node is the Node value for this test node.
func (n *testNode) node(role Role) Node {
	return Node{Name: n.spec.hostname, Addr: n.ip, Role: role, GPU: n.spec.gpu}
}

func (n *testNode) restarts() int {
	data, err := os.ReadFile(filepath.Join(n.state, "restarts"))
	if err != nil {
		n.t.Fatal(err)
	}
	return strings.Count(string(data), "restart")
}

// mirrorFile is the one file the test mirror serves.
const mirrorFile = "/k8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm"

// testMirror is a stand-in for paimirror serve on the host side of the
// bridge; it records which addresses asked for what.
type testMirror struct {
	srv   *httptest.Server
	addr  string
	mu    sync.Mutex
	hits  map[string][]string // remote IP -> "METHOD path"
	files map[string][]byte   // more paths it serves (serve adds them)
}

// serve makes the mirror serve data at path.
func (m *testMirror) serve(path string, data []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.files[path] = data
}

func newMirror(t *testing.T) *testMirror {
	t.Helper()
	return startMirror(t, nil)
}

// startMirror starts the test mirror, over TLS with cfg when it is set.
func startMirror(t *testing.T, cfg *tls.Config) *testMirror {
	t.Helper()
	needBed(t)
	l, err := net.Listen("tcp", hostSideIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	m := &testMirror{hits: map[string][]string{}, files: map[string][]byte{}}
	m.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ip, _, _ := net.SplitHostPort(r.RemoteAddr)
		m.mu.Lock()
		m.hits[ip] = append(m.hits[ip], r.Method+" "+r.URL.Path)
		data, ok := m.files[r.URL.Path]
		m.mu.Unlock()
		if ok {
			w.Header().Set("Content-Length", strconv.Itoa(len(data)))
			if r.Method != http.MethodHead {
				w.Write(data)
			}
			return
		}
		switch r.URL.Path {
		case "/v2/":
			w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
			io.WriteString(w, "{}")
		case mirrorFile:
			w.Header().Set("Content-Length", "4")
			if r.Method != http.MethodHead {
				io.WriteString(w, "\x7fELF")
			}
		default:
			http.NotFound(w, r)
		}
	}))
	m.srv.Listener.Close()
	m.srv.Listener = l
	if cfg != nil {
		m.srv.TLS = cfg
		m.srv.StartTLS()
	} else {
		m.srv.Start()
	}
	t.Cleanup(m.srv.Close)
	m.addr = l.Addr().String()
	return m
}

func (m *testMirror) hitsFrom(ip string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.hits[ip]...)
}

// assertNoPassword fails when the password shows up in s.
func assertNoPassword(t *testing.T, what, s string) {
	t.Helper()
	if strings.Contains(s, testPassword) {
		t.Errorf("the password appears in %s", what)
	}
}

// assertNoPasswordInFiles walks dir and fails on any file holding the
// password.
func assertNoPasswordInFiles(t *testing.T, dir string, skip ...string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !d.Type().IsRegular() {
			return err
		}
		for _, s := range skip {
			if filepath.Base(path) == s {
				return nil
			}
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(data, []byte(testPassword)) {
			t.Errorf("the password is written in %s", path)
		}
		return nil
	})
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Error(err)
	}
}
