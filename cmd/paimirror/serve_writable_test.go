package main

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/paimirror/paimirror/bundle/bundletest"
)

// TestServeFullDiskHidesPaths runs serve --writable with files limited to
// 64 KiB (RLIMIT_FSIZE: writes past it fail as on a full disk) and pushes
// an image with a 1 MiB layer: the push fails, the error the client gets
// names no path of the server's, and serve's log has the error with the
// writable directory's path.
func TestServeFullDiskHidesPaths(t *testing.T) {
	path, _ := buildSmall(t, bundletest.Options{})
	dir := t.TempDir()
	addr := freeAddr(t)
	_, log := startServeEnv(t, []string{"PAIMIRROR_TEST_RLIMIT_FSIZE=65536"}, path, "--addr", addr, "--writable", dir)
	img, err := random.Image(1<<20, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(addr+"/lab/big:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	err = remote.Write(ref, img)
	if err == nil {
		t.Fatal("a 1 MiB layer was stored with files limited to 64 KiB")
	}
	if strings.Contains(err.Error(), dir) || strings.Contains(err.Error(), "/docker/registry") {
		t.Errorf("the client's error shows the server's paths: %v", err)
	}
	if !strings.Contains(log.String(), dir) {
		t.Errorf("serve's log lacks the failing path under %s:\n%s", dir, log)
	}
	t.Logf("client: %v", err)
}
