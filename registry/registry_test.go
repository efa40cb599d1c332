package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/manifests"
)

// allAccept is the Accept header of a client that takes every manifest
// type.
const allAccept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json"

func run(t testing.TB, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// TestCranePullsEveryImage pulls every image of the default bundle with
// crane under each of its mirror names, by tag and by digest, into an OCI
// layout, and checks every manifest and blob that arrived.
func TestCranePullsEveryImage(t *testing.T) {
	crane := tool(t, "crane")
	f := defaultBundle(t)
	_, host := serve(t, f.b)
	for _, img := range f.b.Lock.Images {
		t.Run(img.Names[0], func(t *testing.T) {
			t.Parallel()
			var refs []string
			for _, n := range img.Names {
				repo, _ := manifests.RepoTag(n)
				refs = append(refs, host+"/"+n, host+"/"+repo+"@"+string(img.Digest))
			}
			dir := t.TempDir()
			args := append([]string{"pull", "--insecure", "--format=oci", "--annotate-ref"}, refs...)
			run(t, crane, append(args, dir)...)

			var idx struct {
				Manifests []struct {
					Digest      digest.Digest     `json:"digest"`
					Annotations map[string]string `json:"annotations"`
				} `json:"manifests"`
			}
			data, err := os.ReadFile(filepath.Join(dir, "index.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &idx); err != nil {
				t.Fatal(err)
			}
			got := map[string]bool{}
			for _, m := range idx.Manifests {
				if m.Digest != img.Digest {
					t.Errorf("%s pulled as %s, want %s", m.Annotations["org.opencontainers.image.ref.name"], m.Digest, img.Digest)
				}
				got[m.Annotations["org.opencontainers.image.ref.name"]] = true
			}
			for _, r := range refs {
				if !got[r] {
					t.Errorf("%s missing from the pulled layout (have %v)", r, got)
				}
			}
			for _, bl := range append(img.Blobs(), bundle.Blob{Digest: img.Digest}) {
				data, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", bl.Digest.Encoded()))
				if err != nil {
					t.Fatal(err)
				}
				if digest.FromBytes(data) != bl.Digest {
					t.Errorf("blob %s pulled with other bytes", bl.Digest)
				}
			}
		})
	}
}

// TestManifestHeaders checks GET and HEAD of every manifest under every
// name, by tag and by digest: status, Content-Type (the media type the lock
// records), Docker-Content-Digest, Content-Length and the body's digest.
func TestManifestHeaders(t *testing.T) {
	f := defaultBundle(t)
	_, host := serve(t, f.b)
	for _, sn := range servedNames(f.b) {
		for _, ref := range []string{sn.tag, string(sn.img.Digest)} {
			for _, method := range []string{http.MethodGet, http.MethodHead} {
				u := fmt.Sprintf("http://%s/v2/%s/manifests/%s", host, sn.repo, ref)
				req, _ := http.NewRequest(method, u, nil)
				req.Header.Set("Accept", allAccept)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				what := method + " " + sn.repo + ":" + ref
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%s: %s %s", what, resp.Status, body)
					continue
				}
				h := resp.Header
				if h.Get("Content-Type") != sn.img.MediaType {
					t.Errorf("%s: Content-Type %q, want %q", what, h.Get("Content-Type"), sn.img.MediaType)
				}
				if h.Get("Docker-Content-Digest") != string(sn.img.Digest) {
					t.Errorf("%s: Docker-Content-Digest %q, want %s", what, h.Get("Docker-Content-Digest"), sn.img.Digest)
				}
				if h.Get("Content-Length") != fmt.Sprint(sn.img.Size) {
					t.Errorf("%s: Content-Length %q, want %d", what, h.Get("Content-Length"), sn.img.Size)
				}
				if method == http.MethodGet && digest.FromBytes(body) != sn.img.Digest {
					t.Errorf("%s: body hashes to %s", what, digest.FromBytes(body))
				}
				if method == http.MethodHead && len(body) != 0 {
					t.Errorf("%s: HEAD has a body", what)
				}
			}
		}
	}
}

// TestNotFound checks the registry errors for what the bundle lacks.
func TestNotFound(t *testing.T) {
	f := smallBundle(t)
	_, host := serve(t, f.b)
	img := f.b.Lock.Images[0]
	missing := digest.FromString("missing").String()
	tests := []struct {
		name, path string
		status     int
		code       string
	}{
		{"unknown tag", "/v2/library/busybox/manifests/9.9", 404, "MANIFEST_UNKNOWN"},
		{"unknown digest", "/v2/library/busybox/manifests/" + missing, 404, "MANIFEST_UNKNOWN"},
		{"unknown repository", "/v2/library/nope/manifests/1", 404, "MANIFEST_UNKNOWN"},
		{"unknown blob", "/v2/library/busybox/blobs/" + missing, 404, "BLOB_UNKNOWN"},
		{"blob of another repository", "/v2/quay.io/coreos/etcd/blobs/" + string(img.Layers[1].Digest), 404, "BLOB_UNKNOWN"},
		{"unknown repository tags", "/v2/library/nope/tags/list", 404, "NAME_UNKNOWN"},
		{"a file of the bundle", "/v2/library/busybox/blobs/" + digest.FromString("x").String(), 404, "BLOB_UNKNOWN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := http.Get("http://" + host + tt.path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if code := errorCode(t, resp.Body); code != tt.code {
				t.Errorf("error code %q, want %q", code, tt.code)
			}
		})
	}
}

