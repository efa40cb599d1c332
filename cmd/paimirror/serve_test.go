package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
	"github.com/paimirror/paimirror/fileserver"
	"github.com/paimirror/paimirror/manifests"
)

// buildSmall builds the small manifest with a real paimirror process and
// returns the bundle path and the upstream.
func buildSmall(t *testing.T, opts bundletest.Options) (string, *bundletest.Upstream) {
	t.Helper()
	return buildFrom(t, smallFor(t), opts)
}

// buildFrom builds m from a local upstream made with opts, with a real
// paimirror process, and returns the bundle path (in a directory of its
// own, for the test to use) and the upstream.
func buildFrom(t *testing.T, m *manifests.Manifest, opts bundletest.Options) (string, *bundletest.Upstream) {
	t.Helper()
	u, err := bundletest.Start(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	dir := t.TempDir()
	mf := filepath.Join(dir, "m.yaml")
	os.WriteFile(mf, []byte(manifestYAML(t, u.Manifest)), 0o644)
	out := filepath.Join(dir, "b.tar")
	if msg, err := paimirror(t, append([]string{"build", "-q", "-f", mf, "-o", out}, mirrorArgs(u)...)...).CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, msg)
	}
	return out, u
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// startServe runs `paimirror serve` and waits until it reports its address.
func startServe(t *testing.T, args ...string) (*exec.Cmd, *testenv.Buffer) {
	t.Helper()
	return startServeEnv(t, nil, args...)
}

// startServeEnv is startServe with extra environment variables (NAME=VALUE)
// for the serve process. Its log is safe to read while serve runs.
func startServeEnv(t *testing.T, env []string, args ...string) (*exec.Cmd, *testenv.Buffer) {
	t.Helper()
	cmd := paimirror(t, append([]string{"serve"}, args...)...)
	cmd.Env = append(cmd.Env, env...)
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
	log := &testenv.Buffer{}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.HasPrefix(sc.Text(), "index page") {
				ready <- true
			}
		}
		close(ready)
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("serve exited:\n%s", log)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start:\n%s", log)
	}
	return cmd, log
}

