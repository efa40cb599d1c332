package patch

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/manifests"
	"go.yaml.in/yaml/v3"
)

// testRegistry is the registry prefix the registry tests use.
const testRegistry = "harbor.lab/openpai"

// testPassword is a password with everything pai's double reading
// (unquoted YAML, then an unquoted shell word) would mangle.
const testPassword = `pa ss'w"o\rd$HOME;#1: {{ x }}`

func TestRegistryCheck(t *testing.T) {
	for _, tc := range []struct {
		name string
		reg  Registry
		want string // in the error; "" for valid
	}{
		{"host and path", Registry{Prefix: "harbor.lab/openpai", Images: []string{"library/busybox:1.31.1", "gcr.io/google-containers/kube-apiserver:v1.15.11"}}, ""},
		{"host only, with port", Registry{Prefix: "10.0.0.5:5000"}, ""},
		{"nested path, credentials", Registry{Prefix: "localhost:8443/a/b-c/d__e", Username: "robot$x+y", Password: testPassword}, ""},
		{"empty", Registry{}, "Prefix is required"},
		{"scheme", Registry{Prefix: "https://harbor.lab/openpai"}, "without a scheme"},
		{"trailing slash", Registry{Prefix: "harbor.lab/openpai/"}, `path element ""`},
		{"upper case path", Registry{Prefix: "harbor.lab/OpenPAI"}, `path element "OpenPAI"`},
		{"hub user as host", Registry{Prefix: "myuser/openpai"}, "add the port"},
		{"docker hub", Registry{Prefix: "docker.io/myorg"}, "is Docker Hub"},
		{"bad port", Registry{Prefix: "harbor.lab:99999/x"}, "port"},
		{"username without password", Registry{Prefix: "harbor.lab", Username: "u"}, "both Username and Password"},
		{"password without username", Registry{Prefix: "harbor.lab", Password: "s3cret-value"}, "both Username and Password"},
		{"newline in password", Registry{Prefix: "harbor.lab", Username: "u", Password: "a\nsecret"}, "the password has a character"},
		{"non-ASCII password", Registry{Prefix: "harbor.lab", Username: "u", Password: "pässword"}, "the password has a character"},
		{"image not a mirror name", Registry{Prefix: "harbor.lab", Images: []string{"busybox:1.31.1"}}, `want "library/busybox:1.31.1"`},
		{"image without tag", Registry{Prefix: "harbor.lab", Images: []string{"library/busybox"}}, "no tag"},
		{"image name too long", Registry{Prefix: "harbor.lab/" + strings.Repeat("a", 250), Images: []string{"library/busybox:1"}}, "longer than 255"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.reg.check()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalidOptions) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrInvalidOptions with %q", err, tc.want)
			}
			if tc.reg.Password != "" && strings.Contains(err.Error(), tc.reg.Password) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
	// Plan checks it too, before reading anything.
	_, err := Plan(t.TempDir(), Options{Mirror: testMirror, Registry: &Registry{Prefix: "docker.io/x"}})
	if !errors.Is(err, ErrInvalidOptions) {
		t.Errorf("Plan with a Docker Hub registry: %v", err)
	}
}

