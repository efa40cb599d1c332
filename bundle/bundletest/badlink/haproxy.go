package badlink

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
)

// LB is a running HAProxy (Debian's haproxy, the real program) balancing
// HTTP requests over several backends. It is safe for concurrent use.
type LB struct {
	// Addr is the host:port clients connect to.
	Addr string
	// StatsURL serves HAProxy's statistics as CSV (";csv"), which name
	// each backend server's state (UP, DOWN).
	StatsURL string
}

// HAProxy starts haproxy on a free loopback port in front of backends
// (host:port each, plain HTTP), round robin, and returns once it answers;
// it is stopped by its PID when the test ends. The program is
// PAIMIRROR_HAPROXY, else haproxy on PATH (/usr/sbin is searched too); a
// missing one skips the test, or fails it where testenv.RequireEnv is set.
//
// Its configuration is the one the README's "serve replicas" section
// recommends: each backend checked with GET /healthz every 200 ms, marked
// down after one failed check and up after two good ones; a request whose
// connection to a backend fails is sent to another (retries 3 with
// redispatch, retry-on conn-failure empty-response). One setting is the
// test's own: HAProxy's socket buffers are 64 KiB (tune.rcvbuf.server,
// tune.sndbuf.client), so that a response is in flight through it, not
// sitting whole in kernel buffers, when a test kills a backend.
func HAProxy(t testing.TB, backends []string) *LB {
	t.Helper()
	if !strings.Contains(os.Getenv("PATH"), "/usr/sbin") {
		t.Setenv("PATH", os.Getenv("PATH")+string(os.PathListSeparator)+"/usr/sbin")
	}
	bin := testenv.Find(t, testenv.Program{What: "HAProxy", Env: "PAIMIRROR_HAPROXY", Cached: "haproxy", Name: "haproxy", Provider: builder})
	dir := t.TempDir()
	lb := &LB{}
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{Proxy: nil}}
	launch := func(addrs []string) (*exec.Cmd, *tail, error) {
		var servers strings.Builder
		for i, b := range backends {
			if _, _, err := net.SplitHostPort(b); err != nil {
				return nil, nil, fmt.Errorf("backend %q: %v", b, err)
			}
			fmt.Fprintf(&servers, "  server replica%d %s check inter 200ms fall 1 rise 2\n", i+1, b)
		}
		config := fmt.Sprintf(`global
  maxconn 4096
  tune.rcvbuf.server 65536
  tune.sndbuf.client 65536
defaults
  mode http
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  retries 3
  option redispatch
  retry-on conn-failure empty-response
frontend mirror
  bind %s
  default_backend replicas
frontend stats
  bind %s
  stats enable
  stats uri /stats
backend replicas
  balance roundrobin
  option httpchk GET /healthz
  http-check expect status 200
%s`, addrs[0], addrs[1], servers.String())
		cfg := filepath.Join(dir, "haproxy.cfg")
		if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
			return nil, nil, err
		}
		out := &tail{}
		cmd := exec.Command(bin, "-db", "-f", cfg)
		cmd.Stdout, cmd.Stderr = out, out
		return cmd, out, nil
	}
	ready := func(addrs []string) error {
		resp, err := client.Get("http://" + addrs[0] + "/healthz")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /healthz through haproxy: %s", resp.Status)
		}
		return nil
	}
	_, addrs := startPeer(t, "haproxy", 2, launch, ready)
	lb.Addr = addrs[0]
	lb.StatsURL = "http://" + addrs[1] + "/stats;csv"
	return lb
}