func errorCode(t testing.TB, r io.Reader) string {
	t.Helper()
	var body struct {
		Errors []struct {
			Code string `json:"code"`
		} `json:"errors"`
	}
	data, _ := io.ReadAll(r)
	if err := json.Unmarshal(data, &body); err != nil || len(body.Errors) == 0 {
		t.Errorf("not a registry error body: %q", data)
		return ""
	}
	return body.Errors[0].Code
}

// TestBlobRange checks HEAD and ranged GETs of a layer.
func TestBlobRange(t *testing.T) {
	f := defaultBundle(t)
	_, host := serve(t, f.b)
	img := f.b.Lock.Images[len(f.b.Lock.Images)-1]
	layer := img.Layers[len(img.Layers)-1]
	want, err := f.b.ReadBlob(layer.Digest, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := manifests.RepoTag(img.Names[0])
	u := fmt.Sprintf("http://%s/v2/%s/blobs/%s", host, repo, layer.Digest)
	n := int64(len(want))
	tests := []struct {
		name, rng  string
		status     int
		body       []byte
		contentLen int64
	}{
		{"whole", "", 200, want, n},
		{"middle", "bytes=100-1099", 206, want[100:1100], 1000},
		{"open end", fmt.Sprintf("bytes=%d-", n-10), 206, want[n-10:], 10},
		{"suffix", "bytes=-7", 206, want[n-7:], 7},
		{"past the end", fmt.Sprintf("bytes=%d-", n+5), 416, nil, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, u, nil)
			if tt.rng != "" {
				req.Header.Set("Range", tt.rng)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.body != nil && !bytes.Equal(body, tt.body) {
				t.Errorf("body of %d bytes differs", len(body))
			}
			if tt.contentLen >= 0 && resp.ContentLength != tt.contentLen {
				t.Errorf("Content-Length %d, want %d", resp.ContentLength, tt.contentLen)
			}
			if tt.status < 300 && resp.Header.Get("Docker-Content-Digest") != string(layer.Digest) {
				t.Errorf("Docker-Content-Digest %q", resp.Header.Get("Docker-Content-Digest"))
			}
		})
	}
	resp, err := http.Head(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != n || resp.Header.Get("Accept-Ranges") != "bytes" {
		t.Errorf("HEAD: %s, length %d, Accept-Ranges %q", resp.Status, resp.ContentLength, resp.Header.Get("Accept-Ranges"))
	}
}

// TestTagsAndCatalog checks every repository's tag list and the catalog,
// with our HTTP client (including pagination) and with crane.
func TestTagsAndCatalog(t *testing.T) {
	f := defaultBundle(t)
	_, host := serve(t, f.b)
	wantTags := map[string][]string{}
	for _, sn := range servedNames(f.b) {
		wantTags[sn.repo] = append(wantTags[sn.repo], sn.tag)
	}
	var wantRepos []string
	for repo, tags := range wantTags {
		slices.Sort(tags)
		wantTags[repo] = slices.Compact(tags)
		wantRepos = append(wantRepos, repo)
	}
	slices.Sort(wantRepos)

	for repo, want := range wantTags {
		var got struct {
			Name string   `json:"name"`
			Tags []string `json:"tags"`
		}
		getJSON(t, "http://"+host+"/v2/"+repo+"/tags/list", &got)
		if got.Name != repo || !slices.Equal(got.Tags, want) {
			t.Errorf("%s: tags %v of %q, want %v", repo, got.Tags, got.Name, want)
		}
	}

	var all []string
	next := "/v2/_catalog?n=7"
	for next != "" {
		var page struct {
			Repositories []string `json:"repositories"`
		}
		resp := getJSON(t, "http://"+host+next, &page)
		all = append(all, page.Repositories...)
		next = ""
		if l := resp.Header.Get("Link"); l != "" {
			next = strings.TrimSuffix(strings.TrimPrefix(strings.Split(l, ";")[0], "<"), ">")
		}
	}
	if !slices.Equal(all, wantRepos) {
		t.Errorf("paged catalog:\n got %v\nwant %v", all, wantRepos)
	}

	crane := tool(t, "crane")
	got := strings.Fields(run(t, crane, "catalog", "--insecure", host))
	if !slices.Equal(got, wantRepos) {
		t.Errorf("crane catalog:\n got %v\nwant %v", got, wantRepos)
	}
	for _, repo := range []string{"library/busybox", "siaimes/kube-apiserver", "gcr.io/google-containers/kube-apiserver"} {
		got := strings.Fields(run(t, crane, "ls", "--insecure", host+"/"+repo))
		if !slices.Equal(got, wantTags[repo]) {
			t.Errorf("crane ls %s: %v, want %v", repo, got, wantTags[repo])
		}
	}
}

func getJSON(t testing.TB, u string, v any) *http.Response {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s %s", u, resp.Status, data)
	}
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	return resp
}