// TestPatchConfigRegistry sets pai's docker_registry_* keys in config.yaml
// shapes: pai's own commented examples, keys already set (one of them the
// password, whose values no warning may show), none at all, CRLF.
func TestPatchConfigRegistry(t *testing.T) {
	reg := &Registry{Prefix: testRegistry, Username: "robot$openpai+pull", Password: testPassword}
	top := reg.topVars()
	vars := manifests.KubesprayRegistryVars(reg.Prefix)
	for _, tc := range []struct {
		name, in string
		after    string // the line the keys follow, when added
		warnings []string
	}{
		{"pai's commented examples", "user: u\npassword: p\ndocker_image_tag: v1.8.0\n# docker_registry_domain: docker.io\n# docker_registry_namespace: openpai\n# docker_registry_username: exampleuser\n# docker_registry_password: examplepasswd\n\n# qos-switch: \"false\"\n",
			"# docker_registry_password: examplepasswd\n", nil},
		{"set already", "user: u\npassword: p\ndocker_image_tag: v1.8.0\ndocker_registry_domain: docker.io # the default\ndocker_registry_password: old-s3cret\ndocker_registry_username: olduser\n", "",
			[]string{`config.yaml:4: replaced top-level docker_registry_domain "docker.io" with "harbor.lab"`, "config.yaml:5: replaced top-level docker_registry_password (values not shown)", "config.yaml:6: replaced top-level docker_registry_username"}},
		{"no examples", "user: u\npassword: p\ndocker_image_tag: v1.8.0", "docker_image_tag: v1.8.0\n\n", nil},
		{"crlf", "user: u\r\npassword: p\r\ndocker_image_tag: v1.8.0\r\n# docker_registry_domain: docker.io\r\n# docker_registry_namespace: openpai\r\n", "# docker_registry_namespace: openpai\r\n", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, warnings, err := patchConfigTop("config.yaml", []byte(tc.in), vars, top)
			if err != nil {
				t.Fatal(err)
			}
			var got map[string]any
			if err := yaml.Unmarshal(out, &got); err != nil {
				t.Fatalf("the result does not parse: %v\n%s", err, out)
			}
			for _, v := range top {
				if got[v.Name] != v.Value {
					t.Errorf("%s = %#v, want %#v", v.Name, got[v.Name], v.Value)
				}
			}
			if got["docker_registry_namespace"] != "openpai/openpai" || got["docker_registry_domain"] != "harbor.lab" {
				t.Errorf("domain %v, namespace %v", got["docker_registry_domain"], got["docker_registry_namespace"])
			}
			if tc.after != "" {
				eol := "\n"
				if strings.Contains(tc.in, "\r\n") {
					eol = "\r\n"
				}
				if !strings.Contains(string(out), tc.after+"docker_registry_domain: \"harbor.lab\""+eol+"docker_registry_namespace:") {
					t.Errorf("the keys do not follow %q:\n%s", tc.after, out)
				}
			}
			if strings.Contains(tc.in, "# the default") && !strings.Contains(string(out), `docker_registry_domain: "harbor.lab" # the default`) {
				t.Errorf("the comment after the value is gone:\n%s", out)
			}
			for i, w := range tc.warnings {
				if i >= len(warnings) || !strings.HasPrefix(warnings[i], w) {
					t.Errorf("warnings %q, want %q", warnings, tc.warnings)
					break
				}
			}
			for _, w := range warnings {
				if strings.Contains(w, "old-s3cret") || strings.Contains(w, "w\\\"o") || strings.Contains(w, "HOME;") {
					t.Errorf("a warning shows a password: %s", w)
				}
			}
			again, _, err := patchConfigTop("config.yaml", out, vars, top)
			if err != nil || string(again) != string(out) {
				t.Errorf("patching the result again: %v\n%s", err, again)
			}
			// --dry-run's diff never shows the password.
			d := (&Result{Changes: []Change{{Path: "/x/config.yaml", Old: []byte(tc.in), New: out}}}).Diff()
			if strings.Contains(d, "old-s3cret") || strings.Contains(d, "HOME;") || strings.Contains(d, `w\"o`) {
				t.Errorf("the diff shows a password:\n%s", d)
			}
		})
	}
}

// TestPatchConfigRegistryError: a check that fails on the password does
// not show it.
func TestPatchConfigRegistryError(t *testing.T) {
	err := checkConfig("config.yaml", []byte("docker_image_tag: v1\nopenpai_kubespray_extra_var: {}\ndocker_registry_password: other\n"), nil,
		map[string]string{registryPasswordKey: "s3cret-value"})
	if err == nil || strings.Contains(err.Error(), "s3cret-value") || strings.Contains(err.Error(), "other") {
		t.Errorf("error %v: want one that shows neither value", err)
	}
}

