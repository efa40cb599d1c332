package registry

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
	"github.com/paimirror/paimirror/manifests"
)

// TestPushRejectsWrongSizes pushes manifests whose layer or config sizes
// disagree with the blobs the registry holds (pushed ones and the
// bundle's): each gets 400 MANIFEST_INVALID, naming the blob, and is not
// stored. The same manifest with the right sizes is accepted.
func TestPushRejectsWrongSizes(t *testing.T) {
	small := smallBundle(t)
	_, host := serve(t, small.b, WithWritable(t.TempDir()))
	img, err := random.Image(1500, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(host+"/lab/sized:1", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	raw, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mt, _ := img.MediaType()

	// A bundle image's manifest, pushed to its own repository under a new
	// tag: its blobs are linked there already.
	bundleImg := small.b.Lock.Images[0]
	bundleRepo, _ := manifests.RepoTag(bundleImg.Names[0])
	bundleRaw, err := small.b.ReadBlob(bundleImg.Digest, 1<<20)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, repo, mediaType string
		raw                   []byte
		edit                  func(m map[string]any)
		bad                   string // the digest the error must name
	}{
		{"pushed layer", "lab/sized", string(mt), raw, func(m map[string]any) { bump(m["layers"].([]any)[1]) }, layerDigest(t, raw, 1)},
		{"pushed config", "lab/sized", string(mt), raw, func(m map[string]any) { bump(m["config"]) }, configDigest(t, raw)},
		{"bundle layer", bundleRepo, bundleImg.MediaType, bundleRaw, func(m map[string]any) { bump(m["layers"].([]any)[0]) }, layerDigest(t, bundleRaw, 0)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m map[string]any
			if err := json.Unmarshal(tt.raw, &m); err != nil {
				t.Fatal(err)
			}
			tt.edit(m)
			body, _ := json.Marshal(m)
			u := "http://" + host + "/v2/" + tt.repo + "/manifests/wrong-size"
			status, resp := do(t, http.MethodPut, u, tt.mediaType, body)
			if status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", status, resp)
			}
			if code := errorCode(t, strings.NewReader(string(resp))); code != "MANIFEST_INVALID" {
				t.Errorf("error code %q, want MANIFEST_INVALID", code)
			}
			if !strings.Contains(string(resp), tt.bad) {
				t.Errorf("the error does not name %s: %s", tt.bad, resp)
			}
			if status, _ := do(t, http.MethodGet, u, "", nil); status != http.StatusNotFound {
				t.Errorf("the refused manifest is served: %d", status)
			}
			if status, resp := do(t, http.MethodGet, "http://"+host+"/v2/"+tt.repo+"/manifests/"+digest.FromBytes(body).String(), "", nil); status != http.StatusNotFound {
				t.Errorf("the refused manifest is stored by digest: %d %s", status, resp)
			}
		})
	}
	// Unchanged, the same manifests are fine.
	if status, resp := do(t, http.MethodPut, "http://"+host+"/v2/lab/sized/manifests/right-size", string(mt), raw); status != http.StatusCreated {
		t.Errorf("a manifest with the right sizes: %d %s", status, resp)
	}
	if status, resp := do(t, http.MethodPut, "http://"+host+"/v2/"+bundleRepo+"/manifests/right-size", bundleImg.MediaType, bundleRaw); status != http.StatusCreated {
		t.Errorf("a bundle manifest under a new tag: %d %s", status, resp)
	}
}

// bump adds one to a descriptor's size.
func bump(d any) {
	m := d.(map[string]any)
	m["size"] = m["size"].(float64) + 1
}

func layerDigest(t *testing.T, raw []byte, i int) string {
	t.Helper()
	var m struct {
		Layers []struct{ Digest string } `json:"layers"`
	}
	if err := json.Unmarshal(raw, &m); err != nil || len(m.Layers) <= i {
		t.Fatalf("manifest has no layer %d: %v", i, err)
	}
	return m.Layers[i].Digest
}

func configDigest(t *testing.T, raw []byte) string {
	t.Helper()
	var m struct {
		Config struct{ Digest string } `json:"config"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m.Config.Digest
}

// TestServerErrorsHideDirectory makes the writable directory unusable (a
// file where distribution's repositories directory goes, so every write
// fails as on a full or broken disk): pushes get a 500 whose body holds no
// path of the server's, while the log has the whole error, path and all.
func TestServerErrorsHideDirectory(t *testing.T) {
	small := smallBundle(t)
	dir := t.TempDir()
	var log testenv.Buffer
	_, host := serve(t, small.b, WithWritable(dir), WithLogger(debugLogger(&log)))
	v2 := filepath.Join(dir, "docker", "registry", "v2")
	if err := os.MkdirAll(v2, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(v2, "repositories"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	layer := []byte("some layer")
	for _, tt := range []struct{ name, method, path string }{
		{"start upload", http.MethodPost, "lab/broken/blobs/uploads/"},
		{"monolithic upload", http.MethodPost, "lab/broken/blobs/uploads/?digest=" + digest.FromBytes(layer).String()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			status, body := do(t, tt.method, "http://"+host+"/v2/"+tt.path, "application/octet-stream", layer)
			if status < 500 {
				t.Fatalf("status %d, want a server error: %s", status, body)
			}
			if strings.Contains(string(body), dir) || strings.Contains(string(body), "/docker/registry") {
				t.Errorf("the %d answer shows the server's paths: %s", status, body)
			}
			if code := errorCode(t, strings.NewReader(string(body))); code == "" {
				t.Errorf("not a registry error: %s", body)
			}
		})
	}
	if !strings.Contains(log.String(), dir) {
		t.Errorf("the log lacks the error's path %s:\n%s", dir, log.String())
	}
}

// TestStaleUploadsPurged leaves two unfinished uploads in a writable
// directory, one started more than uploadMaxAge ago: a registry started
// over the directory removes the old one and keeps the recent one.
func TestStaleUploadsPurged(t *testing.T) {
	small := smallBundle(t)
	dir := t.TempDir()
	r1, host := serve(t, small.b, WithWritable(dir))
	var uploads []string
	for range 2 {
		req, _ := http.NewRequest(http.MethodPost, "http://"+host+"/v2/lab/abandoned/blobs/uploads/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("starting an upload: %s", resp.Status)
		}
		uploads = append(uploads, resp.Header.Get("Docker-Upload-UUID"))
	}
	r1.Close()
	uploadDir := func(id string) string {
		return filepath.Join(dir, "docker/registry/v2/repositories/lab/abandoned/_uploads", id)
	}
	for _, id := range uploads {
		if _, err := os.Stat(filepath.Join(uploadDir(id), "startedat")); err != nil {
			t.Fatalf("upload %s left no state: %v", id, err)
		}
	}
	old := time.Now().Add(-uploadMaxAge - time.Hour).UTC().Format(time.RFC3339)
	if err := os.WriteFile(filepath.Join(uploadDir(uploads[0]), "startedat"), []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}

	serve(t, small.b, WithWritable(dir))
	if _, err := os.Stat(uploadDir(uploads[0])); !os.IsNotExist(err) {
		t.Errorf("an upload started %s is still there (%v)", old, err)
	}
	if _, err := os.Stat(uploadDir(uploads[1])); err != nil {
		t.Errorf("a recent upload was removed: %v", err)
	}
}
