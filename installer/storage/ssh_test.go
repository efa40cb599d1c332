package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
	"github.com/paimirror/paimirror/installer/nodes"
)

// startSSHD runs OpenSSH's sshd on a loopback port, in a mount namespace
// of its own with a tmpfs on /run (its privilege-separation directory), so
// the host is not touched. It accepts root with the key it returns. The
// sshd is killed by its PID when the test ends.
func startSSHD(t *testing.T) (port int, keyFile string) {
	t.Helper()
	sshd := bundletest.Tool(t, "sshd")
	keygen := bundletest.Tool(t, "ssh-keygen")
	bundletest.Tool(t, "unshare")
	if os.Geteuid() != 0 {
		testenv.Need(t, "the sshd test needs root (a mount namespace)")
	}
	dir := t.TempDir()
	hostKey, keyFile := filepath.Join(dir, "host_ed25519"), filepath.Join(dir, "id_ed25519")
	for _, k := range []string{hostKey, keyFile} {
		if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", "", "-f", k).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
	}
	pub, err := os.ReadFile(keyFile + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	auth := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(auth, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	port = closedPort(t)
	config := filepath.Join(dir, "sshd_config")
	if err := os.WriteFile(config, fmt.Appendf(nil, `Port %d
ListenAddress 127.0.0.1
HostKey %s
PidFile %s
AuthorizedKeysFile %s
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
`, port, hostKey, filepath.Join(dir, "sshd.pid"), auth), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c",
		`mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p /run/sshd && exec "$0" -D -e -f "$1" </dev/null`, sshd, config)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
		if err == nil {
			c.Close()
			return port, keyFile
		}
		select {
		case <-done:
			t.Fatalf("sshd exited: %s", stderr.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshd not ready: %v\n%s", err, stderr.String())
		}
	}
}

// TestSSHRunner proves the default Runner against a real sshd: the
// nfs-common check answers what dpkg-query on that machine (this one)
// says, and a command's non-zero exit status is a status, not an error.
func TestSSHRunner(t *testing.T) {
	port, key := startSSHD(t)
	dpkg := bundletest.Tool(t, "dpkg-query")
	keys, err := nodes.OpenHostKeys(filepath.Join(t.TempDir(), "known_hosts"))
	if err != nil {
		t.Fatal(err)
	}
	r := &SSHRunner{Auth: nodes.Auth{User: "root", KeyFile: key}, HostKeys: keys, Port: port}
	m := Machine{Hostname: "dev", IP: "127.0.0.1", Worker: true}
	ctx := context.Background()

	out, status, err := r.Run(ctx, m, "echo hello; exit 3")
	if err != nil || status != 3 || string(out) != "hello\n" {
		t.Fatalf("got %q, status %d, %v", out, status, err)
	}

	// What the local dpkg-query says about nfs-common decides the answer.
	local, lerr := exec.Command(dpkg, "-W", "-f=${Status}\n", nfsCommon).Output()
	lstatus := 0
	var ee *exec.ExitError
	if errors.As(lerr, &ee) {
		lstatus = ee.ExitCode()
	} else if lerr != nil {
		t.Fatal(lerr)
	}
	want, err := installed(local, lstatus)
	if err != nil {
		t.Fatal(err)
	}
	err = checkPackage(ctx, r, []Machine{m}, nfsCommon)
	var mp *MissingPackageError
	switch {
	case want && err != nil:
		t.Errorf("nfs-common is installed here, but the check says %v", err)
	case !want && (!errors.As(err, &mp) || len(mp.Missing) != 1 || mp.Missing[0] != "dev"):
		t.Errorf("nfs-common is not installed here (%q), but the check says %v", local, err)
	}
	t.Logf("nfs-common here: %q (installed %v); check: %v", bytes.TrimSpace(local), want, err)

	// A node that does not answer is unchecked, not missing.
	dead := &SSHRunner{Auth: r.Auth, HostKeys: keys, Port: closedPort(t)}
	err = checkPackage(ctx, dead, []Machine{m}, nfsCommon)
	var ue *nodes.UnreachableError
	if !errors.As(err, &mp) || len(mp.Missing) != 0 || !errors.As(mp.Unchecked["dev"], &ue) {
		t.Errorf("unreachable node: %v", err)
	}
}