func TestPatchDeployImages(t *testing.T) {
	reg := &Registry{Prefix: testRegistry, Images: []string{"library/busybox:1.31.1", "prom/alertmanager:v0.15.1",
		"everpeace/k8s-host-device-plugin:latest", "library/registry:2", "quay.io/k8scsi/csi-node-driver-registrar:v1.0.2"}}
	for _, tc := range []struct {
		name, rel, in, want, warn string
	}{
		{"official image", "src/prometheus/deploy/p.yaml.template", "        image: busybox:1.31.1\n", "        image: harbor.lab/openpai/library/busybox:1.31.1\n", ""},
		{"list item, untagged is latest", "src/device-plugin/deploy/device-plugin.yaml", "      - image: everpeace/k8s-host-device-plugin\n", "      - image: harbor.lab/openpai/everpeace/k8s-host-device-plugin:latest\n", ""},
		{"quoted, comment after", "src/alert-manager/deploy/a.yaml", "  image: \"docker.io/prom/alertmanager:v0.15.1\" # pinned\r\n", "  image: \"harbor.lab/openpai/prom/alertmanager:v0.15.1\" # pinned\r\n", ""},
		{"another registry", "src/x/deploy/x.yaml", "image: quay.io/k8scsi/csi-node-driver-registrar:v1.0.2\n", "image: harbor.lab/openpai/quay.io/k8scsi/csi-node-driver-registrar:v1.0.2\n", ""},
		{"already in the registry", "src/x/deploy/x.yaml", "image: harbor.lab/openpai/library/busybox:1.31.1\n", "image: harbor.lab/openpai/library/busybox:1.31.1\n", ""},
		{"templated", "src/x/deploy/x.yaml.template", "image: {{ cluster_cfg['cluster']['docker-registry']['prefix'] }}rest-server:{{ cluster_cfg['cluster']['docker-registry']['tag'] }}\n", "", ""},
		{"not an image key", "src/x/deploy/x.yaml", "  docker-image: busybox:1.31.1\n  name: busybox:1.31.1\n", "", ""},
		{"missing on the path", "src/frameworkcontroller/deploy/f.yaml.template", "        image: frameworkcontroller/frameworkcontroller:v0.9.0\n", "",
			"src/frameworkcontroller/deploy/f.yaml.template:1: the registry harbor.lab/openpai does not hold frameworkcontroller/frameworkcontroller:v0.9.0: left as it is, the service will pull it from Docker Hub"},
		{"missing, other tag", "src/prometheus/deploy/p.yaml", "image: busybox:1.32\n", "", "does not hold busybox:1.32 (library/busybox:1.32)"},
		{"missing off the path", "src/dshuttle-csi/deploy/d.yaml.template", "image: dshuttle.azurecr.io/dshuttle/dshuttle-csi:25037dc\n", "", ""},
		{"docker cache, when pushed", "src/docker-cache/deploy/docker-cache.yaml.template", "        image: registry:2\n", "        image: harbor.lab/openpai/library/registry:2\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, warnings := patchDeployImages(tc.rel, []byte(tc.in), reg)
			want := tc.want
			if want == "" {
				want = tc.in
			}
			if string(out) != want {
				t.Errorf("got %q, want %q", out, want)
			}
			if (tc.warn == "") != (len(warnings) == 0) || (tc.warn != "" && !strings.Contains(warnings[0], tc.warn)) {
				t.Errorf("warnings %q, want %q", warnings, tc.warn)
			}
			again, _ := patchDeployImages(tc.rel, out, reg)
			if string(again) != string(out) {
				t.Errorf("a second patch changed it again: %q", again)
			}
		})
	}
}

// TestPatchDockerCacheSwitch: with a registry the docker cache role is
// switched off, without one on; the host stays the mirror.
func TestPatchDockerCacheSwitch(t *testing.T) {
	in := "- hosts: all\n  roles:\n    - role: '../roles/docker-cache/install'\n      vars:\n        enable_docker_cache: true\n        docker_cache_host: \"{{ x }}:30500\"  # cache\n"
	off, err := patchDockerCache("d.yml", []byte(in), testMirror, false)
	if err != nil {
		t.Fatal(err)
	}
	want := strings.NewReplacer("enable_docker_cache: true", "enable_docker_cache: false", `"{{ x }}:30500"`, `"`+testMirror+`"`).Replace(in)
	if string(off) != want {
		t.Errorf("got\n%s\nwant\n%s", off, want)
	}
	var doc []struct {
		Roles []struct {
			Vars map[string]any `yaml:"vars"`
		} `yaml:"roles"`
	}
	if err := yaml.Unmarshal(off, &doc); err != nil || doc[0].Roles[0].Vars["enable_docker_cache"] != false {
		t.Errorf("enable_docker_cache is not the boolean false: %v %v", err, doc)
	}
	if again, _ := patchDockerCache("d.yml", off, testMirror, false); string(again) != string(off) {
		t.Errorf("a second patch changed it again:\n%s", again)
	}
	on, err := patchDockerCache("d.yml", off, testMirror, true)
	if err != nil || !strings.Contains(string(on), "enable_docker_cache: true\n") {
		t.Errorf("switching back on: %v\n%s", err, on)
	}
	for _, same := range []string{"yes", "True", "on"} {
		in := strings.Replace(in, "enable_docker_cache: true", "enable_docker_cache: "+same, 1)
		if out, _ := patchDockerCache("d.yml", []byte(in), testMirror, true); !strings.Contains(string(out), "enable_docker_cache: "+same+"\n") {
			t.Errorf("%s was rewritten although Ansible reads it as true:\n%s", same, out)
		}
	}
}