// TestParallelPulls pulls whole images from 64 goroutines at once with
// go-containerregistry's remote package (manifest, config and every layer,
// digests verified) and wants zero errors.
func TestParallelPulls(t *testing.T) {
	f := defaultBundle(t)
	_, host := serve(t, f.b)
	names := servedNames(f.b)
	const pullers = 64
	var wg sync.WaitGroup
	errs := make(chan error, pullers)
	for i := range pullers {
		wg.Go(func() {
			sn := names[(i*7)%len(names)]
			errs <- pullImage(host, sn.repo+":"+sn.tag, sn.img.Digest)
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}

func pullImage(host, ref string, wantDigest digest.Digest) error {
	r, err := name.ParseReference(host+"/"+ref, name.Insecure)
	if err != nil {
		return err
	}
	img, err := remote.Image(r, remote.WithContext(context.Background()))
	if err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	d, err := img.Digest()
	if err != nil || d.String() != string(wantDigest) {
		return fmt.Errorf("%s: digest %s (%v), want %s", ref, d, err, wantDigest)
	}
	if _, err := img.RawConfigFile(); err != nil {
		return fmt.Errorf("%s: config: %w", ref, err)
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("%s: %w", ref, err)
	}
	for _, l := range layers {
		rc, err := l.Compressed() // verifies the digest at EOF
		if err != nil {
			return fmt.Errorf("%s: %w", ref, err)
		}
		_, err = io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return fmt.Errorf("%s: layer: %w", ref, err)
		}
	}
	return nil
}

// TestSkopeoCopy copies images (by Docker Hub, gcr.io, alias and quay.io
// names) with skopeo into an OCI layout.
func TestSkopeoCopy(t *testing.T) {
	skopeo := tool(t, "skopeo")
	f := defaultBundle(t)
	_, host := serve(t, f.b)
	byName := map[string]bundle.Image{}
	for _, sn := range servedNames(f.b) {
		byName[sn.repo+":"+sn.tag] = sn.img
	}
	for _, n := range []string{"library/busybox:1.31.1", "gcr.io/google-containers/kube-apiserver:v1.15.11", "siaimes/kube-apiserver:v1.15.11", "quay.io/coreos/etcd:v3.3.10", "openpai/rest-server:v1.8.0"} {
		img, ok := byName[n]
		if !ok {
			t.Fatalf("the default bundle has no %s", n)
		}
		t.Run(n, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			run(t, skopeo, "--insecure-policy", "copy", "--src-tls-verify=false", "docker://"+host+"/"+n, "oci:"+dir+":x")
			var idx struct {
				Manifests []struct {
					Digest string `json:"digest"`
				} `json:"manifests"`
			}
			data, err := os.ReadFile(filepath.Join(dir, "index.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(data, &idx); err != nil {
				t.Fatal(err)
			}
			// skopeo may convert Docker media types to OCI: check the layers
			// arrived byte for byte instead of the manifest digest.
			for _, l := range img.Layers {
				data, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", l.Digest.Encoded()))
				if err != nil {
					t.Fatalf("layer %s: %v", l.Digest, err)
				}
				if digest.FromBytes(data) != l.Digest {
					t.Errorf("layer %s arrived with other bytes", l.Digest)
				}
			}
			if len(idx.Manifests) != 1 {
				t.Errorf("index has %d manifests", len(idx.Manifests))
			}
		})
	}
}

// TestLogging checks that distribution's logging reaches slog as it
// should: an ordinary 404 is no error, the access log records requests,
// and a real failure (the bundle file cut short under a running registry)
// is an error record.
func TestLogging(t *testing.T) {
	small := smallBundle(t)
	// A private copy of the small bundle that this test may damage.
	path := filepath.Join(t.TempDir(), "b.tar")
	data, err := os.ReadFile(small.path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rec := &recordHandler{}
	_, host := serve(t, b, WithLogger(slog.New(rec)), WithAccessLog(true))

	get := func(p string) int {
		resp, err := http.Get("http://" + host + p)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := get("/v2/library/busybox/manifests/nope"); s != 404 {
		t.Fatalf("status %d", s)
	}
	if s := get("/v2/library/busybox/blobs/" + digest.FromString("x").String()); s != 404 {
		t.Fatalf("status %d", s)
	}
	if errs := rec.at(slog.LevelError); len(errs) > 0 {
		t.Errorf("404s logged as errors: %v", errs)
	}
	access := rec.messages("request")
	if len(access) != 2 || !strings.Contains(access[0], "status=404") {
		t.Errorf("access log: %v", access)
	}

	// distribution logs a client's bad upload (a digest that does not match
	// the bytes) at error level while handling it; the 400 answer makes it
	// a Debug record.
	wrec := &recordHandler{}
	_, whost := serve(t, small.b, WithWritable(t.TempDir()), WithLogger(slog.New(wrec)))
	resp, err := http.Post("http://"+whost+"/v2/lab/x/blobs/uploads/", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := resp.Location()
	if err != nil {
		t.Fatal(err)
	}
	q := loc.Query()
	q.Set("digest", digest.FromString("other").String())
	loc.RawQuery = q.Encode()
	status, body := do(t, http.MethodPut, loc.String(), "application/octet-stream", []byte("data"))
	if status != http.StatusBadRequest {
		t.Fatalf("upload with a wrong digest: %d %s", status, body)
	}
	if errs := wrec.at(slog.LevelWarn); len(errs) > 0 {
		t.Errorf("a client's bad upload logged as a warning or error: %v", errs)
	}
	if len(wrec.at(slog.LevelDebug)) == 0 {
		t.Error("distribution's messages about the bad upload are not even Debug records")
	}

	// Cut the bundle short: the manifest (at the end of the blobs) can no
	// longer be read, which is a real error.
	img := b.Lock.Images[len(b.Lock.Images)-1]
	if err := os.Truncate(path, 1024); err != nil {
		t.Fatal(err)
	}
	repo, tag := manifests.RepoTag(img.Names[0])
	if s := get("/v2/" + repo + "/manifests/" + tag); s < 500 {
		t.Fatalf("manifest from a truncated bundle: status %d", s)
	}
	if errs := rec.at(slog.LevelError); len(errs) == 0 || !slices.ContainsFunc(errs, func(s string) bool { return strings.Contains(s, "paimirror verify") }) {
		t.Errorf("no error record that names the damaged bundle: %v", errs)
	} else {
		t.Logf("error records: %v", errs)
	}
}

// recordHandler keeps slog records for inspection.
type recordHandler struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.recs = append(h.recs, r.Clone())
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func format(r slog.Record) string {
	var sb strings.Builder
	sb.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&sb, " %s=%v", a.Key, a.Value)
		return true
	})
	return sb.String()
}

func (h *recordHandler) at(level slog.Level) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.recs {
		if r.Level >= level {
			out = append(out, format(r))
		}
	}
	return out
}

func (h *recordHandler) messages(msg string) []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, r := range h.recs {
		if r.Message == msg {
			out = append(out, format(r))
		}
	}
	return out
}
