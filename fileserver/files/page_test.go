package files_test

import (
	"context"
	"html"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/fileserver/files"
	"github.com/paimirror/paimirror/manifests"
)

// chromium runs headless Chromium on u, offline-minded (no background
// networking, no component updates, no sync), with extra flags, and returns
// its standard output.
func chromium(t *testing.T, u string, flags ...string) []byte {
	t.Helper()
	bin := bundletest.Tool(t, "chromium")
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + t.TempDir(),
	}, flags...)
	args = append(args, u)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(cleanEnv(), "HOME="+t.TempDir())
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v\n%s", u, err, stderr.String())
	}
	return out
}

// section returns the inner HTML of the element with the given id.
func section(t *testing.T, dom, id string) string {
	t.Helper()
	re := regexp.MustCompile(`(?s)<section id="` + regexp.QuoteMeta(id) + `">(.*?)</section>`)
	m := re.FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the page has no section %q", id)
	}
	return html.UnescapeString(m[1])
}

// TestIndexPageChromium renders the index page in headless Chromium and
// checks the rendered DOM: the advertised address in every config block, each
// image's names and each file's paths. It also takes a screenshot; set
// PAIMIRROR_SCREENSHOT=FILE to keep it for a look.
func TestIndexPageChromium(t *testing.T) {
	tb := defaultBundle(t)
	const advertised = "10.10.10.10:10000"
	_, addr := start(t, files.Options{Advertise: advertised})
	dom := string(chromium(t, "http://"+addr+"/", "--dump-dom"))
	if !strings.Contains(dom, "</html>") {
		t.Fatalf("no DOM dumped:\n%s", dom)
	}

	cfg := section(t, dom, "config-yaml")
	if !strings.Contains(cfg, "openpai_kubespray_extra_var:") {
		t.Errorf("the config.yaml block has no openpai_kubespray_extra_var:\n%s", cfg)
	}
	for _, v := range manifests.KubesprayVars(advertised, "http") {
		line := "  " + v.Name + `: "` + v.Value + `"`
		if !strings.Contains(cfg, line) {
			t.Errorf("the config.yaml block lacks %q", line)
		}
	}
	if strings.Contains(cfg, addr) {
		t.Errorf("the config block uses the request's address %s instead of the advertised one", addr)
	}
	if s := section(t, dom, "docker-cache"); !strings.Contains(s, `docker_cache_host: "`+advertised+`"`) {
		t.Errorf("docker-cache block:\n%s", s)
	}
	daemon := section(t, dom, "daemon-json")
	for _, want := range []string{`"registry-mirrors": ["http://` + advertised + `"]`, `"insecure-registries": ["` + advertised + `"]`} {
		if !strings.Contains(daemon, want) {
			t.Errorf("daemon.json block lacks %s:\n%s", want, daemon)
		}
	}
	if s := section(t, dom, "device-plugin"); !strings.Contains(s, `curl -fsSL 'http://`+advertised+`/raw.githubusercontent.com/NVIDIA/k8s-device-plugin/1.0.0-beta4/nvidia-device-plugin.yml' \`) {
		t.Errorf("device-plugin block:\n%s", s)
	}
	if strings.Contains(dom, "advertise HOST:PORT</code>: the snippets") {
		t.Error("the page warns about the address although --advertise was given")
	}

	text := html.UnescapeString(strings.ReplaceAll(dom, "<wbr>", ""))
	for _, img := range tb.b.Lock.Images {
		for _, n := range img.Names {
			if !strings.Contains(text, "<code>"+n+"</code>") {
				t.Errorf("the page does not show image name %s", n)
			}
		}
		if !strings.Contains(text, img.Ref) {
			t.Errorf("the page does not show image %s", img.Ref)
		}
	}
	for _, f := range tb.b.Lock.Files {
		for _, p := range f.Paths {
			if !strings.Contains(text, `<a href="`+p+`"><code>`+p+`</code></a>`) {
				t.Errorf("the page does not link file path %s", p)
			}
		}
	}
	// Each apt repository, with the sources lines a node takes, at the
	// advertised address.
	for _, r := range tb.b.Lock.AptRepositories() {
		for _, suite := range r.Suites {
			line := "deb [arch=amd64] http://" + advertised + r.Prefix + " " + suite + " " + strings.Join(r.Components, " ")
			if !strings.Contains(text, line) {
				t.Errorf("the page does not show the sources line %q", line)
			}
		}
	}
	for _, want := range []string{tb.b.Lock.Manifest.Name, tb.b.Lock.Created.UTC().Format("2006-01-02 15:04 UTC")} {
		if !strings.Contains(text, want) {
			t.Errorf("the page does not show %q", want)
		}
	}

	shot := os.Getenv("PAIMIRROR_SCREENSHOT")
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "index.png")
	}
	chromium(t, "http://"+addr+"/", "--screenshot="+shot, "--window-size=1280,2200", "--hide-scrollbars")
	if st, err := os.Stat(shot); err != nil || st.Size() < 10000 {
		t.Errorf("screenshot %s: %v", shot, err)
	}
}

// TestIndexPageFromHost checks that without --advertise the page fills in
// the address the request came to, says so, and that HEAD works.
func TestIndexPageFromHost(t *testing.T) {
	_, addr := start(t, files.Options{})
	r := curl(t, url(addr, "/"))
	if r.code != http.StatusOK || r.header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("/: %d %q", r.code, r.header.Get("Content-Type"))
	}
	body := html.UnescapeString(strings.ReplaceAll(string(r.body), "<wbr>", ""))
	if !strings.Contains(body, `kube_image_repo: "`+addr+`/gcr.io/google-containers"`) {
		t.Error("the config block does not use the request's Host")
	}
	if !strings.Contains(body, "--advertise HOST:PORT") {
		t.Error("the page does not explain --advertise when the address comes from the request")
	}
	for _, bad := range []string{"http://", "https://"} {
		for _, m := range regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(body, -1) {
			if strings.HasPrefix(m[1], bad) {
				t.Errorf("the page loads or links an external address %s", m[1])
			}
		}
	}
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Errorf("Content-Security-Policy %q", csp)
	}
	h := curl(t, "-I", url(addr, "/"))
	if h.code != http.StatusOK || h.header.Get("Content-Length") != r.header.Get("Content-Length") {
		t.Errorf("HEAD /: %d, Content-Length %q, GET had %q", h.code, h.header.Get("Content-Length"), r.header.Get("Content-Length"))
	}

	// A hostile Host is escaped on the page, never markup.
	x := curl(t, "-H", `Host: a"><script>alert(1)</script>`, url(addr, "/"))
	if strings.Contains(string(x.body), "<script>") {
		t.Error("the Host header reached the page unescaped")
	}
}

// TestHTTPSSnippets checks the snippets for a TLS mirror with a generated
// CA: https URLs, no insecure-registries, the CA served with its fingerprint.
func TestHTTPSSnippets(t *testing.T) {
	caPEM := []byte("-----BEGIN CERTIFICATE-----\nMAoGCCqGSM49BAMC\n-----END CERTIFICATE-----\n")
	_, addr := start(t, files.Options{Scheme: "https", Advertise: "mirror.lab:5443", CAPath: "/paimirror-ca.crt", CAPEM: caPEM})
	r := curl(t, url(addr, "/config.txt"))
	text := string(r.body)
	for _, want := range []string{
		`kubeadm_download_url: "https://mirror.lab:5443/storage.googleapis.com/`,
		`"registry-mirrors": ["https://mirror.lab:5443"]`,
		"'/etc/docker/certs.d/mirror.lab:5443/ca.crt'",
		"'https://mirror.lab:5443/paimirror-ca.crt'",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/config.txt lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "insecure-registries") || strings.Contains(text, "docker_cache_host:") {
		t.Error("an HTTPS mirror is listed as an insecure registry, or as the http docker cache")
	}
	ca := curl(t, url(addr, "/paimirror-ca.crt"))
	if ca.code != http.StatusOK || string(ca.body) != string(caPEM) {
		t.Errorf("CA: %d %q", ca.code, ca.body)
	}
	page := html.UnescapeString(string(curl(t, url(addr, "/")).body))
	if !regexp.MustCompile(`([0-9A-F]{2}:){31}[0-9A-F]{2}`).MatchString(page) {
		t.Error("the page does not show the CA's SHA-256 fingerprint")
	}
}
