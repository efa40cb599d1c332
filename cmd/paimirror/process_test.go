package main

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/manifests"
)

// paimirror returns a command running this test binary as paimirror (the
// link testscript.Main puts on PATH).
func paimirror(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	path, err := exec.LookPath("paimirror")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	return cmd
}

func mirrorArgs(u *bundletest.Upstream) []string {
	var out []string
	for _, m := range u.MirrorFlags() {
		out = append(out, "--mirror", m)
	}
	return out
}

// TestBuildSurvivesSIGKILL kills a real build process with SIGKILL half way,
// reruns the same command, and checks that the result verifies and that no
// blob stored before the kill was downloaded again.
func TestBuildSurvivesSIGKILL(t *testing.T) {
	def := manifests.Default()
	sel, err := def.Select(nil, []string{"kubespray-files"})
	if err != nil {
		t.Fatal(err)
	}
	sel.Files = nil
	u, err := bundletest.Start(sel, bundletest.Options{Delay: 20 * time.Millisecond, LayerSize: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	dir := t.TempDir()
	mf := filepath.Join(dir, "m.yaml")
	if err := os.WriteFile(mf, []byte(manifestYAML(t, u.Manifest)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "b.tar")
	args := append([]string{"build", "-q", "-j", "2", "-f", mf, "-o", out}, mirrorArgs(u)...)

	cmd := paimirror(t, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until some blobs are in the partial file, then kill -9.
	deadline := time.Now().Add(30 * time.Second)
	for len(bundletest.TarBlobs(out+".partial")) < 10 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the build stored no blobs in 30s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("build was not killed: %v", err)
	}
	if _, err := os.Stat(out); err == nil {
		t.Fatal("a killed build left a finished bundle")
	}
	stored := bundletest.TarBlobs(out + ".partial")
	before := u.Requests()

	rerun := paimirror(t, args...)
	if msg, err := rerun.CombinedOutput(); err != nil {
		t.Fatalf("rerun: %v\n%s", err, msg)
	}
	after := u.Requests()
	for _, d := range stored {
		for p, n := range after {
			if strings.HasSuffix(p, "/blobs/sha256:"+d) && n != before[p] {
				t.Errorf("blob %s was stored before the kill and fetched again", d[:12])
			}
		}
	}
	b, err := bundle.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if len(b.Lock.Images) != len(sel.Images) {
		t.Errorf("bundle has %d images, want %d", len(b.Lock.Images), len(sel.Images))
	}
	if msg, err := paimirror(t, "verify", out).CombinedOutput(); err != nil {
		t.Fatalf("verify: %v\n%s", err, msg)
	}
}

// TestSkopeoReadsExtractedBundle extracts a bundle with tar and has skopeo
// copy images out of the OCI layout by their mirror names, byte for byte:
// Docker schema 2 images (most of OpenPAI's) and OCI images alike.
func TestSkopeoReadsExtractedBundle(t *testing.T) {
	skopeo := bundletest.Tool(t, "skopeo")
	tarBin := bundletest.Tool(t, "tar")
	small := smallFor(t)
	// etcd is OCI-typed upstream; the others are Docker schema 2.
	out, u := buildFrom(t, small, bundletest.Options{OCI: map[string]bool{"quay.io/coreos/etcd:v3.3.10": true}})
	dir := filepath.Dir(out)
	layout := filepath.Join(dir, "layout")
	os.Mkdir(layout, 0o755)
	if msg, err := exec.Command(tarBin, "-xf", out, "-C", layout).CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, msg)
	}
	for _, name := range []string{"library/busybox:1.31.1", "gcr.io/google-containers/kube-apiserver:v1.15.11", "quay.io/coreos/etcd:v3.3.10"} {
		t.Run(name, func(t *testing.T) {
			dst := filepath.Join(t.TempDir(), "out")
			cmd := exec.Command(skopeo, "--insecure-policy", "copy", "oci:"+layout+":"+name, "dir:"+dst)
			if msg, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("skopeo copy: %v\n%s", err, msg)
			}
			ref := map[string]string{
				"library/busybox:1.31.1":                           "docker.io/library/busybox:1.31.1",
				"gcr.io/google-containers/kube-apiserver:v1.15.11": "gcr.io/google-containers/kube-apiserver:v1.15.11",
				"quay.io/coreos/etcd:v3.3.10":                      "quay.io/coreos/etcd:v3.3.10",
			}[name]
			want, _ := u.Images[ref].RawManifest()
			got, err := os.ReadFile(filepath.Join(dst, "manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Errorf("skopeo's manifest differs from upstream's:\n%s\n%s", got, want)
			}
		})
	}
}
