package registry

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/manifests"
)

// do sends one request and returns the status and body.
func do(t testing.TB, method, u, contentType string, body []byte) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// TestReadOnlyRefusesWrites checks that every kind of push and delete gets
// 405 with the registry's UNSUPPORTED error, and that crane push fails.
func TestReadOnlyRefusesWrites(t *testing.T) {
	f := smallBundle(t)
	_, host := serve(t, f.b)
	img := f.b.Lock.Images[0]
	mf, err := f.b.ReadBlob(img.Digest, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	base := "http://" + host + "/v2/"
	tests := []struct {
		name, method, path, ctype string
		body                      []byte
	}{
		{"start upload", http.MethodPost, "library/busybox/blobs/uploads/", "", nil},
		{"monolithic upload", http.MethodPost, "new/repo/blobs/uploads/?digest=" + digest.FromString("x").String(), "application/octet-stream", []byte("x")},
		{"mount", http.MethodPost, "new/repo/blobs/uploads/?mount=" + string(img.Layers[0].Digest) + "&from=library/busybox", "", nil},
		{"put manifest", http.MethodPut, "library/busybox/manifests/other", img.MediaType, mf},
		{"delete manifest", http.MethodDelete, "library/busybox/manifests/" + string(img.Digest), "", nil},
		{"delete tag", http.MethodDelete, "library/busybox/manifests/1.31.1", "", nil},
		{"delete blob", http.MethodDelete, "library/busybox/blobs/" + string(img.Layers[0].Digest), "", nil},
		{"patch upload", http.MethodPatch, "library/busybox/blobs/uploads/abc", "application/octet-stream", []byte("x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, tt.method, base+tt.path, tt.ctype, tt.body)
			if status != http.StatusMethodNotAllowed {
				t.Errorf("status %d, want 405: %s", status, body)
			}
			if code := errorCode(t, bytes.NewReader(body)); code != "UNSUPPORTED" {
				t.Errorf("error code %q, want UNSUPPORTED", code)
			}
		})
	}
	// Reads still work after all that.
	if status, _ := do(t, http.MethodGet, base+"library/busybox/manifests/1.31.1", "", nil); status != 200 {
		t.Errorf("pull after refused pushes: %d", status)
	}

	crane := tool(t, "crane")
	dir := t.TempDir()
	writeRandomLayout(t, dir)
	out, err := runErr(crane, "push", "--insecure", dir, host+"/lab/job:1")
	if err == nil {
		t.Fatalf("crane push to a read-only registry succeeded:\n%s", out)
	}
	if !strings.Contains(out, "UNSUPPORTED") && !strings.Contains(out, "405") {
		t.Errorf("crane's error does not show the registry's answer:\n%s", out)
	}
}

func runErr(name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// writeRandomLayout writes a random single-platform image as an OCI layout
// (crane push takes a layout directory) and returns its digest.
func writeRandomLayout(t testing.TB, dir string) string {
	t.Helper()
	img, err := random.Image(3000, 2)
	if err != nil {
		t.Fatal(err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.AppendImage(img); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	return d.String()
}

// TestWritable pushes with crane into a writable registry: to a new
// repository and to a repository the bundle holds, pulls both back, checks
// that tag lists and the catalog merge pushed and bundle content, that
// bundle content cannot be replaced or deleted, that pushed content can be
// deleted, and that the bundle file's bytes did not change.
func TestWritable(t *testing.T) {
	crane := tool(t, "crane")
	small := smallBundle(t)
	before := fileHash(t, small.path)
	b := small.b
	dataDir := t.TempDir()
	_, host := serve(t, b, WithWritable(dataDir), WithLogger(testLogger(t, 0)))

	var busybox bundle.Image
	for _, img := range b.Lock.Images {
		if img.Names[0] == "library/busybox:1.31.1" {
			busybox = img
		}
	}

	layoutDir := t.TempDir()
	pushed := writeRandomLayout(t, layoutDir)
	for _, ref := range []string{"lab/job:1", "library/busybox:lab"} {
		run(t, crane, "push", "--insecure", layoutDir, host+"/"+ref)
		if got := strings.TrimSpace(run(t, crane, "digest", "--insecure", host+"/"+ref)); got != pushed {
			t.Errorf("%s: digest %s after push, want %s", ref, got, pushed)
		}
		run(t, crane, "pull", "--insecure", "--format=oci", host+"/"+ref, t.TempDir())
		if err := pullImage(host, ref, digest.Digest(pushed)); err != nil {
			t.Error(err)
		}
	}
	// Re-pushing a bundle image unchanged (same tag, same bytes) is fine.
	run(t, crane, "copy", "--insecure", host+"/library/busybox:1.31.1", host+"/library/busybox:1.31.1")
	// A bundle image copied to a new repository mounts the bundle's blobs.
	run(t, crane, "copy", "--insecure", host+"/library/busybox:1.31.1", host+"/lab/busybox:copy")
	if err := pullImage(host, "lab/busybox:copy", busybox.Digest); err != nil {
		t.Error(err)
	}

	tags := strings.Fields(run(t, crane, "ls", "--insecure", host+"/library/busybox"))
	if !slices.Equal(tags, []string{"1.31.1", "lab"}) {
		t.Errorf("library/busybox tags %v, want the bundle's and the pushed one", tags)
	}
	catalog := strings.Fields(run(t, crane, "catalog", "--insecure", host))
	for _, want := range []string{"lab/job", "lab/busybox", "library/busybox", "gcr.io/google-containers/kube-apiserver", "siaimes/kube-apiserver", "quay.io/coreos/etcd"} {
		if !slices.Contains(catalog, want) {
			t.Errorf("catalog %v lacks %s", catalog, want)
		}
	}
	if !slices.IsSorted(catalog) {
		t.Errorf("catalog not sorted: %v", catalog)
	}

	// Bundle content cannot be replaced or deleted.
	base := "http://" + host + "/v2/"
	other, err := os.ReadFile(filepath.Join(layoutDir, "blobs", "sha256", strings.TrimPrefix(pushed, "sha256:")))
	if err != nil {
		t.Fatal(err)
	}
	denied := []struct {
		name, method, path, ctype string
		body                      []byte
	}{
		{"replace bundle tag", http.MethodPut, "library/busybox/manifests/1.31.1", "application/vnd.oci.image.manifest.v1+json", other},
		{"delete bundle tag", http.MethodDelete, "library/busybox/manifests/1.31.1", "", nil},
		{"delete bundle manifest", http.MethodDelete, "library/busybox/manifests/" + string(busybox.Digest), "", nil},
		{"delete bundle blob", http.MethodDelete, "library/busybox/blobs/" + string(busybox.Layers[0].Digest), "", nil},
	}
	for _, tt := range denied {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, tt.method, base+tt.path, tt.ctype, tt.body)
			if status != http.StatusForbidden {
				t.Errorf("status %d, want 403: %s", status, body)
			}
			if code := errorCode(t, bytes.NewReader(body)); code != "DENIED" {
				t.Errorf("error code %q, want DENIED", code)
			}
		})
	}
	if got := strings.TrimSpace(run(t, crane, "digest", "--insecure", host+"/library/busybox:1.31.1")); got != string(busybox.Digest) {
		t.Errorf("library/busybox:1.31.1 is now %s", got)
	}

	// Pushed content can be deleted: the tag, then the manifest.
	run(t, crane, "delete", "--insecure", host+"/library/busybox:lab")
	tags = strings.Fields(run(t, crane, "ls", "--insecure", host+"/library/busybox"))
	if !slices.Equal(tags, []string{"1.31.1"}) {
		t.Errorf("after deleting the pushed tag: %v", tags)
	}
	run(t, crane, "delete", "--insecure", host+"/lab/job@"+pushed)
	if status, _ := do(t, http.MethodGet, base+"lab/job/manifests/"+pushed, "", nil); status != http.StatusNotFound {
		t.Errorf("deleted manifest: status %d", status)
	}
	if err := pullImage(host, "library/busybox:1.31.1", busybox.Digest); err != nil {
		t.Error(err)
	}

	if after := fileHash(t, small.path); after != before {
		t.Error("the bundle file changed")
	}
	// Pushed content is in the writable directory, under distribution's
	// layout.
	if _, err := os.Stat(filepath.Join(dataDir, "docker/registry/v2/repositories/lab/job/_manifests")); err != nil {
		t.Error(err)
	}
}

// TestWritablePersists checks that a second registry over the same
// writable directory serves what the first one stored.
func TestWritablePersists(t *testing.T) {
	small := smallBundle(t)
	dataDir := t.TempDir()
	r1, host := serve(t, small.b, WithWritable(dataDir))
	img, err := random.Image(1000, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/lab/keep:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	r1.Close()
	_, host2 := serve(t, small.b, WithWritable(dataDir))
	d, _ := img.Digest()
	if err := pullImage(host2, "lab/keep:1", digest.Digest(d.String())); err != nil {
		t.Error(err)
	}
	repo, tag := manifests.RepoTag(small.b.Lock.Images[0].Names[0])
	if err := pullImage(host2, fmt.Sprintf("%s:%s", repo, tag), small.b.Lock.Images[0].Digest); err != nil {
		t.Error(err)
	}
}
