package patch

import (
	"encoding/json"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/installer/pai"
	"github.com/paimirror/paimirror/manifests"
	"github.com/paimirror/paimirror/manifests/yamltext"
	"go.yaml.in/yaml/v3"
)

// paiRender does, with python3's jinja2 and PyYAML, what pai v1.8.0 does
// with config.yaml on the way to its services (JSON on stdin: config,
// template, lines): openpai_generator.py loads config.yaml and renders
// quick-start/services-configuration.yaml.template with
// {"env": {"cfg": config, ...}}; paictl loads the result, and
// src/cluster/config/cluster.py makes the image prefix
// (generate_image_url_prefix) and the docker login command
// (login_docker_registry) from cluster.docker-registry. The given
// template lines are then rendered with that cluster_cfg. It prints, for
// each config, {"prefix", "tag", "login", "lines"} as a JSON list.
const paiRender = `
import json, sys
import jinja2, yaml
req = json.load(sys.stdin)
with open(req["template"]) as f:
    tpl = jinja2.Template(f.read())
out = []
for config in req["configs"]:
    with open(config) as f:
        cfg = yaml.load(f, yaml.SafeLoader)
    env = {"masters": [], "workers": [], "cfg": cfg, "head_node": {}, "hived": {"skus": {}}}
    svc = yaml.load(tpl.render({"env": env}), yaml.SafeLoader)
    reg = svc["cluster"]["docker-registry"]
    domain = str(reg["domain"])
    namespace = str(reg["namespace"])
    if domain != "docker.io":
        reg["prefix"] = "{0}/{1}/".format(domain, namespace)
    else:
        reg["prefix"] = "{0}/".format(namespace)
    login = ""
    username = reg.get("username") and str(reg["username"])
    passwd = reg.get("password") and str(reg["password"])
    if username and passwd:
        login = "docker login -u {0} -p {1} {2}".format(username, passwd, domain)
    cluster_cfg = {"cluster": {"docker-registry": reg}}
    lines = [jinja2.Template(l).render({"cluster_cfg": cluster_cfg}) for l in req["lines"] or []]
    out.append({"prefix": reg["prefix"], "tag": str(reg["tag"]), "login": login, "lines": lines})
json.dump(out, sys.stdout)
`

// defaultImages returns the mirror names of every image of the built-in
// manifest: what the registry holds after paimirror push of a bundle
// with all groups.
func defaultImages() []string {
	var names []string
	for _, img := range manifests.Default().Images {
		names = append(names, img.MirrorNames()...)
	}
	return names
}

