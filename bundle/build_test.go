package bundle_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/manifests"
)

const smallManifest = bundletest.SmallManifest

func parse(t *testing.T, text string) *manifests.Manifest {
	t.Helper()
	m, err := manifests.Parse("test.yaml", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func startUpstream(t *testing.T, m *manifests.Manifest, opts bundletest.Options) *bundletest.Upstream {
	t.Helper()
	u, err := bundletest.Start(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	return u
}

func buildOpts(t *testing.T, u *bundletest.Upstream) bundle.BuildOptions {
	return bundle.BuildOptions{
		Output:    filepath.Join(t.TempDir(), "b.tar"),
		Mirrors:   u.Mirrors(),
		Transport: bundletest.LoopbackTransport(),
		Jobs:      4,
	}
}

func openVerified(t *testing.T, path string) *bundle.Bundle {
	t.Helper()
	b, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	rep, err := b.Verify(context.Background(), bundle.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("verify: %v", rep.Problems)
	}
	return b
}

// TestBuildDefaultManifestImages builds every image of the embedded default
// manifest from a local upstream and verifies the result.
func TestBuildDefaultManifestImages(t *testing.T) {
	def := manifests.Default()
	u := startUpstream(t, def, bundletest.Options{})
	opts := buildOpts(t, u)
	opts.Jobs = 8
	res, err := bundle.Build(context.Background(), u.Manifest, opts)
	if err != nil {
		t.Fatal(err)
	}
	sel, err := def.Select(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Lock.Images) != len(sel.Images) || len(res.Lock.Files) != len(sel.Files) {
		t.Fatalf("lock has %d images, %d files; want %d, %d", len(res.Lock.Images), len(res.Lock.Files), len(sel.Images), len(sel.Files))
	}
	b := openVerified(t, res.Path)
	names := map[string]bool{}
	for i, img := range b.Lock.Images {
		want := u.Images[img.Ref]
		d, _ := want.Digest()
		if string(img.Digest) != d.String() {
			t.Errorf("%s: digest %s, upstream has %s", img.Ref, img.Digest, d)
		}
		if img.Ref != sel.Images[i].Ref {
			t.Errorf("image %d is %s, want manifest order %s", i, img.Ref, sel.Images[i].Ref)
		}
		for _, n := range img.Names {
			names[n] = true
		}
	}
	for _, n := range []string{"library/nginx:1.15", "siaimes/kube-apiserver:v1.15.11", "quay.io/coreos/etcd:v3.3.10", "openpai/rest-server:v1.8.0", "library/busybox:1.31.1"} {
		if !names[n] {
			t.Errorf("no image is named %s", n)
		}
	}
	// The python section resolves against the fake index for every target.
	py := b.Lock.Python
	if py == nil || len(py.Resolutions) != len(def.Python.Targets) {
		t.Fatalf("lock python %+v", py)
	}
	for _, r := range py.Resolutions {
		var names []string
		for _, g := range r.Groups {
			names = append(names, g.Name)
		}
		if len(names) != len(def.Python.Installs) || names[0] != "pip" || names[len(names)-1] != "ansible" {
			t.Errorf("%s: installs %q", r.Target, names)
		}
	}
	// One wheel per requirement of the installs: 13 (jinja2 and ansible are
	// pinned twice).
	if n := len(py.Files); n != 13 {
		t.Errorf("%d python files, want 13", n)
	}
	// Every image shares the upstream's base layer: stored once, fetched once.
	if res.Shared == 0 {
		t.Error("no bytes saved by shared blobs")
	}
	counts := map[string]int{}
	for _, p := range u.BlobGets() {
		if i := strings.Index(p, "/blobs/"); i >= 0 {
			counts[p[i:]]++
		}
	}
	for p, n := range counts {
		if n != 1 {
			t.Errorf("%s fetched %d times", p, n)
		}
	}
	// One registry ping per source repository, not one per blob.
	if pings := u.Requests()["GET /v2/"]; pings > len(sel.Images) {
		t.Errorf("%d pings of /v2/ for %d images", pings, len(sel.Images))
	}
	if _, err := os.Stat(opts.Output + ".partial"); !os.IsNotExist(err) {
		t.Errorf("partial file left behind: %v", err)
	}
}

func TestBuildGroupsAndLock(t *testing.T) {
	m := parse(t, smallManifest)
	u := startUpstream(t, m, bundletest.Options{})
	opts := buildOpts(t, u)
	opts.Include = []string{"extra"}
	res, err := bundle.Build(context.Background(), u.Manifest, opts)
	if err != nil {
		t.Fatal(err)
	}
	b := openVerified(t, res.Path)
	if len(b.Lock.Images) != 4 {
		t.Fatalf("got %d images, want 4 with --include extra", len(b.Lock.Images))
	}
	f := b.Lock.Files[0]
	if f.Source != u.Manifest.Files[0].URL && !strings.HasPrefix(f.Source, u.Files.URL) {
		t.Errorf("file source %q", f.Source)
	}
	wantPaths := []string{"/storage.googleapis.com/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm", "/k8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm"}
	if strings.Join(f.Paths, " ") != strings.Join(wantPaths, " ") {
		t.Errorf("paths %v, want %v", f.Paths, wantPaths)
	}
	unpinned := b.Lock.Files[1]
	if !unpinned.Unpinned || unpinned.Size != 4096 {
		t.Errorf("unpinned file: %+v", unpinned)
	}
	r, err := b.Blob(unpinned.Digest())
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	if string(got) != string(u.FileData[u.Manifest.Files[1].URL]) {
		t.Error("unpinned file content differs from upstream")
	}
	if b.Lock.Manifest.Text != smallManifest || b.Lock.Manifest.Name != "small" {
		t.Error("lock does not record the manifest")
	}
	if err := os.WriteFile(opts.Output+".x", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	// The output exists: a second build refuses unless forced.
	if _, err := bundle.Build(context.Background(), u.Manifest, opts); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("rebuilding over an existing bundle: %v", err)
	}
}

func TestBuildExcludeAll(t *testing.T) {
	m := parse(t, smallManifest)
	_, err := bundle.Build(context.Background(), m, bundle.BuildOptions{Output: filepath.Join(t.TempDir(), "x.tar"), Include: []string{"nope"}})
	if err == nil || !strings.Contains(err.Error(), "nope") {
		t.Fatalf("unknown group: %v", err)
	}
}

// TestBuildResume cancels a build half way, damages the tail of the partial
// file, and checks the rerun fetches nothing already stored.
func TestBuildResume(t *testing.T) {
	def := manifests.Default()
	u := startUpstream(t, def, bundletest.Options{})
	opts := buildOpts(t, u)
	ctx, cancel := context.WithCancel(context.Background())
	done := 0
	opts.Progress = func(e bundle.Event) {
		if e.Kind == bundle.EventDone {
			if done++; done == 30 {
				cancel()
			}
		}
	}
	if _, err := bundle.Build(ctx, u.Manifest, opts); err == nil {
		t.Fatal("cancelled build succeeded")
	}
	partial := opts.Output + ".partial"
	stored := tarBlobNames(t, partial)
	if len(stored) < 25 {
		t.Fatalf("only %d blobs kept in the partial file", len(stored))
	}
	// A torn last write: half a header.
	f, err := os.OpenFile(partial, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 300))
	f.Close()

	before := u.Requests()
	opts.Progress = nil
	var resumed int64
	opts.Progress = func(e bundle.Event) {
		if e.Kind == bundle.EventResumed {
			resumed = e.Bytes
		}
	}
	res, err := bundle.Build(context.Background(), u.Manifest, opts)
	if err != nil {
		t.Fatal(err)
	}
	if resumed == 0 || res.Resumed != resumed {
		t.Errorf("resumed %d bytes, result says %d", resumed, res.Resumed)
	}
	after := u.Requests()
	for _, d := range stored {
		for p, n := range after {
			if strings.HasSuffix(p, "/blobs/sha256:"+d) && n != before[p] {
				t.Errorf("blob %s was stored before and fetched again", d[:12])
			}
		}
	}
	openVerified(t, res.Path)
}

func tarBlobNames(t *testing.T, path string) []string {
	t.Helper()
	return bundletest.TarBlobs(path)
}

func TestBuildWrongBytes(t *testing.T) {
	m := parse(t, `name: one
images:
  - ref: quay.io/coreos/etcd:v3.3.10
`)
	var layer string
	u := startUpstream(t, m, bundletest.Options{Tamper: func(r *http.Request) bool {
		return layer != "" && strings.HasSuffix(r.URL.Path, layer) && strings.HasPrefix(r.URL.Path, "/v2/quay.io/")
	}})
	ls, _ := u.Images["quay.io/coreos/etcd:v3.3.10"].Layers()
	d, _ := ls[1].Digest()
	layer = d.String()

	t.Run("only a bad source", func(t *testing.T) {
		opts := buildOpts(t, u)
		_, err := bundle.Build(context.Background(), u.Manifest, opts)
		if !errors.Is(err, bundle.ErrDigestMismatch) {
			t.Fatalf("want a digest mismatch, got %v", err)
		}
		var de *bundle.DigestError
		if !errors.As(err, &de) || string(de.Want) != layer || string(de.Got) == layer || !strings.Contains(de.Source, "quay.io/coreos/etcd") {
			t.Fatalf("error does not name source and digests: %v", err)
		}
		for _, want := range []string{"quay.io/coreos/etcd:v3.3.10", layer, "rerun"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not mention %q", err, want)
			}
		}
		for _, n := range tarBlobNames(t, opts.Output+".partial") {
			if "sha256:"+n == layer {
				t.Error("the bad bytes were stored")
			}
		}
	})
	t.Run("a good second source", func(t *testing.T) {
		good := startUpstream(t, m, bundletest.Options{})
		// Seed the good upstream with the same image.
		dst, _ := name.ParseReference(strings.TrimPrefix(good.Registry.URL, "http://") + "/quay.io/coreos/etcd:v3.3.10")
		if err := remote.Write(dst, u.Images["quay.io/coreos/etcd:v3.3.10"]); err != nil {
			t.Fatal(err)
		}
		opts := buildOpts(t, u)
		opts.Mirrors = append(opts.Mirrors, good.Mirrors()...)
		res, err := bundle.Build(context.Background(), u.Manifest, opts)
		if err != nil {
			t.Fatal(err)
		}
		openVerified(t, res.Path)
	})
}

func TestBuildUnreachable(t *testing.T) {
	closed, err := bundletest.ClosedAddr()
	if err != nil {
		t.Fatal(err)
	}
	m := parse(t, `name: one
images:
  - ref: quay.io/coreos/etcd:v3.3.10
files:
  - url: https://github.com/x/y/releases/download/v1/z
    sha256: 2ebc93a6f64419e5e7f26a4674c6784463c7b2a51c0afe8ec2c0423471e7cec3
`)
	for _, tc := range []struct {
		name    string
		mirrors []bundle.Mirror
	}{
		{"no mirror", nil},
		{"mirror refuses connections", []bundle.Mirror{{From: "quay.io", To: "http://" + closed}, {From: "https://github.com", To: "http://" + closed}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bundle.Build(context.Background(), m, bundle.BuildOptions{
				Output: filepath.Join(t.TempDir(), "b.tar"), Mirrors: tc.mirrors, Transport: bundletest.LoopbackTransport(), Retries: 1,
			})
			if !errors.Is(err, bundle.ErrUnreachable) {
				t.Fatalf("want ErrUnreachable, got %v", err)
			}
			for _, want := range []string{"quay.io/coreos/etcd:v3.3.10", "--mirror quay.io=", "https://github.com/x/y/releases/download/v1/z", "--mirror https://github.com="} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not mention %q:\n%v", want, err)
				}
			}
		})
	}
}

