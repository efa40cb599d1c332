package files_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/fileserver/files"
	"github.com/paimirror/paimirror/manifests"
)

// TestFilesEveryPath fetches every file of the bundle at every one of its
// mirror paths with curl and checks the bytes against the lock's sha256 and
// the upstream's content, and the headers a client relies on.
func TestFilesEveryPath(t *testing.T) {
	tb := defaultBundle(t)
	_, addr := start(t, files.Options{})
	if len(tb.b.Lock.Files) < 5 {
		t.Fatalf("the default bundle has %d files, want at least 5", len(tb.b.Lock.Files))
	}
	modified := tb.b.Lock.Created.UTC().Format(http.TimeFormat)
	for _, f := range tb.b.Lock.Files {
		if len(f.Paths) < 2 && !strings.Contains(f.URL, "/archive/") {
			// Every file the seed guide's k8s-share server had also has
			// its k8s-share path; the dev-box source archives never did.
			t.Errorf("%s: %d mirror paths, want the upstream-shaped one and a k8s-share one", f.Name, len(f.Paths))
		}
		for _, p := range f.Paths {
			t.Run(strings.TrimPrefix(p, "/"), func(t *testing.T) {
				r := curl(t, url(addr, p))
				if r.code != http.StatusOK {
					t.Fatalf("GET %s: %d", p, r.code)
				}
				if got := sha256Hex(r.body); got != f.SHA256 {
					t.Errorf("sha256 %s, lock says %s", got, f.SHA256)
				}
				if !bytes.Equal(r.body, tb.data[f.URL]) {
					t.Error("content differs from what the upstream served")
				}
				want := map[string]string{
					"Content-Length": strconv.FormatInt(f.Size, 10),
					"Etag":           `"sha256:` + f.SHA256 + `"`,
					"Last-Modified":  modified,
					"Accept-Ranges":  "bytes",
				}
				for k, v := range want {
					if got := r.header.Get(k); got != v {
						t.Errorf("%s: %q, want %q", k, got, v)
					}
				}
				wantType := "application/octet-stream"
				switch {
				case strings.HasSuffix(p, ".yml"):
					wantType = "application/yaml; charset=utf-8"
				case strings.HasSuffix(p, ".tgz"), strings.HasSuffix(p, ".tar.gz"):
					wantType = "application/gzip"
				}
				if got := r.header.Get("Content-Type"); got != wantType {
					t.Errorf("Content-Type %q, want %q", got, wantType)
				}
			})
		}
	}
}