// TestServeTLSDir serves a bundle over TLS with a generated CA: curl trusts
// the CA it downloads from the server and fetches a file; a restart reuses
// the same CA.
func TestServeTLSDir(t *testing.T) {
	curl := bundletest.Tool(t, "curl")
	path, u := buildSmall(t, bundletest.Options{})
	tlsDir := filepath.Join(t.TempDir(), "tls")
	addr := freeAddr(t)
	cmd, _ := startServe(t, path, "--addr", addr, "--tls-dir", tlsDir)

	ca := filepath.Join(t.TempDir(), "ca.crt")
	if msg, err := exec.Command(curl, "-fsS", "-k", "-o", ca, "https://"+addr+fileserver.PathCA).CombinedOutput(); err != nil {
		t.Fatalf("fetching the CA: %v\n%s", err, msg)
	}
	url := "https://" + addr + "/k8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm"
	got, err := exec.Command(curl, "-fsS", "--cacert", ca, url).Output()
	if err != nil {
		t.Fatalf("curl with the served CA: %v", err)
	}
	want := u.FileData[u.Manifest.Files[0].URL]
	if string(got) != string(want) {
		t.Error("file over TLS differs from upstream")
	}
	// Without the CA, curl refuses the certificate.
	if err := exec.Command(curl, "-fsS", "-o", os.DevNull, url).Run(); err == nil {
		t.Error("curl trusted the generated certificate without its CA")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()

	before, _ := os.ReadFile(filepath.Join(tlsDir, "ca.crt"))
	startServe(t, path, "--addr", addr, "--tls-dir", tlsDir)
	after, _ := os.ReadFile(filepath.Join(tlsDir, "ca.crt"))
	if string(before) != string(after) {
		t.Error("a restart made a new CA; nodes that trust the old one would break")
	}
	if err := exec.Command(curl, "-fsS", "--cacert", ca, "-o", os.DevNull, url).Run(); err != nil {
		t.Errorf("after restart: %v", err)
	}
}

// TestServeDrainsOnSIGTERM stops serve while a download is in flight: the
// download completes and serve exits cleanly.
func TestServeDrainsOnSIGTERM(t *testing.T) {
	path, _ := buildSmall(t, bundletest.Options{LayerSize: 8 << 20})
	addr := freeAddr(t)
	cmd, log := startServe(t, path, "--addr", addr)
	repo, layer := firstImageLayer(t, path)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/v2/%s/blobs/%s", addr, repo, layer.Digest), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h := sha256.New()
	// Read a little, stop the server, then read the rest slowly.
	if _, err := io.CopyN(h, resp.Body, 64<<10); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 256<<10)
	for {
		n, err := resp.Body.Read(buf)
		h.Write(buf[:n])
		if err == io.EOF {
			break
		}
		if err != nil {
			cmd.Wait()
			t.Fatalf("download cut by shutdown: %v\n%s", err, log)
		}
		time.Sleep(time.Millisecond) // a slow client, so the drain has work to wait for
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != string(layer.Digest) {
		t.Errorf("drained download hashes to %s, want %s", got, layer.Digest)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("serve exit: %v\n%s", err, log)
	}
	if !strings.Contains(log.String(), "letting in-flight requests finish") {
		t.Errorf("serve did not say it was draining:\n%s", log)
	}
}

// TestServeKeepsOpenedBundle replaces the served bundle on disk with a
// different one, as `mv new.tar served.tar` or a rebuild to the same path
// does: serve goes on answering with the bundle it opened, byte for byte
// and with the same ETags, for files and blobs alike.
func TestServeKeepsOpenedBundle(t *testing.T) {
	path, u := buildSmall(t, bundletest.Options{})
	other, _ := buildSmall(t, bundletest.Options{FileSize: 5000, LayerSize: 3 << 10})
	addr := freeAddr(t)
	startServe(t, path, "--addr", addr)

	repo, layer := firstImageLayer(t, path)
	fileURL := "http://" + addr + "/k8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm"
	blobURL := fmt.Sprintf("http://%s/v2/%s/blobs/%s", addr, repo, layer.Digest)
	get := func(u string) ([]byte, string) {
		t.Helper()
		resp, err := http.Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %v", u, resp.Status, err)
		}
		return body, resp.Header.Get("ETag")
	}
	wantFile, fileTag := get(fileURL)
	if string(wantFile) != string(u.FileData[u.Manifest.Files[0].URL]) {
		t.Fatal("the file differs from upstream before the bundle is replaced")
	}
	_, blobTag := get(blobURL)

	if err := os.Rename(other, path); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // twice: a reused connection too
		got, tag := get(fileURL)
		if string(got) != string(wantFile) || tag != fileTag {
			t.Errorf("after the bundle was replaced the file is %d bytes (sha256 %x), ETag %s; want the served bundle's %d bytes, ETag %s",
				len(got), sha256.Sum256(got), tag, len(wantFile), fileTag)
		}
		blob, tag := get(blobURL)
		if sum := sha256.Sum256(blob); "sha256:"+hex.EncodeToString(sum[:]) != string(layer.Digest) || tag != blobTag {
			t.Errorf("after the bundle was replaced the blob hashes to %x, ETag %s; want %s, ETag %s", sum, tag, layer.Digest, blobTag)
		}
	}
}

// firstImageLayer returns the first image's repository (its first mirror
// name without the tag) and its last layer, from the bundle at path.
func firstImageLayer(t *testing.T, path string) (string, bundle.Blob) {
	t.Helper()
	b, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	img := b.Lock.Images[0]
	repo, _, _ := strings.Cut(img.Names[0], ":")
	return repo, img.Layers[len(img.Layers)-1]
}