func TestBuildSchema1(t *testing.T) {
	m := parse(t, `name: one
images:
  - ref: docker.io/old/thing:v1
`)
	u := startUpstream(t, parse(t, "name: empty\n"), bundletest.Options{})
	body := `{"schemaVersion":1,"name":"old/thing","tag":"v1","architecture":"amd64","fsLayers":[],"history":[]}`
	req, _ := http.NewRequest(http.MethodPut, u.Registry.URL+"/v2/docker.io/old/thing/manifests/v1", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/vnd.docker.distribution.manifest.v1+prettyjws")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("seeding schema 1 manifest: %s", resp.Status)
	}
	regHost := strings.TrimPrefix(u.Registry.URL, "http://")
	_, err = bundle.Build(context.Background(), m, bundle.BuildOptions{
		Output:    filepath.Join(t.TempDir(), "b.tar"),
		Mirrors:   []bundle.Mirror{{From: "docker.io", To: "http://" + regHost + "/docker.io"}},
		Transport: bundletest.LoopbackTransport(),
	})
	if !errors.Is(err, bundle.ErrSchema1) || !strings.Contains(err.Error(), "docker.io/old/thing:v1") {
		t.Fatalf("want a schema 1 error naming the image, got %v", err)
	}
}

func TestBuildMultiPlatform(t *testing.T) {
	m := parse(t, `name: one
images:
  - ref: docker.io/library/busybox:1.31.1
  - ref: docker.io/library/nginx:1.15
    platforms: [linux/arm64]
`)
	u := startUpstream(t, parse(t, "name: empty\n"), bundletest.Options{})
	regHost := strings.TrimPrefix(u.Registry.URL, "http://")
	amd, arm := randomImage(t), randomImage(t)
	idx := bundletest.Index(map[string]v1.Image{"linux/amd64": amd, "linux/arm64": arm})
	for _, r := range []string{"library/busybox:1.31.1", "library/nginx:1.15"} {
		ref, _ := name.ParseReference(regHost + "/docker.io/" + r)
		if err := remote.WriteIndex(ref, idx); err != nil {
			t.Fatal(err)
		}
	}
	res, err := bundle.Build(context.Background(), m, bundle.BuildOptions{
		Output:    filepath.Join(t.TempDir(), "b.tar"),
		Mirrors:   []bundle.Mirror{{From: "docker.io", To: "http://" + regHost + "/docker.io"}},
		Transport: bundletest.LoopbackTransport(),
	})
	if err != nil {
		t.Fatal(err)
	}
	b := openVerified(t, res.Path)
	idxDigest, _ := idx.Digest()
	amdDigest, _ := amd.Digest()
	armDigest, _ := arm.Digest()
	for i, want := range []v1.Hash{amdDigest, armDigest} {
		img := b.Lock.Images[i]
		if string(img.IndexDigest) != idxDigest.String() || string(img.Digest) != want.String() {
			t.Errorf("%s: index %s digest %s; want %s %s", img.Ref, img.IndexDigest, img.Digest, idxDigest, want)
		}
		if _, ok := b.BlobSize(digest.Digest(idxDigest.String())); ok {
			t.Error("the index itself was stored; only the platform's manifest should be")
		}
	}
}