// TestFileHTTPFeatures checks HEAD, Range, conditional requests and methods
// on one file with curl.
func TestFileHTTPFeatures(t *testing.T) {
	tb := defaultBundle(t)
	_, addr := start(t, files.Options{})
	const p = "/k8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm"
	f := fileAt(t, p)
	data := tb.data[f.URL]
	etag := `"sha256:` + f.SHA256 + `"`
	u := url(addr, p)

	t.Run("HEAD", func(t *testing.T) {
		r := curl(t, "-I", u)
		if r.code != http.StatusOK || r.header.Get("Content-Length") != strconv.FormatInt(f.Size, 10) || r.header.Get("Etag") != etag {
			t.Fatalf("HEAD: %d, Content-Length %q, ETag %q", r.code, r.header.Get("Content-Length"), r.header.Get("Etag"))
		}
	})
	t.Run("Range", func(t *testing.T) {
		r := curl(t, "-r", "10-99", u)
		if r.code != http.StatusPartialContent {
			t.Fatalf("Range 10-99: %d, want 206", r.code)
		}
		if !bytes.Equal(r.body, data[10:100]) {
			t.Errorf("Range 10-99: got %d bytes, not bytes 10 to 99 of the file", len(r.body))
		}
		if cr := r.header.Get("Content-Range"); cr != "bytes 10-99/"+strconv.FormatInt(f.Size, 10) {
			t.Errorf("Content-Range %q", cr)
		}
	})
	t.Run("suffix Range", func(t *testing.T) {
		r := curl(t, "-r", "-16", u)
		if r.code != http.StatusPartialContent || !bytes.Equal(r.body, data[len(data)-16:]) {
			t.Fatalf("Range -16: %d, %d bytes", r.code, len(r.body))
		}
	})
	t.Run("Range past the end", func(t *testing.T) {
		r := curl(t, "-r", strconv.FormatInt(f.Size+10, 10)+"-", u)
		if r.code != http.StatusRequestedRangeNotSatisfiable {
			t.Fatalf("Range past the end: %d, want 416", r.code)
		}
	})
	t.Run("resume with -C", func(t *testing.T) {
		// What an interrupted download does: curl -C - appends from where it
		// stopped.
		dir := t.TempDir()
		out := filepath.Join(dir, "kubeadm")
		if err := os.WriteFile(out, data[:1000], 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bundletest.Tool(t, "curl"), "-q", "-fsS", "--noproxy", "*", "-C", "-", "-o", out, u)
		cmd.Env = cleanEnv()
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("curl -C -: %v\n%s", err, msg)
		}
		got, _ := os.ReadFile(out)
		if sha256Hex(got) != f.SHA256 {
			t.Error("resumed download does not hash to the lock's sha256")
		}
	})
	t.Run("If-None-Match", func(t *testing.T) {
		r := curl(t, "-H", "If-None-Match: "+etag, u)
		if r.code != http.StatusNotModified || len(r.body) != 0 {
			t.Fatalf("If-None-Match with the ETag: %d, %d bytes; want 304", r.code, len(r.body))
		}
		r = curl(t, "-H", `If-None-Match: "sha256:0000"`, u)
		if r.code != http.StatusOK {
			t.Fatalf("If-None-Match with another ETag: %d, want 200", r.code)
		}
	})
	t.Run("If-Modified-Since", func(t *testing.T) {
		r := curl(t, "-H", "If-Modified-Since: "+tb.b.Lock.Created.Add(time.Hour).UTC().Format(http.TimeFormat), u)
		if r.code != http.StatusNotModified {
			t.Fatalf("If-Modified-Since after the build: %d, want 304", r.code)
		}
	})
	t.Run("If-Range", func(t *testing.T) {
		r := curl(t, "-r", "0-9", "-H", "If-Range: "+etag, u)
		if r.code != http.StatusPartialContent || len(r.body) != 10 {
			t.Fatalf("If-Range with the ETag: %d, want 206", r.code)
		}
		r = curl(t, "-r", "0-9", "-H", `If-Range: "sha256:0000"`, u)
		if r.code != http.StatusOK || int64(len(r.body)) != f.Size {
			t.Fatalf("If-Range with another ETag: %d, want the whole file", r.code)
		}
	})
	t.Run("methods", func(t *testing.T) {
		for _, m := range []string{"POST", "PUT", "DELETE"} {
			r := curl(t, "-X", m, u)
			if r.code != http.StatusMethodNotAllowed || r.header.Get("Allow") != "GET, HEAD" {
				t.Errorf("%s: %d, Allow %q; want 405 with Allow: GET, HEAD", m, r.code, r.header.Get("Allow"))
			}
		}
		if r := curl(t, "-X", "POST", url(addr, "/nowhere")); r.code != http.StatusNotFound {
			t.Errorf("POST to an unknown path: %d, want 404", r.code)
		}
	})
	t.Run("Repr-Digest", func(t *testing.T) {
		r := curl(t, "-I", u)
		if d := r.header.Get("Repr-Digest"); !strings.HasPrefix(d, "sha-256=:") {
			t.Errorf("Repr-Digest %q", d)
		}
	})
}

