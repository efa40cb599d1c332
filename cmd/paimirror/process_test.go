package main

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/bundletest/badlink"
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

// TestBuildResumesInsideBlobAfterSIGKILL pulls one 48 MiB layer from
// distribution's registry through a link paced at 16 MB/s per connection,
// kills the build with SIGKILL once a third of the layer has arrived, and
// reruns it: the registry is asked only for the bytes the killed build
// had not kept (counted in its access log), from where each connection
// stopped.
func TestBuildResumesInsideBlobAfterSIGKILL(t *testing.T) {
	const size = 48 << 20
	reg := badlink.Registry(t, badlink.RegistryOptions{})
	data := make([]byte, size)
	rand.Read(data)
	img, err := mutate.AppendLayers(empty.Image, static.NewLayer(data, types.DockerLayer))
	if err != nil {
		t.Fatal(err)
	}
	reg.Push(t, "lab/big", "v1", img)
	ls, _ := img.Layers()
	ld, _ := ls[0].Digest()
	layer := ld.String()
	px := badlink.Toxiproxy(t).Proxy(t, "registry", reg.Host)
	px.Bandwidth(t, 16_000)

	dir := t.TempDir()
	mf := filepath.Join(dir, "m.yaml")
	if err := os.WriteFile(mf, []byte("name: big\nimages:\n  - ref: docker.io/lab/big:v1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "b.tar")
	args := []string{"build", "-q", "-f", mf, "-o", out, "--mirror", "docker.io=http://" + px.Addr()}
	cmd := paimirror(t, args...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for keptBytes(t, out+".partial.d") < size/3 {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("the build kept less than a third of the layer in 60s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	kept := keptBytes(t, out+".partial.d")
	before := reg.BytesServed(layer)
	if kept >= size {
		t.Fatalf("the whole layer arrived before the kill (%d bytes)", kept)
	}

	if msg, err := paimirror(t, args...).CombinedOutput(); err != nil {
		t.Fatalf("rerun: %v\n%s", err, msg)
	}
	rerun := reg.BytesServed(layer) - before
	if missing := int64(size) - kept; rerun < missing || rerun > missing+size/20 {
		t.Errorf("the rerun was sent %d bytes of the layer; the killed build had kept %d of %d, so want %d (up to 5%% of the layer more)", rerun, kept, size, missing)
	}
	if msg, err := paimirror(t, "verify", out).CombinedOutput(); err != nil {
		t.Fatalf("verify: %v\n%s", err, msg)
	}
}

// keptBytes sums the bytes the download states in dir say are kept.
func keptBytes(t *testing.T, dir string) int64 {
	t.Helper()
	paths, _ := filepath.Glob(filepath.Join(dir, "*.state"))
	var n int64
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var st struct {
			Segments [][3]int64 `json:"segments"`
		}
		if json.NewDecoder(bytes.NewReader(data)).Decode(&st) != nil {
			continue
		}
		for _, g := range st.Segments {
			n += g[2] - g[0]
		}
	}
	return n
}
