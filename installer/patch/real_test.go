package patch

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/installer/pai"
	"github.com/paimirror/paimirror/installer/pai/paitest"
	"github.com/paimirror/paimirror/manifests"
	"github.com/paimirror/paimirror/manifests/yamltext"
	"go.yaml.in/yaml/v3"
)

// testDockerApt is where paimirror serve publishes Docker's apt
// repository and key (bundle.AptRepository.Prefix and AptKey.Path).
var testDockerApt = DockerApt{Path: "/download.docker.com/linux/ubuntu", KeyPath: "/download.docker.com/linux/ubuntu/gpg"}

// realAptPackages stand for the packages a default bundle carries: what
// the quick-start path installs with apt (environment.sh on the dev box,
// pre-installation on the nodes) and some of their dependencies.
var realAptPackages = []string{"software-properties-common", "python3", "python3-dev", "python3-pip", "sshpass", "python",
	"nfs-common", "unzip", "ntp", "libc6", "python2.7"}

// nslookups counts the `raw: nslookup HOST` tasks in a file.
func nslookups(s string) int {
	n := 0
	for _, l := range yamltext.Lines([]byte(s)) {
		if nslookupRaw.MatchString(strings.TrimRight(l, "\n")) {
			n++
		}
	}
	return n
}

// realTree is paitest.RealTree.
func realTree(t *testing.T) string { return paitest.RealTree(t) }

// TestRealTreeWhen: pai v1.8.0's pre-installation role installs python
// only on Ubuntu 20.04; on the default targets that apt install is off the
// default path even when the bundle lacks the package, and on 20.04 it is
// on it.
func TestRealTreeWhen(t *testing.T) {
	dir := realTree(t)
	noPython := slices.DeleteFunc(slices.Clone(realAptPackages), func(p string) bool { return p == "python" })
	for _, tc := range []struct {
		targets []string
		off     bool
	}{{nil, true}, {[]string{"ubuntu-20.04"}, false}} {
		fs, err := Scan(dir, ScanOptions{Mirror: testMirror, AptPackages: noPython, DevBoxDocker: true, Targets: tc.targets})
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(fs, func(f Finding) bool { return f.Path == preInstallationFile && f.Line == 16 })
		if i < 0 {
			t.Fatalf("targets %v: no finding for the python install at %s:16", tc.targets, preInstallationFile)
		}
		if got := fs[i].OffPath != ""; got != tc.off {
			t.Errorf("targets %v: %v: off the default path %v, want %v", tc.targets, fs[i], got, tc.off)
		}
	}
}