// The seed guide's lines that reach the k8s-share server, verbatim from
// shared/seed/000_f5fab18ba6a7010f.txt (the install guide users follow).
var seedLines = []string{
	`  kubeadm_download_url: "http://10.10.10.10:10000/k8s-share/kubernetes-release/release/{{ kubeadm_version }}/bin/linux/{{ image_arch }}/kubeadm"`,
	`  hyperkube_download_url: "http://10.10.10.10:10000/k8s-share/kubernetes-release/release/{{ kube_version }}/bin/linux/{{ image_arch }}/hyperkube"`,
	`  cni_download_url: "http://10.10.10.10:10000/k8s-share/containernetworking/plugins/releases/download/{{ cni_version }}/cni-plugins-linux-{{ image_arch }}-{{ cni_version }}.tgz"`,
	`  calicoctl_download_url: "http://10.10.10.10:10000/k8s-share/projectcalico/calicoctl/releases/download/{{ calico_ctl_version }}/calicoctl-linux-{{ image_arch }}"`,
	`curl "http://10.10.10.10:10000/k8s-share/NVIDIA/k8s-device-plugin/1.0.0-beta4/nvidia-device-plugin.yml" \`,
}

// TestSeedGuideURLs resolves each download URL of the seed guide, with the
// guide's address replaced by the test server's, to the right bytes.
func TestSeedGuideURLs(t *testing.T) {
	// When the shared docs are beside the checkout, make sure the lines
	// above are still the guide's.
	if seed, err := os.ReadFile("../../shared/seed/000_f5fab18ba6a7010f.txt"); err == nil {
		for _, l := range seedLines {
			if !strings.Contains(string(seed), l+"\n") {
				t.Errorf("the seed guide no longer has the line %q", l)
			}
		}
	}
	tb := defaultBundle(t)
	_, addr := start(t, files.Options{})
	want := map[string]string{
		"kubeadm_download_url":   "kubeadm",
		"hyperkube_download_url": "hyperkube",
		"cni_download_url":       "cni",
		"calicoctl_download_url": "calicoctl",
		"curl":                   "nvidia-device-plugin.yml",
	}
	for _, line := range seedLines {
		key, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
		key = strings.TrimSuffix(key, ":")
		raw := rest[strings.Index(rest, `"`)+1 : strings.LastIndex(rest, `"`)]
		u := strings.Replace(manifests.ExpandKubesprayVar(raw), "10.10.10.10:10000", addr, 1)
		t.Run(key, func(t *testing.T) {
			var sha string
			for _, f := range tb.b.Lock.Files {
				if f.Name == want[key] {
					sha = f.SHA256
				}
			}
			if sha == "" {
				t.Fatalf("no file %s in the bundle", want[key])
			}
			r := curl(t, u)
			if r.code != http.StatusOK || sha256Hex(r.body) != sha {
				t.Fatalf("GET %s: %d, sha256 %s; want 200, %s", u, r.code, sha256Hex(r.body), sha)
			}
		})
	}
}

// TestConfigSnippetsResolve checks that what the server tells people to
// paste works: every download URL of /config.yaml (expanded as kubespray
// expands it) and the device-plugin line of /config.txt, run as written by
// a real shell, fetch the right bytes; /daemon.json is JSON with the mirror.
func TestConfigSnippetsResolve(t *testing.T) {
	tb := defaultBundle(t)
	_, addr := start(t, files.Options{})
	byURL := map[string]string{}
	for _, f := range tb.b.Lock.Files {
		for _, p := range f.Paths {
			byURL[url(addr, p)] = f.SHA256
		}
	}

	r := curl(t, url(addr, "/config.yaml"))
	if r.code != http.StatusOK {
		t.Fatalf("/config.yaml: %d", r.code)
	}
	if strings.Contains(string(r.body), "docker_image_tag") {
		t.Error("/config.yaml mentions docker_image_tag, which quick-start-service.sh greps config.yaml for")
	}
	var cfg struct {
		Extra map[string]any `yaml:"openpai_kubespray_extra_var"`
	}
	if err := yaml.Unmarshal(r.body, &cfg); err != nil {
		t.Fatalf("/config.yaml is not YAML: %v\n%s", err, r.body)
	}
	vars := manifests.KubesprayVars(addr, "http")
	// The default bundle carries Docker's apt repository: kubespray's two
	// variables for it point at the mirror too, the key fetchable.
	for _, name := range []string{"docker_ubuntu_repo_base_url", "docker_ubuntu_repo_gpgkey"} {
		got, ok := cfg.Extra[name].(string)
		if !ok || !strings.HasPrefix(got, "http://"+addr+"/") {
			t.Errorf("%s: %#v, want a URL of the mirror", name, cfg.Extra[name])
		}
		if name == "docker_ubuntu_repo_gpgkey" && ok {
			if fr := curl(t, got); fr.code != http.StatusOK {
				t.Errorf("%s: GET %s: %d", name, got, fr.code)
			}
		}
	}
	if want := len(vars) + 2; len(cfg.Extra) != want {
		t.Errorf("/config.yaml has %d variables, want %d", len(cfg.Extra), want)
	}
	downloads := 0
	for _, v := range vars {
		got, ok := cfg.Extra[v.Name].(string)
		if !ok || got != v.Value {
			t.Errorf("%s: %#v, want the string %q", v.Name, cfg.Extra[v.Name], v.Value)
			continue
		}
		if !strings.Contains(string(r.body), v.Name+`: "`) {
			t.Errorf("%s is not double-quoted", v.Name)
		}
		if !strings.HasSuffix(v.Name, "_download_url") {
			continue
		}
		downloads++
		u := manifests.ExpandKubesprayVar(got)
		sha, ok := byURL[u]
		if !ok {
			t.Errorf("%s expands to %s, which is no path of the bundle", v.Name, u)
			continue
		}
		if fr := curl(t, u); fr.code != http.StatusOK || sha256Hex(fr.body) != sha {
			t.Errorf("%s: GET %s: %d", v.Name, u, fr.code)
		}
	}
	if downloads != 4 {
		t.Errorf("%d download URLs, want 4", downloads)
	}

	r = curl(t, url(addr, "/config.txt"))
	var line string
	for l := range strings.SplitSeq(string(r.body), "\n") {
		if strings.HasPrefix(l, "curl ") && strings.Contains(l, "nvidia-device-plugin.yml") {
			line = strings.TrimSuffix(l, ` \`)
		}
	}
	if line == "" {
		t.Fatalf("/config.txt has no device-plugin curl line:\n%s", r.body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// As start.sh.template runs it: the output piped on (here to a file).
	out := filepath.Join(t.TempDir(), "plugin.yml")
	cmd := exec.CommandContext(ctx, bundletest.Tool(t, "bash"), "-c", "set -o pipefail; "+line+" --noproxy '*' | cat > "+out)
	cmd.Env = cleanEnv()
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", line, err, msg)
	}
	got, _ := os.ReadFile(out)
	if sha256Hex(got) != fileAt(t, "/k8s-share/NVIDIA/k8s-device-plugin/1.0.0-beta4/nvidia-device-plugin.yml").SHA256 {
		t.Errorf("the device-plugin line fetched other bytes")
	}

	r = curl(t, url(addr, "/daemon.json"))
	var daemon map[string][]string
	if err := json.Unmarshal(r.body, &daemon); err != nil {
		t.Fatalf("/daemon.json: %v\n%s", err, r.body)
	}
	if m := daemon["registry-mirrors"]; len(m) != 1 || m[0] != "http://"+addr {
		t.Errorf("registry-mirrors %q", m)
	}
	if m := daemon["insecure-registries"]; len(m) != 1 || m[0] != addr {
		t.Errorf("insecure-registries %q", m)
	}
}

// TestLockAndHealth fetches the lock the installer reads and /healthz.
func TestLockAndHealth(t *testing.T) {
	tb := defaultBundle(t)
	_, addr := start(t, files.Options{})
	r := curl(t, url(addr, "/paimirror.json"))
	if r.code != http.StatusOK || r.header.Get("Content-Type") != "application/json" {
		t.Fatalf("/paimirror.json: %d %q", r.code, r.header.Get("Content-Type"))
	}
	var lock struct {
		FormatVersion int
		Files         []struct{ SHA256 string }
		Images        []struct{ Digest string }
	}
	if err := json.Unmarshal(r.body, &lock); err != nil {
		t.Fatal(err)
	}
	if lock.FormatVersion != tb.b.Lock.FormatVersion || len(lock.Files) != len(tb.b.Lock.Files) || len(lock.Images) != len(tb.b.Lock.Images) {
		t.Errorf("lock over HTTP differs: format %d, %d files, %d images", lock.FormatVersion, len(lock.Files), len(lock.Images))
	}
	if r2 := curl(t, "-H", "If-None-Match: "+r.header.Get("Etag"), url(addr, "/paimirror.json")); r2.code != http.StatusNotModified {
		t.Errorf("lock with its ETag: %d, want 304", r2.code)
	}
	h := curl(t, url(addr, "/healthz"))
	if h.code != http.StatusOK || strings.TrimSpace(string(h.body)) != "ok" {
		t.Errorf("/healthz: %d %q", h.code, h.body)
	}
}
