package main

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle/bundletest"
)

// TestServeAccessLogEveryKind: with --access-log, serve logs one record
// per request of every kind, not only the registry's: a file, a page, the
// package index's prefix, /metrics and /v2/ (once: not by the registry as
// well).
func TestServeAccessLogEveryKind(t *testing.T) {
	path, _ := buildSmall(t, bundletest.Options{})
	addr := freeAddr(t)
	_, log := startServe(t, path, "--addr", addr, "--access-log")
	file := "/k8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm"
	paths := []string{file, "/config.txt", "/pypi/simple/", "/metrics", "/v2/"}
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	for _, p := range paths {
		resp, err := client.Get("http://" + addr + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	// A record is written once its request is answered: wait for the
	// last one's (bounded, in case it never comes).
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(log.String(), "path=/v2/ ") && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	for _, p := range paths {
		n := 0
		for _, line := range strings.Split(log.String(), "\n") {
			if strings.Contains(line, "msg=request method=GET path="+p+" ") {
				n++
			}
		}
		if n != 1 {
			t.Errorf("%d access log records for GET %s, want 1:\n%s", n, p, log)
		}
	}
}
