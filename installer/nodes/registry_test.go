package nodes

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/paimirror/paimirror/bundle/bundletest/badlink"
)

// The probe image the lab registry tests push: REGISTRY/PREFIX/NAME:TAG,
// as paimirror push names a bundle's images.
const (
	probeRepo = "lab/pai/openpai/rest-server"
	probeTag  = "v1.8.0"
)

// labRegistry starts distribution's registry with opts and pushes the
// probe image to it.
func labRegistry(t *testing.T, opts badlink.RegistryOptions) *badlink.Reg {
	t.Helper()
	needBed(t)
	reg := badlink.Registry(t, opts)
	img, err := random.Image(512, 1)
	if err != nil {
		t.Fatal(err)
	}
	reg.Push(t, probeRepo, probeTag, img)
	return reg
}

// probe is the probe image's reference at reg.
func probeRef(host string) string { return host + "/" + probeRepo + ":" + probeTag }

// assertNoSecret fails when secret shows up in any of the texts.
func assertNoSecret(t *testing.T, secret string, texts map[string]string) {
	t.Helper()
	if secret == "" {
		t.Fatal("no secret to look for")
	}
	for what, s := range texts {
		if strings.Contains(s, secret) {
			t.Errorf("the registry password appears in %s", what)
		}
	}
}