func TestPatchDevBoxImage(t *testing.T) {
	reg := &Registry{Prefix: testRegistry}
	run := "sudo docker run -itd \\\n        --name=dev-box-quick-start \\\n        openpai/dev-box:${OPENPAI_IMAGE_TAG}\n"
	out, warnings := patchDevBoxImage("service-boot.sh", []byte(run), reg)
	want := strings.Replace(run, "openpai/dev-box:", "harbor.lab/openpai/openpai/dev-box:", 1)
	if string(out) != want || len(warnings) != 0 {
		t.Errorf("got %q %q, want %q", out, warnings, want)
	}
	if again, _ := patchDevBoxImage("service-boot.sh", out, reg); string(again) != string(out) {
		t.Errorf("a second patch changed it: %q", again)
	}
	// Another registry replaces the former one.
	other, _ := patchDevBoxImage("service-boot.sh", out, &Registry{Prefix: "10.1.1.1:5000"})
	if !strings.Contains(string(other), "        10.1.1.1:5000/openpai/dev-box:${OPENPAI_IMAGE_TAG}\n") {
		t.Errorf("another registry: %q", other)
	}
	if _, warnings := patchDevBoxImage("service-boot.sh", []byte("echo hi\n# openpai/dev-box:v1\n"), reg); len(warnings) != 1 {
		t.Errorf("no warning for a script without the image: %q", warnings)
	}
}

