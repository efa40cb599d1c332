package main

import (
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/bundletest/badlink"
	"github.com/paimirror/paimirror/manifests"
)

// TestPushSurvivesSIGKILL pushes a bundle through a slow link into
// distribution's registry, kills the push with SIGKILL once the registry
// holds some of its blobs, and reruns it: the rerun completes, sends only
// what the registry still lacked, and every name pulls back whole with the
// lock's digest.
func TestPushSurvivesSIGKILL(t *testing.T) {
	sel := firstImages(t, 8)
	b, path := bundletest.Build(t, sel, bundletest.Options{LayerSize: 256 << 10})
	reg := badlink.Registry(t, badlink.RegistryOptions{})
	px := badlink.Toxiproxy(t).Proxy(t, "registry", reg.Host)
	px.AddToxic(t, "upload", "bandwidth", badlink.Upstream, 1, map[string]any{"rate": 1_000})

	args := []string{"push", "-q", "-j", "2", path, px.Addr() + "/lab/openpai", "--insecure"}
	cmd := paimirror(t, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	blobsDir := filepath.Join(reg.StorageDir, "docker", "registry", "v2", "blobs", "sha256")
	deadline := time.Now().Add(60 * time.Second)
	for storedBlobs(blobsDir) < 3 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the registry got no 3 blobs in 60s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee interface{ Sys() any }
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("push was not killed: %v", err)
	}
	// Drop the dead push's relayed connections before the link is fast
	// again: a request toxiproxy still held for it would otherwise reach
	// the registry during the rerun and count as the rerun's.
	px.Disable(t)
	px.RemoveToxic(t, "upload")
	px.Enable(t)
	kept := linkedBlobs(t, b, reg.Host+"/lab/openpai")
	before := len(reg.AccessLog())

	if msg, err := paimirror(t, args...).CombinedOutput(); err != nil {
		t.Fatalf("rerun: %v\n%s", err, msg)
	}
	uploads := 0
	for _, e := range reg.AccessLog()[before:] {
		if e.Method == http.MethodPost && !strings.Contains(e.URI, "mount=") {
			uploads++
		}
	}
	unique := uniqueBlobs(b)
	if kept >= len(unique) {
		t.Fatalf("every blob (%d) was in the registry before the kill", kept)
	}
	if want := len(unique) - kept; uploads > want {
		t.Errorf("the rerun uploaded %d blobs; the registry held %d of %d after the kill, so at most %d were missing", uploads, kept, len(unique), want)
	}
	checkPushed(t, b, reg.Host+"/lab/openpai")
}

// firstImages returns a manifest of the default manifest's first n
// images, and nothing else.
func firstImages(t *testing.T, n int) *manifests.Manifest {
	t.Helper()
	sel, err := manifests.Default().Select(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sel.Files, sel.Python, sel.Apt = nil, nil, nil
	sel.Images = sel.Images[:n]
	return sel
}

// storedBlobs counts the blobs in a filesystem-driver registry's storage.
func storedBlobs(dir string) int {
	n := 0
	prefixes, _ := os.ReadDir(dir)
	for _, p := range prefixes {
		blobs, _ := os.ReadDir(filepath.Join(dir, p.Name()))
		for _, bl := range blobs {
			if _, err := os.Stat(filepath.Join(dir, p.Name(), bl.Name(), "data")); err == nil {
				n++
			}
		}
	}
	return n
}

// uniqueBlobs returns the set of blob digests b's images hold.
func uniqueBlobs(b *bundle.Bundle) map[digest.Digest]bool {
	unique := map[digest.Digest]bool{}
	for _, img := range b.Lock.Images {
		for _, bl := range img.Blobs() {
			unique[bl.Digest] = true
		}
	}
	return unique
}

// linkedBlobs counts the blobs of b that the registry at prefix (plain
// HTTP) serves under at least one repository b's images are pushed to: a
// blob stored but linked nowhere yet (a commit cut by the kill) is not
// one a push can mount, so it does not count.
func linkedBlobs(t *testing.T, b *bundle.Bundle, prefix string) int {
	t.Helper()
	linked := map[digest.Digest]bool{}
	for _, img := range b.Lock.Images {
		for _, n := range img.Names {
			ref, err := name.ParseReference(prefix+"/"+n, name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			repo := ref.Context()
			for _, bl := range img.Blobs() {
				resp, err := http.Head("http://" + repo.RegistryStr() + "/v2/" + repo.RepositoryStr() + "/blobs/" + string(bl.Digest))
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					linked[bl.Digest] = true
				}
			}
		}
	}
	return len(linked)
}

// checkPushed pulls every mirror name of b's images from prefix (a plain
// HTTP registry) and checks the digest and every blob.
func checkPushed(t *testing.T, b *bundle.Bundle, prefix string) {
	t.Helper()
	for _, img := range b.Lock.Images {
		for _, n := range img.Names {
			ref, err := name.ParseReference(prefix+"/"+n, name.Insecure)
			if err != nil {
				t.Fatal(err)
			}
			got, err := remote.Image(ref, remote.WithContext(t.Context()))
			if err != nil {
				t.Errorf("pulling %s: %v", ref, err)
				continue
			}
			if d, _ := got.Digest(); d.String() != string(img.Digest) {
				t.Errorf("%s: digest %s, the lock says %s", ref, d, img.Digest)
			}
			layers, err := got.Layers()
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range layers {
				// go-containerregistry checks the digest as it reads.
				rc, err := l.Compressed()
				if err == nil {
					_, err = io.Copy(io.Discard, rc)
					rc.Close()
				}
				if err != nil {
					t.Errorf("%s: reading a layer: %v", ref, err)
				}
			}
		}
	}
}

func TestPushPasswordStdin(t *testing.T) {
	m, err := manifests.Parse("one.yaml", []byte("name: one\nimages:\n  - ref: docker.io/library/busybox:1.31.1\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, path := bundletest.Build(t, m, bundletest.Options{})
	reg := badlink.Registry(t, badlink.RegistryOptions{Htpasswd: true})

	cmd := paimirror(t, "push", path, "http://"+reg.Host+"/lab", "--username", reg.Username, "--password-stdin")
	cmd.Stdin = strings.NewReader(reg.Password + "\n")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("push: %v\n%s", err, out)
	}
	if strings.Contains(string(out), reg.Password) {
		t.Fatalf("the output shows the password:\n%s", out)
	}
	if !strings.Contains(string(out), "pushed 1 of 1 images") {
		t.Errorf("output:\n%s", out)
	}

	cmd = paimirror(t, "push", path, "http://"+reg.Host+"/lab", "--username", reg.Username, "--password-stdin")
	cmd.Stdin = strings.NewReader("not-" + reg.Password + "\n")
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "401") || strings.Contains(string(out), "not-"+reg.Password) {
		t.Fatalf("a wrong password: %v\n%s", err, out)
	}

	cmd = paimirror(t, "push", path, "http://"+reg.Host+"/lab", "--username", reg.Username)
	out, err = cmd.CombinedOutput()
	if code := exitCode(err); code != exitUsage {
		t.Fatalf("--username without --password-stdin: exit %d\n%s", code, out)
	}
}

// exitCode returns a finished command's exit status.
func exitCode(err error) int {
	var ee interface{ ExitCode() int }
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