// TestRealTreeRegistry is issue 13's test of install --registry: the
// real pai v1.8.0 tree, patched with a registry that holds every image
// of the manifest, names the registry in every image reference kubespray
// and pai use on the install path, as pai's own templates render them.
func TestRealTreeRegistry(t *testing.T) {
	dir := realTree(t)
	reg := &Registry{Prefix: "harbor.lab:8443/lab/openpai", Username: "robot$openpai+pull", Password: testPassword, Images: defaultImages()}
	opts := Options{Mirror: testMirror, DockerApt: &testDockerApt, AptPackages: realAptPackages, PipIndex: "/pypi/simple/", DevBoxDocker: true, Registry: reg}
	r, err := Plan(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Warnings) != 0 {
		t.Errorf("warnings:\n%s", warningsText(r.Warnings))
	}
	shown := r.Diff() + string(warningsText(r.Warnings)) + string(findingsText(r.Findings))
	for _, secret := range []string{testPassword, "HOME;", `w\"o`, "pa ss"} {
		if strings.Contains(shown, secret) {
			t.Errorf("the diff, warnings or findings show the password (%q)", secret)
		}
	}
	if err := Apply(r); err != nil {
		t.Fatal(err)
	}

	// kubespray: every image variable names the registry, every file URL
	// the mirror, as pai's openpai.yml.template writes them.
	configPath := filepath.Join(dir, filepath.FromSlash(pai.ConfigFile))
	var cfg struct {
		Extra     map[string]string `yaml:"openpai_kubespray_extra_var"`
		Domain    string            `yaml:"docker_registry_domain"`
		Namespace string            `yaml:"docker_registry_namespace"`
	}
	if err := yaml.Unmarshal(readFile(t, configPath), &cfg); err != nil {
		t.Fatal(err)
	}
	for _, v := range manifests.KubesprayRegistryVars(reg.Prefix) {
		if cfg.Extra[v.Name] != v.Value {
			t.Errorf("%s = %q, want %q", v.Name, cfg.Extra[v.Name], v.Value)
		}
	}
	for name, value := range cfg.Extra {
		switch {
		case strings.HasSuffix(name, "_image_repo") && !strings.HasPrefix(value, reg.Prefix+"/"):
			t.Errorf("%s = %q does not name the registry", name, value)
		case strings.HasSuffix(name, "_download_url") && !strings.HasPrefix(value, "http://"+testMirror+"/"):
			t.Errorf("%s = %q is not on the mirror", name, value)
		}
	}
	// The images those variables name, with the tags kubespray 2.11
	// gives them, are the registry's.
	for _, img := range []struct{ variable, suffix string }{
		{"kube_image_repo", "/kube-apiserver:v1.15.11"}, {"kube_image_repo", "/pause:3.1"},
		{"pod_infra_image_repo", ":3.1"}, {"dnsautoscaler_image_repo", ":1.6.0"}, {"etcd_image_repo", ":v3.3.10"},
		{"calico_node_image_repo", ":v3.7.3"}, {"calico_cni_image_repo", ":v3.7.3"}, {"calico_policy_image_repo", ":v3.7.3"},
		{"coredns_image_repo", ":1.6.0"}, {"nginx_image_repo", ":1.15"},
	} {
		ref := manifests.ExpandKubesprayVar(cfg.Extra[img.variable]) + img.suffix
		name, ok := strings.CutPrefix(ref, reg.Prefix+"/")
		if !ok || !reg.has(name) {
			t.Errorf("%s gives %s, which the registry does not hold", img.variable, ref)
		}
	}
	if cfg.Domain != "harbor.lab:8443" || cfg.Namespace != "lab/openpai/openpai" {
		t.Errorf("docker_registry_domain %q, docker_registry_namespace %q", cfg.Domain, cfg.Namespace)
	}

	// pai's services: every literal image names the registry, or belongs
	// to a service a default install does not start.
	var templatedLines []string
	deploys, _ := filepath.Glob(filepath.Join(dir, "src", "*", "deploy"))
	for _, d := range deploys {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil || e.IsDir() {
				return err
			}
			rel, _ := relPath(dir, p)
			if !isDeployFile(rel) {
				return nil
			}
			for i, l := range yamltext.Lines(readFile(t, p)) {
				body, _ := yamltext.CutEOL(l)
				m := imageLine.FindStringSubmatch(body)
				switch {
				case m == nil:
				case templated(m[3]):
					templatedLines = append(templatedLines, body)
				case !reg.names(m[3]) && offService(rel) == "":
					t.Errorf("%s:%d: %s does not name the registry", rel, i+1, m[3])
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(templatedLines) < 20 {
		t.Fatalf("only %d templated image lines in pai's deploy files", len(templatedLines))
	}

	// pai's own images, as its templates render them from config.yaml.
	if err := exec.Command("python3", "-c", "import jinja2, yaml").Run(); err != nil {
		t.Logf("no python3 with jinja2 and PyYAML (%v): pai's rendering not checked", err)
	} else {
		out := renderPai(t, filepath.Join(dir, "contrib/kubespray/quick-start/services-configuration.yaml.template"), templatedLines, configPath)[0]
		if want := reg.Prefix + "/openpai/"; out.Prefix != want {
			t.Errorf("pai's image prefix is %q, want %q", out.Prefix, want)
		}
		for i, l := range out.Lines {
			m := imageLine.FindStringSubmatch(l)
			if m == nil {
				t.Errorf("%q rendered as %q", templatedLines[i], l)
				continue
			}
			name, ok := strings.CutPrefix(m[3], reg.Prefix+"/")
			if !ok || !reg.has(name) || !strings.HasPrefix(name, "openpai/") {
				t.Errorf("%q renders %s, not an openpai image the registry holds", templatedLines[i], m[3])
			}
		}
		// pai's docker login (shell=True) gets the credentials unchanged.
		got, err := exec.Command("sh", "-c", `docker() { printf '%s\n' "$@"; }; eval "$1"`, "sh", out.Login).Output()
		if err != nil {
			t.Fatalf("running pai's login command: %v", err)
		}
		if want := strings.Join([]string{"login", "-u", reg.Username, "-p", reg.Password, "harbor.lab:8443"}, "\n") + "\n"; string(got) != want {
			t.Errorf("pai's docker login gets\n%s\nwant\n%s", got, want)
		}
	}

	// The dev box: run service-boot.sh itself with a docker that records
	// what it is asked to run.
	if _, err := exec.LookPath("bash"); err == nil {
		args := runServiceBoot(t, dir)
		if len(args) == 0 || args[len(args)-1] != reg.Prefix+"/openpai/dev-box:v1.8.0" || !slices.Contains(args, "--entrypoint") {
			t.Errorf("service-boot.sh runs docker %q", args)
		}
	}

	// The NVIDIA device plugin's manifest, through the patched pipeline.
	script := string(readFile(t, filepath.Join(dir, filepath.FromSlash(pai.DevicePluginFile))))
	url := `curl -fsSL "http://` + testMirror + `/raw.githubusercontent.com/NVIDIA/k8s-device-plugin/1.0.0-beta4/nvidia-device-plugin.yml"`
	_, rest, ok := strings.Cut(script, url)
	stage, _, _ := strings.Cut(rest, " \\\n    | kubectl apply")
	if !ok || !strings.HasPrefix(stage, " | sed ") {
		t.Fatalf("no sed stage after the NVIDIA manifest's curl:\n%s", script)
	}
	manifest := nvidiaManifest(t)
	file := filepath.Join(t.TempDir(), "nvidia-device-plugin.yml")
	writeFile(t, file, manifest)
	got, err := exec.Command("sh", "-c", `cat "$1"`+stage, "sh", file).Output()
	if err != nil {
		t.Fatalf("the sed stage: %v", err)
	}
	want := strings.Replace(manifest, "- image: nvidia/k8s-device-plugin:1.0.0-beta4", "- image: "+reg.Prefix+"/nvidia/k8s-device-plugin:1.0.0-beta4", 1)
	if string(got) != want || want == manifest {
		t.Errorf("the NVIDIA manifest through the sed stage:\n%s", got)
	}

	// Scan finds no image on the install path outside the registry.
	for _, f := range r.Findings {
		if strings.Contains(f.What, "not from the lab registry") && f.OffPath == "" {
			t.Errorf("an image on the install path does not name the registry: %v", f)
		}
	}
	fs, err := Scan(dir, ScanOptions{Mirror: testMirror, Registry: reg.Prefix, AptPackages: realAptPackages, DevBoxDocker: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.OffPath == "" {
			t.Errorf("a default install with the registry still reaches out: %v", f)
		}
	}

	again, err := Plan(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Changes) != 0 {
		t.Errorf("second Plan has changes:\n%s", again.Diff())
	}
}

// TestRealTreeRegistryMissing: images the registry lacks are left as
// they were, each with a warning naming it and a scan finding.
func TestRealTreeRegistryMissing(t *testing.T) {
	dir := realTree(t)
	images := slices.DeleteFunc(defaultImages(), func(n string) bool {
		return strings.HasPrefix(n, "frameworkcontroller/") || strings.HasPrefix(n, "nvidia/")
	})
	reg := &Registry{Prefix: testRegistry, Images: images}
	r, err := Plan(dir, Options{Mirror: testMirror, Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	text := string(warningsText(r.Warnings))
	for _, want := range []string{
		"src/frameworkcontroller/deploy/frameworkcontroller.yaml.template:36: the registry harbor.lab/openpai does not hold frameworkcontroller/frameworkcontroller:v0.9.0",
		"src/device-plugin/deploy/start.sh.template:32: the registry harbor.lab/openpai holds no nvidia/k8s-device-plugin image",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("no warning %q in\n%s", want, text)
		}
	}
	if len(r.Warnings) != 2 {
		t.Errorf("%d warnings, want 2:\n%s", len(r.Warnings), text)
	}
	i := slices.IndexFunc(r.Findings, func(f Finding) bool {
		return f.Path == "src/frameworkcontroller/deploy/frameworkcontroller.yaml.template" && f.Line == 36 && f.Host == "docker.io" && f.OffPath == ""
	})
	if i < 0 {
		t.Errorf("no finding for frameworkcontroller:\n%s", findingsText(r.Findings))
	}
}

type paiRendered struct {
	Prefix, Tag, Login string
	Lines              []string
}

// renderPai runs paiRender.
func renderPai(t *testing.T, template string, lines []string, configs ...string) []paiRendered {
	t.Helper()
	req, _ := json.Marshal(map[string]any{"configs": configs, "template": template, "lines": lines})
	cmd := exec.Command("python3", "-c", paiRender)
	cmd.Stdin = strings.NewReader(string(req))
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("rendering as pai does: %v\n%s", err, stderr)
	}
	var r []paiRendered
	if err := json.Unmarshal(out, &r); err != nil || len(r) != len(configs) {
		t.Fatalf("%v: %s", err, out)
	}
	return r
}

// runServiceBoot runs the tree's service-boot.sh with bash as
// quick-start-service.sh does (from contrib/kubespray, with
// config/config.yaml), with sudo, docker and kubectl replaced by
// scripts: docker records the arguments of docker run, which it returns.
func runServiceBoot(t *testing.T, dir string) []string {
	t.Helper()
	bin := t.TempDir()
	record := filepath.Join(bin, "docker-run-args")
	for name, body := range map[string]string{
		"sudo":    "#!/bin/sh\nexec \"$@\"\n",
		"docker":  "#!/bin/sh\nif [ \"$1\" = run ]; then printf '%s\\n' \"$@\" > \"$DOCKER_RUN_ARGS\"; fi\n",
		"kubectl": "#!/bin/sh\nexit 0\n",
	} {
		if err := os.WriteFile(filepath.Join(bin, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("bash", "script/service-boot.sh", "-c", "config/config.yaml")
	cmd.Dir = filepath.Join(dir, "contrib", "kubespray")
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "DOCKER_RUN_ARGS="+record)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("service-boot.sh: %v\n%s", err, out)
	}
	return strings.Fields(string(readFile(t, record)))
}

// nvidiaManifest returns nvidia-device-plugin.yml of NVIDIA's
// k8s-device-plugin at tag 1.0.0-beta4, from a clone of the repository
// when there is one, else a manifest of its shape (the containers
// section is what the sed stage works on).
func nvidiaManifest(t *testing.T) string {
	const repo = "/work/.mirror/NVIDIA+k8s-device-plugin/repo"
	if out, err := exec.Command("git", "-C", repo, "show", "1.0.0-beta4:nvidia-device-plugin.yml").Output(); err == nil {
		return string(out)
	}
	t.Logf("no clone of NVIDIA/k8s-device-plugin at %s: using a manifest of the same shape", repo)
	return "apiVersion: apps/v1\nkind: DaemonSet\nspec:\n  template:\n    spec:\n      priorityClassName: \"system-node-critical\"\n" +
		"      containers:\n      - image: nvidia/k8s-device-plugin:1.0.0-beta4\n        name: nvidia-device-plugin-ctr\n"
}

// TestPaiCredential passes credentials through config.yaml as the patch
// writes them and then as pai v1.8.0 reads them (its services
// configuration template, PyYAML, its docker login through the shell),
// and checks that docker login gets them unchanged: plain words as they
// are, and those YAML 1.1 or the shell would change.
func TestPaiCredential(t *testing.T) {
	dir := realTree(t)
	if err := exec.Command("python3", "-c", "import jinja2, yaml").Run(); err != nil {
		t.Skipf("no python3 with jinja2 and PyYAML: %v", err)
	}
	template := filepath.Join(dir, "contrib/kubespray/quick-start/services-configuration.yaml.template")
	config := readFile(t, filepath.Join(dir, filepath.FromSlash(pai.ConfigFile)))
	creds := []string{
		"admin", "Harbor12345", "robot_x.y-z+w=1@lab/2",
		"12345", "0123", "0x1f", "1_000", "1:20", "1.5", "yes", "Off", "null", "~", "2021-01-01",
		"-dash", "@at", "a:b", "a: b", "a #b", "#hash", "!tag", "&anchor", "*alias", "%pct", "[x]", "{x}",
		"p@ss w0rd", "robot$openpai+pull", "$(id)", "`id`", "a;b", "a|b", "a&&b", "a>b", "*", "~user",
		"'", `"`, `\`, `'\''`, testPassword, " lead", "trail ",
	}
	regs := make([]*Registry, len(creds))
	paths := make([]string, len(creds))
	tmp := t.TempDir()
	for i, cred := range creds {
		regs[i] = &Registry{Prefix: testRegistry, Username: cred, Password: "x" + cred + "y"}
		if err := regs[i].check(); err != nil {
			t.Fatalf("%q: %v", cred, err)
		}
		out, _, err := patchConfigTop("config.yaml", config, manifests.KubesprayRegistryVars(testRegistry), regs[i].topVars())
		if err != nil {
			t.Fatalf("%q: %v", cred, err)
		}
		paths[i] = filepath.Join(tmp, strconv.Itoa(i)+".yaml")
		writeFile(t, paths[i], string(out))
	}
	rendered := renderPai(t, template, nil, paths...)
	for i, cred := range creds {
		reg, r := regs[i], rendered[i]
		got, err := exec.Command("sh", "-c", `docker() { printf '%s\n' "$@"; }; eval "$1"`, "sh", r.Login).Output()
		if err != nil {
			t.Errorf("%q: running pai's login command %q: %v", cred, r.Login, err)
			continue
		}
		want := strings.Join([]string{"login", "-u", reg.Username, "-p", reg.Password, "harbor.lab"}, "\n") + "\n"
		if string(got) != want {
			t.Errorf("%q: pai's docker login gets %q, want %q", cred, got, want)
		}
		if plain := paiCredential(cred) == cred; plain != (cred == "admin" || cred == "Harbor12345" || cred == "robot_x.y-z+w=1@lab/2") {
			t.Errorf("%q written as is: %v", cred, plain)
		}
	}
}