// TestScanRegistry: with ScanOptions.Registry, every literal image
// reference that does not name the registry is a finding, the mirror's
// and Docker Hub's included; templated ones and the registry's are not.
func TestScanRegistry(t *testing.T) {
	dir := fixture(t)
	deploy := filepath.Join(dir, "src", "svc", "deploy")
	if err := os.MkdirAll(deploy, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(deploy, "svc.yaml.template"), strings.Join([]string{
		"        image: busybox:1.31.1",
		"        image: harbor.lab/openpai/prom/alertmanager:v0.15.1",
		"        image: {{ cluster_cfg['cluster']['docker-registry']['prefix'] }}rest-server:{{ cluster_cfg['cluster']['docker-registry']['tag'] }}",
		"        image: 10.0.0.9:5000/calico/node:v3.7.3",
		"      - image: \"quay.io/coreos/etcd:v3.3.10\"",
		"        image: harbor.lab/other/x:1",
	}, "\n")+"\n")
	writeFile(t, filepath.Join(dir, "contrib", "kubespray", "script", "run.sh"),
		"sudo docker run -d --name=x openpai/dev-box:${TAG}\nsudo docker pull harbor.lab/openpai/openpai/dev-box:${TAG}\nsudo docker run $IMAGE\n")
	fs, err := Scan(dir, ScanOptions{Mirror: testMirror, Registry: testRegistry, DevBoxDocker: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range fs {
		if strings.Contains(f.What, "not from the lab registry") && (strings.HasPrefix(f.Path, "src/svc/") || f.Path == "contrib/kubespray/script/run.sh") {
			got = append(got, f.Path+":"+strconv.Itoa(f.Line)+" "+f.Host)
		}
	}
	want := []string{"contrib/kubespray/script/run.sh:1 docker.io", "src/svc/deploy/svc.yaml.template:1 docker.io",
		"src/svc/deploy/svc.yaml.template:4 10.0.0.9", "src/svc/deploy/svc.yaml.template:5 quay.io", "src/svc/deploy/svc.yaml.template:6 harbor.lab"}
	if !slices.Equal(got, want) {
		t.Errorf("registry findings\n%s\nwant\n%s\nall:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), findingsText(fs))
	}
	// Without a registry only internet registries outside Docker Hub are
	// findings, once per file and host.
	fs, err = Scan(dir, ScanOptions{Mirror: testMirror, DevBoxDocker: true})
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, f := range fs {
		if strings.HasPrefix(f.Path, "src/svc/") || f.Path == "contrib/kubespray/script/run.sh" {
			got = append(got, f.Path+":"+strconv.Itoa(f.Line)+" "+f.Host)
		}
	}
	if want := []string{"contrib/kubespray/script/run.sh:2 harbor.lab", "src/svc/deploy/svc.yaml.template:2 harbor.lab", "src/svc/deploy/svc.yaml.template:5 quay.io"}; !slices.Equal(got, want) {
		t.Errorf("without a registry: %q, want %q", got, want)
	}
}

// TestSedStage runs the device plugin sed stage, as the patched start
// script holds it, with the system's sh and sed (also in GNU sed's
// --posix mode, which turns its extensions off) over manifest lines.
func TestSedStage(t *testing.T) {
	for _, tool := range []string{"sh", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	reg := &Registry{Prefix: "harbor.lab:8443/lab/openpai", Images: []string{"nvidia/k8s-device-plugin:1.0.0-beta4", "rocm/k8s-device-plugin:latest", "library/busybox:1.31.1"}}
	stage := sedStage(reg, reg.Images)
	in := strings.Join([]string{
		"      - image: nvidia/k8s-device-plugin:1.0.0-beta4",
		"        image: \"docker.io/nvidia/k8s-device-plugin:1.0.0-beta4\"",
		"  image: 'nvidia/k8s-device-plugin:1.0.0-beta4' # pinned",
		"        image: rocm/k8s-device-plugin",
		"        image: rocm/k8s-device-plugin:latest",
		"  - image: busybox:1.31.1",
		"    image: library/busybox:1.31.1",
		// Left alone: other tags, other repositories, other keys.
		"      - image: nvidia/k8s-device-plugin:1.0.0-beta5",
		"      - image: nvidia/k8s-device-plugin:1.0.0-beta4-rc",
		"      - image: nvidia/k8s-device-plugin-extra:1.0.0-beta4",
		"      - image: other/nvidia/k8s-device-plugin:1.0.0-beta4",
		"        image: rocm/k8s-device-plugin:v1",
		"  name: nvidia/k8s-device-plugin:1.0.0-beta4",
		"  # image: busybox:1.31.1",
	}, "\n") + "\n"
	want := strings.Join([]string{
		"      - image: harbor.lab:8443/lab/openpai/nvidia/k8s-device-plugin:1.0.0-beta4",
		"        image: \"harbor.lab:8443/lab/openpai/nvidia/k8s-device-plugin:1.0.0-beta4\"",
		"  image: 'harbor.lab:8443/lab/openpai/nvidia/k8s-device-plugin:1.0.0-beta4' # pinned",
		"        image: harbor.lab:8443/lab/openpai/rocm/k8s-device-plugin:latest",
		"        image: harbor.lab:8443/lab/openpai/rocm/k8s-device-plugin:latest",
		"  - image: harbor.lab:8443/lab/openpai/library/busybox:1.31.1",
		"    image: harbor.lab:8443/lab/openpai/library/busybox:1.31.1",
		"      - image: nvidia/k8s-device-plugin:1.0.0-beta5",
		"      - image: nvidia/k8s-device-plugin:1.0.0-beta4-rc",
		"      - image: nvidia/k8s-device-plugin-extra:1.0.0-beta4",
		"      - image: other/nvidia/k8s-device-plugin:1.0.0-beta4",
		"        image: rocm/k8s-device-plugin:v1",
		"  name: nvidia/k8s-device-plugin:1.0.0-beta4",
		"  # image: busybox:1.31.1",
	}, "\n") + "\n"
	file := filepath.Join(t.TempDir(), "manifest.yml")
	writeFile(t, file, in)
	run := func(stage string) string {
		t.Helper()
		out, err := exec.Command("sh", "-c", `cat "$1"`+stage, "sh", file).CombinedOutput()
		if err != nil {
			t.Fatalf("sh -c 'cat FILE%s': %v: %s", stage, err, out)
		}
		return string(out)
	}
	if got := run(stage); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if v, err := exec.Command("sed", "--version").Output(); err == nil && strings.Contains(string(v), "GNU") {
		if got := run(strings.Replace(stage, "| sed ", "| sed --posix ", 1)); got != want {
			t.Errorf("sed --posix: got\n%s\nwant\n%s", got, want)
		}
	}
	if sedStage(reg, nil) != "" {
		t.Error("a stage without images")
	}
}

// TestPlanRegistryKubesprayImages: a registry without some of kubespray's
// images gets a warning naming them; one with all of them none.
func TestPlanRegistryKubesprayImages(t *testing.T) {
	images := defaultImages()
	for _, tc := range []struct {
		name   string
		images []string
		want   string
	}{
		{"all", images, ""},
		{"without calico", slices.DeleteFunc(slices.Clone(images), func(n string) bool { return strings.HasPrefix(n, "calico/") }),
			"contrib/kubespray/config/config.yaml: the registry harbor.lab/openpai does not hold calico/node:v3.7.3, calico/cni:v3.7.3, calico/kube-controllers:v3.7.3, which kubespray pulls from it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Plan(fixture(t), Options{Mirror: testMirror, Registry: &Registry{Prefix: testRegistry, Images: tc.images}})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, w := range r.Warnings {
				if strings.Contains(w, "kubespray pulls") {
					got = append(got, w)
				}
			}
			if (tc.want == "") != (len(got) == 0) || (tc.want != "" && !strings.HasPrefix(got[0], tc.want)) {
				t.Errorf("warnings %q, want %q", got, tc.want)
			}
		})
	}
}
