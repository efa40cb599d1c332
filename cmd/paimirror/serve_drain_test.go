package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
)

// waitExit waits for serve to exit, up to bound (which only bounds the
// test when serve never exits), and returns its exit status.
func waitExit(t *testing.T, cmd *exec.Cmd, bound time.Duration, log fmt.Stringer) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		switch {
		case err == nil:
			return 0
		case errors.As(err, &ee):
			return ee.ExitCode()
		default:
			t.Fatalf("waiting for serve: %v", err)
		}
	case <-time.After(bound):
		t.Fatalf("serve still runs %s after SIGTERM:\n%s", bound, log)
	}
	return -1
}

// pageRequests returns how many requests for the file server's own pages
// serve has answered, from /metrics.
func pageRequests(t *testing.T, addr string) int {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		var c int
		if strings.HasPrefix(sc.Text(), `paimirror_http_requests_total{`) && strings.Contains(sc.Text(), `kind="page"`) {
			if _, err := fmt.Sscan(sc.Text()[strings.LastIndexByte(sc.Text(), ' ')+1:], &c); err == nil {
				n += c
			}
		}
	}
	return n
}

// TestServeDrainNotHeldBySlowBody sends a GET whose body (announced as
// 1000 bytes) stops after 10, then stops serve: the GET does not hold the
// drain, and serve exits 0 (it used to wait out --drain and exit 1).
func TestServeDrainNotHeldBySlowBody(t *testing.T) {
	path, _ := buildSmall(t, bundletest.Options{})
	addr := freeAddr(t)
	cmd, log := startServe(t, path, "--addr", addr, "--drain", "10s")
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: "+addr+"\r\nContent-Length: 1000\r\n\r\n0123456789")
	// Stop serve only once its handler has answered the GET (the metrics
	// count it then), so the drain finds the connection in use.
	deadline := time.Now().Add(20 * time.Second)
	for pageRequests(t, addr) < 1 {
		if time.Now().After(deadline) {
			t.Fatalf("serve never handled the GET:\n%s", log)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := waitExit(t, cmd, time.Minute, log); code != 0 {
		t.Errorf("serve exited %d after SIGTERM, want 0:\n%s", code, log)
	}
}

// TestServePullAcrossSIGTERM pulls the three images of the small bundle
// (seven blobs, the layers of 4 MiB) with crane, which fetches them one
// request after another, and stops serve once the first blob has been
// served: the pull, whose next requests come after
// SIGTERM on kept-alive and new connections, completes, and serve then
// exits 0.
func TestServePullAcrossSIGTERM(t *testing.T) {
	crane := bundletest.Tool(t, "crane")
	path, _ := buildSmall(t, bundletest.Options{LayerSize: 4 << 20})
	b, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, img := range b.Lock.Images {
		refs = append(refs, img.Names[0])
	}
	b.Close()
	addr := freeAddr(t)
	cmd, log := startServe(t, path, "--addr", addr, "--access-log")
	var args []string
	for _, r := range refs {
		args = append(args, addr+"/"+r)
	}
	pull := exec.Command(crane, append(append([]string{"pull", "--insecure"}, args...), filepath.Join(t.TempDir(), "images.tar"))...)
	var pullOut strings.Builder
	pull.Stdout, pull.Stderr = &pullOut, &pullOut
	if err := pull.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		pull.Process.Kill()
		pull.Wait()
	})
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(log.String(), "/blobs/sha256:") {
		if time.Now().After(deadline) {
			t.Fatalf("crane fetched no blob in a minute:\n%s", log)
		}
		time.Sleep(time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := pull.Wait(); err != nil {
		t.Errorf("the pull broke when serve was stopped: %v\n%s\nserve:\n%s", err, pullOut.String(), log)
	}
	if code := waitExit(t, cmd, time.Minute, log); code != 0 {
		t.Errorf("serve exited %d, want 0:\n%s", code, log)
	}
	served := strings.Count(log.String(), "/blobs/sha256:")
	if served < 7 {
		t.Errorf("serve answered %d blob requests, want the pull's 7 or more:\n%s", served, log)
	}
}