func randomImage(t *testing.T) v1.Image {
	t.Helper()
	img, err := bundletest.RandomImage(1024)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// TestBuildDropsUnusedPlaces: a build stopped while it downloads an image
// in place leaves that image's members reserved in the partial file; a
// rerun that no longer wants the image leaves them out of the bundle.
func TestBuildDropsUnusedPlaces(t *testing.T) {
	m := parse(t, smallManifest)
	u := startUpstream(t, m, bundletest.Options{Delay: 100 * time.Millisecond})
	opts := buildOpts(t, u)
	opts.Include = []string{"extra"}
	// registry:2's own layer (bundletest shares a base layer among all).
	ls, _ := u.Images["docker.io/library/registry:2"].Layers()
	own, _ := ls[len(ls)-1].Digest()
	ctx, cancel := context.WithCancel(context.Background())
	opts.Progress = func(e bundle.Event) {
		if e.Kind == bundle.EventStart && e.Item == "docker.io/library/registry:2 "+own.Hex[:12] {
			cancel()
		}
	}
	if _, err := bundle.Build(ctx, u.Manifest, opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("want the build cancelled, got %v", err)
	}
	var reserved []string
	all := map[string]bool{}
	for _, d := range bundletest.TarBlobs(opts.Output + ".partial") {
		all[d] = true
	}
	for _, l := range ls {
		d, _ := l.Digest()
		if !all[d.Hex] {
			reserved = append(reserved, d.Hex)
		}
	}
	if len(reserved) == 0 {
		t.Fatal("the stopped build stored every layer of registry:2: the test did not stop it in time")
	}

	opts.Include, opts.Progress = nil, nil
	res, err := bundle.Build(context.Background(), u.Manifest, opts)
	if err != nil {
		t.Fatal(err)
	}
	b := openVerified(t, res.Path)
	have := map[digest.Digest]bool{}
	for _, d := range b.Digests() {
		have[d] = true
	}
	used := map[digest.Digest]bool{}
	for _, img := range b.Lock.Images {
		for _, bl := range img.Blobs() {
			used[bl.Digest] = true
		}
	}
	unused := 0
	for _, d := range reserved {
		if used[digest.NewDigestFromEncoded(digest.SHA256, d)] {
			continue // shared with an image the bundle has
		}
		unused++
		if have[digest.NewDigestFromEncoded(digest.SHA256, d)] {
			t.Errorf("the bundle holds layer %s of an image it does not have", d[:12])
		}
	}
	if unused == 0 {
		t.Error("only shared layers were reserved: the test did not test leaving one out")
	}
}

// TestBuildKeepsConnections builds the default manifest's images with the
// default transport from http:// mirrors: each connection to the upstream
// is kept for the build's next request to it (not closed once two are
// idle and dialled again), and no repository's ping tries TLS first.
func TestBuildKeepsConnections(t *testing.T) {
	sel, err := manifests.Default().Select(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	sel.Files, sel.Python, sel.Apt = nil, nil, nil
	u := startUpstream(t, sel, bundletest.Options{})
	opts := buildOpts(t, u)
	opts.Transport = nil
	if _, err := bundle.Build(context.Background(), u.Manifest, opts); err != nil {
		t.Fatal(err)
	}
	requests := 0
	for _, n := range u.Requests() {
		requests += n
	}
	t.Logf("%d requests over %d connections", requests, u.Connections())
	// At most one connection per request in flight: every image's manifest
	// at once, and the blob downloads.
	if max := int64(len(sel.Images) + opts.Jobs*5); u.Connections() > max {
		t.Errorf("%d requests took %d connections, want at most %d", requests, u.Connections(), max)
	}
}