// TestRealTree patches the real pai v1.8.0 tree and checks that kubespray
// would ask the mirror for every image and file the patch covers, that the
// NVIDIA device plugin comes from the mirror, and that a second run
// changes nothing. It logs what Scan still finds.
func TestRealTree(t *testing.T) {
	dir := realTree(t)
	opts := Options{Mirror: testMirror, DockerApt: &testDockerApt, AptPackages: realAptPackages, PipIndex: "/pypi/simple/", DevBoxDocker: true}
	r, err := Plan(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Changes) != 8 {
		t.Fatalf("%d changes, want 8:\n%s", len(r.Changes), r.Diff())
	}
	if len(r.Warnings) != 0 {
		t.Errorf("warnings:\n%s", warningsText(r.Warnings))
	}
	if err := Apply(r); err != nil {
		t.Fatal(err)
	}

	// kubespray's variables, as pai's openpai.yml.template writes them:
	// `key: "value"` for each entry of openpai_kubespray_extra_var.
	config := readFile(t, filepath.Join(dir, filepath.FromSlash(pai.ConfigFile)))
	var cfg struct {
		Tag   string            `yaml:"docker_image_tag"`
		Extra map[string]string `yaml:"openpai_kubespray_extra_var"`
	}
	if err := yaml.Unmarshal(config, &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg.Tag != "v1.8.0" {
		t.Errorf("docker_image_tag = %q", cfg.Tag)
	}
	var openpaiYML strings.Builder
	for k, v := range cfg.Extra {
		openpaiYML.WriteString(k + `: "` + v + "\"\n")
	}
	var rendered map[string]any
	if err := yaml.Unmarshal([]byte(openpaiYML.String()), &rendered); err != nil {
		t.Fatalf("openpai.yml as pai renders it does not parse: %v", err)
	}
	for _, v := range append(manifests.KubesprayVars(testMirror, "http"), DockerAptVars(testMirror, "http", testDockerApt)...) {
		got, _ := rendered[v.Name].(string)
		if got != v.Value {
			t.Errorf("%s = %q, want %q", v.Name, got, v.Value)
		}
		expanded := manifests.ExpandKubesprayVar(got)
		if strings.Contains(expanded, "{{") {
			t.Errorf("%s keeps a placeholder kubespray does not define: %s", v.Name, expanded)
		}
		if !strings.HasPrefix(expanded, testMirror+"/") && !strings.HasPrefix(expanded, "http://"+testMirror+"/") {
			t.Errorf("%s does not point at the mirror: %s", v.Name, expanded)
		}
	}
	for _, want := range []string{
		"http://" + testMirror + "/storage.googleapis.com/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm",
		testMirror + "/quay.io/coreos/etcd",
		"http://" + testMirror + "/download.docker.com/linux/ubuntu",
		"http://" + testMirror + "/download.docker.com/linux/ubuntu/gpg",
	} {
		found := false
		for _, v := range rendered {
			found = found || manifests.ExpandKubesprayVar(v.(string)) == want
		}
		if !found {
			t.Errorf("nothing expands to %s", want)
		}
	}

	cache := string(readFile(t, filepath.Join(dir, filepath.FromSlash(pai.DockerCacheFile))))
	if !strings.Contains(cache, `docker_cache_host: "`+testMirror+`"`) {
		t.Errorf("docker-cache-config-distribute.yml:\n%s", cache)
	}

	script := string(readFile(t, filepath.Join(dir, filepath.FromSlash(pai.DevicePluginFile))))
	nvidia := `curl -fsSL "http://` + testMirror + `/raw.githubusercontent.com/NVIDIA/k8s-device-plugin/1.0.0-beta4/nvidia-device-plugin.yml" \` + "\n" +
		"    | kubectl apply --overwrite=true -f - || exit $?\n"
	if !strings.Contains(script, nvidia) || strings.Contains(script, "svn ") {
		t.Errorf("start.sh.template:\n%s", script)
	}

	// pai's requirement checks ask the mirror, and nothing else changed in
	// them.
	for _, rf := range pai.RequirementFiles {
		got := string(readFile(t, filepath.Join(dir, filepath.FromSlash(rf))))
		orig := string(readFile(t, filepath.Join(dir, filepath.FromSlash(rf))+pai.OrigSuffix))
		if nslookups(got) != 0 || !strings.Contains(got, `raw: "`+mirrorCheck("http://"+testMirror)+`"`) {
			t.Errorf("%s still looks hosts up, or does not ask the mirror", rf)
		}
		if n := nslookups(orig); n == 0 || strings.Count(got, "/v2/ || wget") != n || len(yamltext.Lines([]byte(got))) != len(yamltext.Lines([]byte(orig))) {
			t.Errorf("%s: %d nslookup checks became %d mirror checks", rf, n, strings.Count(got, "/v2/ || wget"))
		}
	}

	again, err := Plan(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Changes) != 0 {
		t.Errorf("second Plan has changes:\n%s", again.Diff())
	}
	fs, err := Scan(dir, ScanOptions{Mirror: testMirror, AptPackages: realAptPackages, DevBoxDocker: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		t.Log(f)
		switch {
		case f.OffPath == "":
			// With the bundle's images, files, Python and apt packages
			// and the prepared machines, nothing on the default install
			// path reaches out.
			t.Errorf("a default install still reaches out: %v", f)
		case f.Path == pai.DevicePluginFile, f.Path == pai.ConfigFile, f.Path == pai.DockerCacheFile, slices.Contains(pai.RequirementFiles, f.Path):
			t.Errorf("a patched file still names %s: %v", f.Host, f)
		case strings.Contains(f.What, "requirement check"):
			t.Errorf("a requirement check is still a finding: %v", f)
		case quickStart(f.Path) && f.Host == "archive.ubuntu.com":
			t.Errorf("an apt access on the quick-start path the mirror serves is still a finding: %v", f)
		case slices.Contains([]string{"storage.googleapis.com", "gcr.io", "k8s.gcr.io", "raw.githubusercontent.com"}, f.Host) && !strings.Contains(f.Path, "/roles/requirement/"):
			t.Errorf("unexpected finding: %v", f)
		}
	}
}