// TestPrepareRegistry: a private HTTPS registry with its own CA. Every
// machine gets the CA in docker's certs.d for that registry alone (not in
// the system's trust), and the credentials in root's and kubelet's docker
// config.json (0600, other entries kept), which a real client then pulls
// the probe image with. daemon.json does not name the registry. A second
// run changes nothing.
func TestPrepareRegistry(t *testing.T) {
	reg := labRegistry(t, badlink.RegistryOptions{TLS: true, Htpasswd: true})
	const otherEntry = `{"auths": {"other.lab:5000": {"auth": "b3RoZXI6c2VjcmV0"}}, "HttpHeaders": {"X-Meta": "kept"}}`
	worker := newNode(t, nodeSpec{hostname: "pai-worker1", rootDockerConfig: strp(otherEntry)})
	dev := newNode(t, nodeSpec{hostname: "dev-box"})
	nodes := []Node{worker.node(Worker), {Name: "dev-box", Addr: dev.ip, Role: DevBox}}
	keys, stateDir := openKeys(t)
	log, logs := testLogger()
	const mirror = "10.200.0.1:5000"
	r := &Registry{Host: reg.Host, CAPEM: reg.CAPEM, Username: reg.Username, Password: reg.Password, Probe: probeRef(reg.Host)}
	opts := PrepareOptions{Mirror: Mirror{Addr: mirror}, Registry: r, Logger: log, DockerWait: 30 * time.Second}

	results, err := Prepare(context.Background(), nodes, testAuth(), keys, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range results {
		if !res.RegistryCAInstalled || !slices.Equal(res.RegistryAuth, []string{RootDockerConfigPath, KubeletDockerConfigPath}) || res.RegistryInsecure {
			t.Errorf("%s: %+v", res.Node, res)
		}
	}
	for _, n := range []*testNode{worker, dev} {
		name := n.spec.hostname
		caFile := n.hostPath(CAPath(reg.Host))
		if got, err := os.ReadFile(caFile); err != nil || string(got) != string(reg.CAPEM) {
			t.Errorf("%s: the registry's CA at %s: %v", name, CAPath(reg.Host), err)
		}
		// Docker's trust only: the system's store knows nothing of it.
		store := n.run(t, keys, "ls /usr/local/share/ca-certificates; cat /etc/ssl/certs/ca-certificates.crt 2>/dev/null || true")
		if strings.Contains(store, strings.TrimSpace(string(reg.CAPEM))) || strings.Contains(store, "paimirror") {
			t.Errorf("%s: the registry's CA reached the system's trust", name)
		}
		m := readJSON(t, n.daemonJSONPath())
		for _, key := range []string{keyRegistryMirrors, keyInsecureRegistries} {
			if v, ok := m[key]; ok && slices.ContainsFunc(strList(v), func(s string) bool { return strings.Contains(s, reg.Host) }) {
				t.Errorf("%s: daemon.json's %s names the registry: %v", name, key, v)
			}
		}
		for _, path := range []string{RootDockerConfigPath, KubeletDockerConfigPath} {
			file := n.hostPath(path)
			fi, err := os.Stat(file)
			if err != nil {
				t.Errorf("%s: %s: %v", name, path, err)
				continue
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("%s: %s has mode %v, want 0600", name, path, fi.Mode().Perm())
			}
			auths := readJSON(t, file)["auths"].(map[string]any)
			want := base64.StdEncoding.EncodeToString([]byte(reg.Username + ":" + reg.Password))
			if got := auths[reg.Host].(map[string]any)["auth"]; got != want {
				t.Errorf("%s: %s holds %v for the registry", name, path, got)
			}
			// docker's own reader finds them, and they pull from the
			// registry.
			pullWithConfig(t, filepath.Dir(file), reg)
		}
		if n.spec.rootDockerConfig == nil { // prepare made the directory
			if fi, err := os.Stat(n.hostPath("/root/.docker")); err != nil || fi.Mode().Perm() != 0o700 {
				t.Errorf("%s: /root/.docker: %v %v", name, fi.Mode(), err)
			}
			if fi, err := os.Stat(n.hostPath("/var/lib/kubelet")); err != nil || fi.Mode().Perm() != 0o750 {
				t.Errorf("%s: /var/lib/kubelet: %v %v", name, fi.Mode(), err)
			}
		}
	}
	root := readJSON(t, worker.hostPath(RootDockerConfigPath))
	if root["HttpHeaders"].(map[string]any)["X-Meta"] != "kept" || root["auths"].(map[string]any)["other.lab:5000"] == nil {
		t.Errorf("the other entries of root's config.json were lost: %v", root)
	}
	restarts := worker.restarts()

	// Second run: nothing to do.
	results, err = Prepare(context.Background(), nodes, testAuth(), keys, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, res := range results {
		if res.RegistryCAInstalled || len(res.RegistryAuth) > 0 || res.Changed {
			t.Errorf("second run, %s: %+v", res.Node, res)
		}
	}
	if worker.restarts() != restarts {
		t.Error("the second run restarted docker")
	}

	texts := map[string]string{"the log": logs.String(), "the results": fmt.Sprintf("%+v %#v", results, opts)}
	for _, n := range []*testNode{worker, dev} {
		texts["sshd's output on "+n.spec.hostname] = n.stderr.String()
	}
	assertNoSecret(t, reg.Password, texts)
	assertNoPassword(t, "the log", logs.String())
	assertNoPasswordInFiles(t, stateDir)
}

// pullWithConfig reads the docker config.json in dir as the docker CLI
// does (go-containerregistry's default keychain, with DOCKER_CONFIG) and
// fetches the probe image's manifest from reg with what it found.
func pullWithConfig(t *testing.T, dir string, reg *badlink.Reg) {
	t.Helper()
	t.Setenv("DOCKER_CONFIG", dir)
	ref, err := name.ParseReference(probeRef(reg.Host))
	if err != nil {
		t.Fatal(err)
	}
	a, err := authn.DefaultKeychain.Resolve(ref.Context())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := a.Authorization()
	if err != nil || cfg.Username != reg.Username || cfg.Password != reg.Password {
		t.Errorf("%s/config.json gives user %q (password right: %v), %v", dir, cfg.Username, cfg.Password == reg.Password, err)
		return
	}
	if _, err := remote.Head(ref, remote.WithAuth(a), remote.WithTransport(reg.Transport()), remote.WithContext(t.Context())); err != nil {
		t.Errorf("pulling with %s/config.json: %v", dir, err)
	}
}

// TestPrepareRegistryInsecure: a plain HTTP registry goes into
// insecure-registries next to the mirror, once, with one docker restart;
// no CA is written and registry-mirrors does not name it.
func TestPrepareRegistryInsecure(t *testing.T) {
	n := newNode(t, nodeSpec{hostname: "pai-worker1", daemonJSON: strp(nvidiaDaemonJSON)})
	keys, _ := openKeys(t)
	const mirror, host = "10.200.0.1:5000", "harbor.lab:8080"
	opts := PrepareOptions{Mirror: Mirror{Addr: mirror}, Registry: &Registry{Host: host, Insecure: true}, DockerWait: 30 * time.Second}
	results, err := Prepare(context.Background(), []Node{n.node(Worker)}, testAuth(), keys, opts)
	if err != nil {
		t.Fatal(err)
	}
	if r := results[0]; !r.Changed || !r.Restarted || !r.RegistryInsecure || r.RegistryCAInstalled || len(r.RegistryAuth) > 0 {
		t.Errorf("%+v", r)
	}
	// The registry only: no image comes from the mirror, so docker is not
	// told of it, and a reference the patch missed fails instead.
	m := readJSON(t, n.daemonJSONPath())
	if got := strList(m[keyInsecureRegistries]); !slices.Equal(got, []string{host}) {
		t.Errorf("insecure-registries %v, want [%s]", got, host)
	}
	if got, ok := m[keyRegistryMirrors]; ok {
		t.Errorf("registry-mirrors %v, want none", got)
	}
	if m["default-runtime"] != "nvidia" {
		t.Error("default-runtime lost")
	}
	if n.restarts() != 1 {
		t.Errorf("%d restarts, want 1", n.restarts())
	}
	if _, err := os.Stat(n.hostPath("/etc/docker/certs.d/" + host)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("certs.d for a plain HTTP registry: %v", err)
	}
	if _, err := os.Stat(n.hostPath(RootDockerConfigPath)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("credentials written without any: %v", err)
	}
	// Rerun: nothing.
	results, err = Prepare(context.Background(), []Node{n.node(Worker)}, testAuth(), keys, opts)
	if err != nil || results[0].Changed || results[0].RegistryInsecure || n.restarts() != 1 {
		t.Errorf("second run: %+v %v, %d restarts", results[0], err, n.restarts())
	}
}

// TestPreflightRegistry: the registry check, from a node, against real
// registries: a private HTTPS one holding the probe image passes, and
// each way it can go wrong (not pushed, wrong password, no credentials,
// the CA not given, nothing listening, plain HTTP to an HTTPS registry) is
// a failure saying which, with its fix. A plain HTTP registry and one with
// bearer token auth (Harbor's kind) pass too.
func TestPreflightRegistry(t *testing.T) {
	private := labRegistry(t, badlink.RegistryOptions{TLS: true, Htpasswd: true})
	plain := labRegistry(t, badlink.RegistryOptions{})
	token := badlink.TokenFront(t, plain.URL, time.Minute)
	n := newNode(t, nodeSpec{hostname: "pai-worker1"})
	for _, addr := range []string{private.Host, plain.Host, token.Host} {
		n.forward(addr)
	}
	keys, _ := openKeys(t)
	mirror := newMirror(t)
	log, logs := testLogger()

	good := Registry{Host: private.Host, CAPEM: private.CAPEM, Username: private.Username, Password: private.Password, Probe: probeRef(private.Host)}
	_, otherCA := tlsPair(t, "127.0.0.1")
	nothing := "127.0.0.1:9" // nothing listens there in the node's namespace
	tests := []struct {
		name   string
		reg    func(r *Registry)
		status Status
		wants  []string // in the detail or the fix
	}{
		{"private registry, probe pushed", func(*Registry) {}, Pass, []string{"200", "basic auth"}},
		{"no probe: /v2/ only", func(r *Registry) { r.Probe = "" }, Pass, []string{"/v2/", "200"}},
		{"probe not pushed", func(r *Registry) { r.Probe = private.Host + "/lab/pai/openpai/rest-server:v9" }, Fail,
			[]string{"404", "not in the registry", "paimirror push BUNDLE " + private.Host + "/PREFIX", "rest-server:v9"}},
		{"wrong password", func(r *Registry) { r.Password += "x" }, Fail, []string{"401", "refused", "--registry-username"}},
		{"no credentials", func(r *Registry) { r.Username, r.Password = "", "" }, Fail, []string{"401", "--registry-username"}},
		{"no CA", func(r *Registry) { r.CAPEM = nil }, Fail, []string{"TLS", "--registry-ca"}},
		{"another CA", func(r *Registry) { r.CAPEM = otherCA }, Fail, []string{"TLS", "--registry-ca"}},
		{"nothing listening", func(r *Registry) { r.Host, r.Probe = nothing, "" }, Fail,
			[]string{"cannot connect", "firewall"}},
		{"plain HTTP to an HTTPS registry", func(r *Registry) { r.Insecure, r.CAPEM = true, nil }, Fail,
			[]string{"400", "HTTPS", "--registry-insecure"}},
		{"plain HTTP registry", func(r *Registry) {
			*r = Registry{Host: plain.Host, Insecure: true, Probe: probeRef(plain.Host)}
		}, Pass, []string{"http://" + plain.Host, "200", "anonymous"}},
		{"HTTPS to a plain HTTP registry", func(r *Registry) {
			*r = Registry{Host: plain.Host, Probe: probeRef(plain.Host)}
		}, Fail, []string{"TLS", "--registry-insecure"}},
		{"bearer token auth", func(r *Registry) {
			*r = Registry{Host: token.Host, Insecure: true, Probe: probeRef(token.Host)}
		}, Pass, []string{"200", "token"}},
		{"bearer token auth, not pushed", func(r *Registry) {
			*r = Registry{Host: token.Host, Insecure: true, Probe: token.Host + "/lab/pai/nothing:v1"}
		}, Fail, []string{"404", "paimirror push"}},
	}
	var tables []string
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			tc.reg(&r)
			tab, err := Preflight(context.Background(), []Node{n.node(Worker)}, testAuth(), keys,
				PreflightOptions{Mirror: Mirror{Addr: mirror.addr}, Registry: &r, Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			tables = append(tables, tab.String(), fmt.Sprintf("%+v", tab.Results))
			if !slices.ContainsFunc(tab.Checks, func(c Check) bool { return c.ID == CheckRegistry }) {
				t.Fatal("no registry check in the table")
			}
			res, ok := tab.Result("pai-worker1", CheckRegistry)
			if !ok {
				t.Fatal("no registry result")
			}
			t.Logf("%v: %s | fix: %s", res.Status, res.Detail, res.Fix)
			if res.Status != tc.status {
				t.Errorf("status %v, want %v: %s | fix: %s", res.Status, tc.status, res.Detail, res.Fix)
			}
			assertDetail(t, tab, "pai-worker1", CheckRegistry, tc.wants...)
			if res.Status == Fail && res.Fix == "" {
				t.Error("a failure without a fix")
			}
		})
	}
	// The check asked the registry itself, for the probe's manifest.
	if !slices.ContainsFunc(private.AccessLog(), func(e badlink.AccessEntry) bool {
		return e.Method == http.MethodHead && e.Path == "/v2/"+probeRepo+"/manifests/"+probeTag && e.Status == http.StatusOK
	}) {
		t.Errorf("the registry never answered the probe: %v", private.AccessLog())
	}
	if !slices.ContainsFunc(token.Requests(), func(r badlink.Request) bool { return r.Kind == badlink.TokenIssued }) {
		t.Error("the token front issued no token")
	}

	// Without a registry there is no such check.
	tab, err := Preflight(context.Background(), []Node{n.node(Worker)}, testAuth(), keys, PreflightOptions{Mirror: Mirror{Addr: mirror.addr}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := tab.Result("pai-worker1", CheckRegistry); ok || slices.ContainsFunc(tab.Checks, func(c Check) bool { return c.ID == CheckRegistry }) {
		t.Error("a registry check without PreflightOptions.Registry")
	}

	assertNoSecret(t, private.Password, map[string]string{"the log": logs.String(), "the tables": strings.Join(tables, "\n"),
		"sshd's output": n.stderr.String()})
}

// TestRegistryCheckScript: the script the registry check runs is the
// command line every user of the node sees in ps: it holds no
// credentials, which go on its standard input.
func TestRegistryCheckScript(t *testing.T) {
	r := &Registry{Host: "harbor.lab", CAPEM: testCA(t), Username: "robot$pai", Password: `s3cr"et pass`, Probe: "harbor.lab/pai/x:v1"}
	if err := r.validate(); err != nil {
		t.Fatal(err)
	}
	script, stdin := registryCheck(r)
	for _, secret := range []string{r.Password, base64.StdEncoding.EncodeToString([]byte(r.Username + ":" + r.Password)), "robot$pai:"} {
		if strings.Contains(script, secret) {
			t.Errorf("the script holds %q", secret)
		}
	}
	if !strings.Contains(string(stdin), `user = "robot$pai:s3cr\"et pass"`) {
		t.Errorf("standard input %q lacks the credentials in curl's config syntax", stdin)
	}
	if !strings.Contains(script, strings.TrimSpace(string(r.CAPEM))) {
		t.Error("the script does not carry the CA")
	}
}

// TestRegistryInput: what Prepare and Preflight refuse, each with a clear
// error, and a Registry that hides its password when printed or logged.
func TestRegistryInput(t *testing.T) {
	ca := testCA(t)
	for _, tc := range []struct {
		name string
		reg  Registry
		want string
	}{
		{"no host", Registry{}, "HOST or HOST:PORT"},
		{"scheme", Registry{Host: "https://harbor.lab"}, "without a scheme"},
		{"path", Registry{Host: "harbor.lab/pai"}, "path prefix"},
		{"bad port", Registry{Host: "harbor.lab:99999"}, "HOST or HOST:PORT"},
		{"user without password", Registry{Host: "h", Username: "u"}, "both"},
		{"password without user", Registry{Host: "h", Password: "pw-secret"}, "both"},
		{"colon in user", Registry{Host: "h", Username: "a:b", Password: "pw-secret"}, "colon"},
		{"control character", Registry{Host: "h", Username: "u", Password: "pw-secret\n"}, "control character"},
		{"CA with plain HTTP", Registry{Host: "h", Insecure: true, CAPEM: ca}, "plain HTTP"},
		{"CA not PEM", Registry{Host: "h", CAPEM: []byte("nope")}, "PEM"},
		{"probe elsewhere", Registry{Host: "h", Probe: "other/pai/x:v1"}, "not on h"},
		{"probe without tag", Registry{Host: "h", Probe: "h/pai/x"}, ":TAG"},
		{"probe bad name", Registry{Host: "h", Probe: "h/PAI/x:v1"}, "repository"},
		{"probe bad tag", Registry{Host: "h", Probe: "h/pai/x:-v1"}, "tag"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.reg
			err := r.validate()
			if !errors.Is(err, ErrRegistry) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrRegistry mentioning %q", err, tc.want)
			}
			if r.Password != "" && strings.Contains(err.Error(), r.Password) {
				t.Errorf("error %q shows the password", err)
			}
			keys, _ := openKeys(t)
			nodes := []Node{{Name: "a", Addr: "10.0.0.2"}}
			if _, err := Prepare(context.Background(), nodes, testAuth(), keys, PrepareOptions{Mirror: Mirror{Addr: "10.0.0.1:5000"}, Registry: &r}); !errors.Is(err, ErrRegistry) {
				t.Errorf("Prepare: %v", err)
			}
			if _, err := Preflight(context.Background(), nodes, testAuth(), keys, PreflightOptions{Mirror: Mirror{Addr: "10.0.0.1:5000"}, Registry: &r}); !errors.Is(err, ErrRegistry) {
				t.Errorf("Preflight: %v", err)
			}
		})
	}
	for _, ok := range []Registry{
		{Host: "harbor.lab"}, {Host: "10.0.0.5:8443", CAPEM: ca}, {Host: "[fd00::1]:5000", Insecure: true},
		{Host: "Harbor.Lab", Probe: "harbor.lab/pai/openpai/rest-server:v1.8.0"},
		{Host: "h:80", Probe: "h:80/a/b@sha256:" + strings.Repeat("ab", 32)},
	} {
		if err := ok.validate(); err != nil {
			t.Errorf("%+v: %v", ok, err)
		}
	}

	r := Registry{Host: "h", Username: "robot", Password: "hunter2-secret"}
	var b strings.Builder
	slogText(&b, r)
	for _, s := range []string{r.String(), r.GoString(), fmt.Sprintf("%v %+v %#v %s", r, r, r, &r), b.String()} {
		if strings.Contains(s, "hunter2") {
			t.Errorf("%q shows the password", s)
		}
	}
	if !strings.Contains(r.String(), "robot") {
		t.Errorf("%q does not say which user", r.String())
	}
}

// slogText writes v as a text handler logs it.
func slogText(w io.Writer, v any) {
	slog.New(slog.NewTextHandler(w, nil)).Info("registry", "registry", v)
}
