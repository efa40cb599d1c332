package registry

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle/bundletest"
)

// startContainerd runs a private containerd (its own root, state and
// socket under a temp dir, the CRI plugin off) and returns its socket. It
// waits for the daemon's own "successfully booted" log line; the daemon is
// killed by PID when the test ends.
func startContainerd(t *testing.T) string {
	t.Helper()
	bin := tool(t, "containerd")
	if os.Geteuid() != 0 {
		t.Skip("containerd needs root")
	}
	dir := t.TempDir()
	sock := filepath.Join(dir, "c.sock")
	config := fmt.Sprintf(`version = 2
root = %[1]q
state = %[2]q
disabled_plugins = ["io.containerd.grpc.v1.cri"]

[grpc]
  address = %[3]q

[ttrpc]
  address = %[4]q

[plugins."io.containerd.internal.v1.opt"]
  path = %[5]q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), sock, sock+".ttrpc", filepath.Join(dir, "opt"))
	cfgPath := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", cfgPath, "--log-level", "info")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	booted := make(chan struct{})
	var log strings.Builder
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			if !signalled {
				log.WriteString(line + "\n")
				if strings.Contains(line, "containerd successfully booted") {
					signalled = true
					close(booted)
				}
			}
		}
		if !signalled {
			close(booted)
		}
	}()
	select {
	case <-booted:
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-booted
		t.Fatalf("containerd did not boot in 60s:\n%s", log.String())
	}
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("containerd exited before listening:\n%s", log.String())
	}
	return sock
}

// TestContainerdPulls pulls with containerd's ctr: by the mirror's own
// address over plain HTTP, and by Docker Hub and gcr.io names through
// hosts.toml mirrors that point at the registry, as a lab's containerd
// nodes would be configured.
func TestContainerdPulls(t *testing.T) {
	ctr := tool(t, "ctr")
	f := defaultBundle(t)
	_, host := serve(t, f.b)
	sock := startContainerd(t)

	// Docker Hub and gcr.io would be the fallback origins if the mirror
	// failed; in tests they are a closed loopback port, so nothing leaves
	// the machine.
	closed, err := bundletest.ClosedAddr()
	if err != nil {
		t.Fatal(err)
	}
	hosts := t.TempDir()
	writeHosts := func(registry, body string) {
		d := filepath.Join(hosts, registry)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "hosts.toml"), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// Docker Hub names keep their path on the mirror.
	writeHosts("docker.io", fmt.Sprintf(`server = "http://%s"

[host."http://%s"]
  capabilities = ["pull", "resolve"]
`, closed, host))
	// Other registries live under their host name: the mirror's API root
	// for gcr.io is /v2/gcr.io.
	writeHosts("gcr.io", fmt.Sprintf(`server = "http://%s"

[host."http://%s/v2/gcr.io"]
  capabilities = ["pull", "resolve"]
  override_path = true
`, closed, host))

	digests := map[string]string{}
	for _, sn := range servedNames(f.b) {
		digests[sn.repo+":"+sn.tag] = string(sn.img.Digest)
	}
	tests := []struct {
		name, ref, mirrorName string
		args                  []string
	}{
		{"plain http", host + "/library/busybox:1.31.1", "library/busybox:1.31.1", []string{"--plain-http"}},
		{"plain http gcr.io name", host + "/gcr.io/google-containers/kube-apiserver:v1.15.11", "gcr.io/google-containers/kube-apiserver:v1.15.11", []string{"--plain-http"}},
		{"docker.io mirror", "docker.io/library/busybox:1.31.1", "library/busybox:1.31.1", []string{"--hosts-dir", hosts}},
		{"docker.io mirror openpai", "docker.io/openpai/rest-server:v1.8.0", "openpai/rest-server:v1.8.0", []string{"--hosts-dir", hosts}},
		{"docker.io mirror alias", "docker.io/siaimes/kube-apiserver:v1.15.11", "siaimes/kube-apiserver:v1.15.11", []string{"--hosts-dir", hosts}},
		{"gcr.io mirror", "gcr.io/google-containers/kube-apiserver:v1.15.11", "gcr.io/google-containers/kube-apiserver:v1.15.11", []string{"--hosts-dir", hosts}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want, ok := digests[tt.mirrorName]
			if !ok {
				t.Fatalf("the bundle has no %s", tt.mirrorName)
			}
			args := append([]string{"--address", sock, "images", "pull", "--snapshotter", "native"}, tt.args...)
			run(t, ctr, append(args, tt.ref)...)
			out := run(t, ctr, "--address", sock, "images", "ls")
			found := false
			for _, line := range strings.Split(out, "\n") {
				fields := strings.Fields(line)
				if len(fields) >= 3 && fields[0] == tt.ref {
					found = true
					if fields[2] != want {
						t.Errorf("%s has digest %s, want %s", tt.ref, fields[2], want)
					}
				}
			}
			if !found {
				t.Errorf("%s not in ctr images ls:\n%s", tt.ref, out)
			}
		})
	}
}
