package patch

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/installer/pai"
	"github.com/paimirror/paimirror/manifests"
)

// TestPlanGolden plans the fixture tree, checks the diff, the warnings, the
// findings and the files Apply writes against testdata/golden, and then
// checks that Plan is pure and that a second run changes nothing.
func TestPlanGolden(t *testing.T) {
	dir := fixture(t)
	r, err := Plan(dir, Options{Mirror: testMirror})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "plan.diff", []byte(r.Diff()))
	golden(t, "warnings.txt", warningsText(r.Warnings))
	golden(t, "findings.txt", findingsText(r.Findings))

	var changed []string
	for _, c := range r.Changes {
		rel, ok := relPath(dir, c.Path)
		if !ok {
			t.Fatalf("change outside the tree: %s", c.Path)
		}
		changed = append(changed, rel)
		if c.Why == "" {
			t.Errorf("%s: no reason given", rel)
		}
		// Plan wrote nothing.
		if got := readFile(t, c.Path); string(got) != string(c.Old) {
			t.Errorf("Plan changed %s", rel)
		}
		if _, err := os.Stat(c.Path + pai.OrigSuffix); err == nil {
			t.Errorf("Plan wrote %s%s", rel, pai.OrigSuffix)
		}
	}
	want := []string{pai.ConfigFile, pai.DockerCacheFile, pai.DevicePluginFile, pai.ServiceBootFile, pai.EnvironmentFile, pai.RequirementFiles[2]}
	if !slices.Equal(changed, want) {
		t.Fatalf("changed %v, want %v", changed, want)
	}

	if err := Apply(r); err != nil {
		t.Fatal(err)
	}
	for i, c := range r.Changes {
		golden(t, "pai/"+changed[i], readFile(t, c.Path))
		if got := readFile(t, c.Path+pai.OrigSuffix); string(got) != string(c.Old) {
			t.Errorf("%s%s does not hold the original", changed[i], pai.OrigSuffix)
		}
	}

	// Idempotent: nothing more to do, the same findings, originals kept.
	again, err := Plan(dir, Options{Mirror: testMirror})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Changes) != 0 || again.Diff() != "" {
		t.Errorf("second Plan has changes:\n%s", again.Diff())
	}
	if got, want := string(findingsText(again.Findings)), string(findingsText(r.Findings)); got != want {
		t.Errorf("findings after Apply differ from the planned ones:\n%s\nwant\n%s", got, want)
	}
	scanned, err := Scan(dir, ScanOptions{Mirror: testMirror})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(findingsText(scanned)), string(findingsText(r.Findings)); got != want {
		t.Errorf("Scan after Apply differs from Plan's findings:\n%s\nwant\n%s", got, want)
	}
	if err := Apply(again); err != nil {
		t.Fatal(err)
	}
}

// TestApplyKeepsFirstOriginal patches twice with different mirrors, with a
// user edit in between: the .paimirror-orig files keep the very first
// content.
func TestApplyKeepsFirstOriginal(t *testing.T) {
	dir := fixture(t)
	config := filepath.Join(dir, filepath.FromSlash(pai.ConfigFile))
	first := readFile(t, config)

	r, err := Plan(dir, Options{Mirror: testMirror})
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(r); err != nil {
		t.Fatal(err)
	}
	edited := string(readFile(t, config)) + "enable_hived_scheduler: false\n"
	writeFile(t, config, edited)

	r, err = Plan(dir, Options{Mirror: "mirror.lab.example:8443", Scheme: "https"})
	if err != nil {
		t.Fatal(err)
	}
	// config.yaml, the docker cache playbook, the device plugin script,
	// environment.sh and the requirement check name the mirror;
	// service-boot.sh does not.
	if len(r.Changes) != 5 {
		t.Fatalf("got %d changes for a new mirror, want 5:\n%s", len(r.Changes), r.Diff())
	}
	if err := Apply(r); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, config+pai.OrigSuffix); string(got) != string(first) {
		t.Errorf("the original was overwritten:\n%s", got)
	}
	now := string(readFile(t, config))
	if !strings.Contains(now, "enable_hived_scheduler: false\n") || !strings.Contains(now, `"mirror.lab.example:8443/quay.io/coreos/etcd"`) ||
		!strings.Contains(now, `"https://mirror.lab.example:8443/storage.googleapis.com/`) || strings.Contains(now, testMirror) {
		t.Errorf("config.yaml after the second patch:\n%s", now)
	}
	script := string(readFile(t, filepath.Join(dir, filepath.FromSlash(pai.DevicePluginFile))))
	if strings.Contains(script, "svn cat") || strings.Contains(script, testMirror) ||
		!strings.Contains(script, `curl -fsSL "https://mirror.lab.example:8443/raw.githubusercontent.com/NVIDIA/k8s-device-plugin/1.0.0-beta4/nvidia-device-plugin.yml" \`) {
		t.Errorf("start.sh.template after the second patch:\n%s", script)
	}
	if got := readFile(t, filepath.Join(dir, filepath.FromSlash(pai.DevicePluginFile))+pai.OrigSuffix); strings.Contains(string(got), "curl") {
		t.Errorf("the device plugin original was overwritten")
	}
}

// TestApplyRefusesChangedFiles checks that Apply writes nothing when a file
// changed after Plan.
func TestApplyRefusesChangedFiles(t *testing.T) {
	dir := fixture(t)
	r, err := Plan(dir, Options{Mirror: testMirror})
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(dir, filepath.FromSlash(pai.DevicePluginFile))
	writeFile(t, script, string(readFile(t, script))+"# edited\n")
	err = Apply(r)
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("Apply = %v, want ErrChanged", err)
	}
	for _, c := range r.Changes {
		if _, err := os.Stat(c.Path + pai.OrigSuffix); err == nil {
			t.Errorf("Apply kept an original of %s before failing", c.Path)
		}
		if c.Path != script && string(readFile(t, c.Path)) != string(c.Old) {
			t.Errorf("Apply wrote %s before failing", c.Path)
		}
	}
}

// TestApplyKeepsMode checks that a rewritten file keeps its permissions,
// and a symbolic link stays one.
func TestApplyKeepsMode(t *testing.T) {
	dir := fixture(t)
	config := filepath.Join(dir, filepath.FromSlash(pai.ConfigFile))
	target := filepath.Join(t.TempDir(), "lab-config.yaml")
	writeFile(t, target, string(readFile(t, config)))
	if err := os.Remove(config); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, config); err != nil {
		t.Skipf("no symbolic links: %v", err)
	}
	script := filepath.Join(dir, filepath.FromSlash(pai.DevicePluginFile))
	if err := os.Chmod(script, 0o750); err != nil {
		t.Fatal(err)
	}
	r, err := Plan(dir, Options{Mirror: testMirror})
	if err != nil {
		t.Fatal(err)
	}
	if err := Apply(r); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(script)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o750 {
		t.Errorf("mode %v, want 0750", info.Mode().Perm())
	}
	if info, err := os.Lstat(config); err != nil || info.Mode()&os.ModeSymlink == 0 {
		t.Errorf("config.yaml is no longer a symbolic link: %v", err)
	}
	if !strings.Contains(string(readFile(t, target)), "openpai_kubespray_extra_var:\n") {
		t.Errorf("the link's target was not patched")
	}
	entries, err := os.ReadDir(filepath.Dir(script))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), ".paimirror-") && !strings.HasSuffix(e.Name(), pai.OrigSuffix) {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

// TestPlanMissingFiles checks that a device plugin file the mirror lacks is
// reported, naming the device and the file, and left as svn cat; and that
// the kubespray downloads are checked too.
func TestPlanMissingFiles(t *testing.T) {
	dir := fixture(t)
	// A layout whose workers have AMD GPUs.
	layout := filepath.Join(dir, filepath.FromSlash(pai.LayoutFile))
	writeFile(t, layout, strings.ReplaceAll(string(readFile(t, layout)), "type: nvidia.com/gpu", "type: amd.com/gpu"))

	missing := map[string]bool{
		"/raw.githubusercontent.com/RadeonOpenCompute/k8s-device-plugin/master/k8s-ds-amdgpu-dp.yaml":                   true,
		"/raw.githubusercontent.com/Mellanox/k8s-rdma-sriov-dev-plugin/master/example/device-plugin.yaml":               true,
		"/storage.googleapis.com/kubernetes-release/release/v1.15.11/bin/linux/amd64/hyperkube":                         true,
		"/raw.githubusercontent.com/enflameenflame/k8s-device-plugin/main/yaml/enflame-device-plugin.yaml.not-this-one": true,
	}
	var asked []string
	r, err := Plan(dir, Options{Mirror: testMirror, HasPath: func(p string) bool {
		asked = append(asked, p)
		return !missing[p]
	}})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "warnings-missing.txt", warningsText(r.Warnings))

	for _, want := range []string{
		"/raw.githubusercontent.com/NVIDIA/k8s-device-plugin/1.0.0-beta4/nvidia-device-plugin.yml",
		"/raw.githubusercontent.com/Mellanox/k8s-rdma-sriov-dev-plugin/master/example/hca/rdma-hca-node-config.yaml",
		"/storage.googleapis.com/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm",
		"/github.com/containernetworking/plugins/releases/download/v0.8.1/cni-plugins-linux-amd64-v0.8.1.tgz",
		"/github.com/projectcalico/calicoctl/releases/download/v3.7.3/calicoctl-linux-amd64",
	} {
		if !slices.Contains(asked, want) {
			t.Errorf("HasPath was not asked about %s", want)
		}
	}
	warnings := strings.Join(r.Warnings, "\n")
	for _, want := range []string{
		"start.sh.template:19: the mirror does not serve /raw.githubusercontent.com/RadeonOpenCompute/k8s-device-plugin/master/k8s-ds-amdgpu-dp.yaml, which the amd.com/gpu device plugin needs",
		"layout.yaml uses amd.com/gpu, so the device plugin service will not start",
		"start.sh.template:42: the mirror does not serve /raw.githubusercontent.com/Mellanox/k8s-rdma-sriov-dev-plugin/master/example/device-plugin.yaml, which the rdma/hca device plugin needs",
		"it matters only if the cluster has rdma/hca",
		"the mirror does not serve /storage.googleapis.com/kubernetes-release/release/v1.15.11/bin/linux/amd64/hyperkube (hyperkube_download_url)",
	} {
		if !strings.Contains(warnings, want) {
			t.Errorf("warnings lack %q:\n%s", want, warnings)
		}
	}

	var script string
	for _, c := range r.Changes {
		if strings.HasSuffix(filepath.ToSlash(c.Path), pai.DevicePluginFile) {
			script = string(c.New)
		}
	}
	for _, want := range []string{
		"svn cat https://github.com/RadeonOpenCompute/k8s-device-plugin.git/trunk/k8s-ds-amdgpu-dp.yaml \\\n",
		"svn cat https://github.com/Mellanox/k8s-rdma-sriov-dev-plugin.git/trunk/example/device-plugin.yaml \\\n",
		`curl -fsSL "http://10.0.0.9:5000/raw.githubusercontent.com/Mellanox/k8s-rdma-sriov-dev-plugin/master/example/hca/rdma-hca-node-config.yaml" \` + "\n",
		`curl -fsSL "http://10.0.0.9:5000/raw.githubusercontent.com/enflameenflame/k8s-device-plugin/main/yaml/enflame-device-plugin.yaml" \` + "\n",
	} {
		if !strings.Contains(script, want) {
			t.Errorf("script lacks %q:\n%s", want, script)
		}
	}
	// What stays svn is what Scan still reports for the script.
	var found []Finding
	for _, f := range r.Findings {
		if f.Path == pai.DevicePluginFile {
			found = append(found, f)
		}
	}
	// The AMD block renders (layout.yaml has amd.com/gpu); the rdma one
	// does not, so its svn is reported apart, off the install path.
	if len(found) != 2 || found[0].Host != "github.com" || found[0].Line != 19 || found[0].OffPath != "" ||
		found[1].Line != 42 || !strings.Contains(found[1].OffPath, "rdma/hca") {
		t.Errorf("findings for the script: %v", found)
	}
}

// TestPlanManifestTrunk checks that svn trunk URLs find their file in the
// manifest given, and are left alone (with a warning) when it has none.
func TestPlanManifestTrunk(t *testing.T) {
	dir := fixture(t)
	m := defaultManifestWithout(t, "enflame-device-plugin.yaml")
	r, err := Plan(dir, Options{Mirror: testMirror, Manifest: m})
	if err != nil {
		t.Fatal(err)
	}
	warnings := strings.Join(r.Warnings, "\n")
	if !strings.Contains(warnings, "start.sh.template:28: the enflame.com/dtu device plugin fetches enflameenflame/k8s-device-plugin yaml/enflame-device-plugin.yaml from the repository's default branch (svn trunk), and the manifest lists no such file") {
		t.Errorf("warnings:\n%s", warnings)
	}
}

// TestPlanConfigElsewhere patches a config.yaml outside the tree.
func TestPlanConfigElsewhere(t *testing.T) {
	dir := fixture(t)
	config := filepath.Join(t.TempDir(), "my-config.yaml")
	writeFile(t, config, "user: u\npassword: p\ndocker_image_tag: v1.8.0\n")
	r, err := Plan(dir, Options{Mirror: testMirror, ConfigPath: config})
	if err != nil {
		t.Fatal(err)
	}
	if r.Changes[0].Path != config {
		t.Fatalf("first change is %s, want %s", r.Changes[0].Path, config)
	}
	d := r.Diff()
	if !strings.Contains(d, "--- "+filepath.ToSlash(config)+"\n+++ "+filepath.ToSlash(config)+"\n") ||
		!strings.Contains(d, "--- a/"+pai.DockerCacheFile+"\n+++ b/"+pai.DockerCacheFile+"\n") {
		t.Errorf("diff headers:\n%s", d)
	}
	if err := Apply(r); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(config + pai.OrigSuffix); err != nil {
		t.Error(err)
	}
	tree := readFile(t, filepath.Join(dir, filepath.FromSlash(pai.ConfigFile)))
	if string(tree) != string(readFile(t, filepath.Join("testdata", "pai", filepath.FromSlash(pai.ConfigFile)))) {
		t.Error("the tree's own config.yaml was patched")
	}
}

// TestPlanErrors checks what Plan refuses.
func TestPlanErrors(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   Options
		edit   func(t *testing.T, dir string)
		is     error
		errHas string
	}{
		{name: "no mirror", is: ErrInvalidOptions, errHas: "is required"},
		{name: "mirror with scheme", opts: Options{Mirror: "http://10.0.0.9:5000"}, is: ErrInvalidOptions, errHas: "without a scheme"},
		{name: "mirror with path", opts: Options{Mirror: "10.0.0.9:5000/x"}, is: ErrInvalidOptions},
		{name: "mirror with quote", opts: Options{Mirror: `10.0.0.9:5000"`}, is: ErrInvalidOptions},
		{name: "mirror port", opts: Options{Mirror: "10.0.0.9:99999"}, is: ErrInvalidOptions, errHas: "port"},
		{name: "mirror like a hub user", opts: Options{Mirror: "mirror"}, is: ErrInvalidOptions, errHas: "Docker Hub user"},
		{name: "mirror host", opts: Options{Mirror: "bad_host:5000"}, is: ErrInvalidOptions},
		{name: "scheme", opts: Options{Mirror: testMirror, Scheme: "ftp"}, is: ErrInvalidOptions, errHas: "scheme"},
		{
			name: "not a pai tree", opts: Options{Mirror: testMirror}, is: ErrNotPaiTree,
			edit: func(t *testing.T, dir string) { os.RemoveAll(filepath.Join(dir, "contrib")) },
		},
		{
			name: "bad layout", opts: Options{Mirror: testMirror}, errHas: "layout.yaml:25: machine-list[1] (lab-gpu1): pai-worker is true (a boolean)",
			edit: func(t *testing.T, dir string) {
				p := filepath.Join(dir, filepath.FromSlash(pai.LayoutFile))
				writeFile(t, p, strings.Replace(string(readFile(t, p)), `pai-worker: "true"`, "pai-worker: true", 1))
			},
		},
		{
			name: "no docker_cache_host", opts: Options{Mirror: testMirror}, errHas: "no docker_cache_host",
			edit: func(t *testing.T, dir string) {
				p := filepath.Join(dir, filepath.FromSlash(pai.DockerCacheFile))
				writeFile(t, p, strings.ReplaceAll(string(readFile(t, p)), "docker_cache_host", "cache_host"))
			},
		},
		{
			name: "config breaks the tag grep", opts: Options{Mirror: testMirror}, errHas: `lines 3, 10 contain "docker_image_tag"`,
			edit: func(t *testing.T, dir string) {
				p := filepath.Join(dir, filepath.FromSlash(pai.ConfigFile))
				writeFile(t, p, strings.Replace(string(readFile(t, p)), "# enable_hived_scheduler: true", "# docker_image_tag: v1.7.0", 1))
			},
		},
		{
			name: "no config", opts: Options{Mirror: testMirror, ConfigPath: "/nonexistent/config.yaml"}, is: os.ErrNotExist,
		},
		{
			name: "docker apt without a key", opts: Options{Mirror: testMirror, DockerApt: &DockerApt{Path: "/download.docker.com/linux/ubuntu"}},
			is: ErrInvalidOptions, errHas: "mirror paths",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := fixture(t)
			if tc.edit != nil {
				tc.edit(t, dir)
			}
			r, err := Plan(dir, tc.opts)
			if err == nil {
				t.Fatalf("Plan succeeded:\n%s", r.Diff())
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
			if !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("error %q lacks %q", err, tc.errHas)
			}
			if tc.name == "bad layout" {
				var le *pai.LayoutError
				if !errors.As(err, &le) || len(le.Problems) != 1 {
					t.Errorf("error %#v is not a *pai.LayoutError with one problem", err)
				}
			}
		})
	}
}

// TestCheckMirror lists addresses Plan accepts.
func TestCheckMirror(t *testing.T) {
	for _, m := range []string{"10.0.0.9:5000", "mirror.lab:80", "mirror.lab", "localhost:5000", "localhost", "[fd00::9]:5000", "Mirror-1.Lab:443"} {
		if err := CheckMirror(m); err != nil {
			t.Errorf("CheckMirror(%q) = %v", m, err)
		}
	}
}

// defaultManifestWithout returns the default manifest without the file
// named name.
func defaultManifestWithout(t *testing.T, name string) *manifests.Manifest {
	t.Helper()
	m := manifests.Default()
	n := len(m.Files)
	m.Files = slices.DeleteFunc(m.Files, func(f manifests.File) bool { return f.DisplayName() == name })
	if len(m.Files) != n-1 {
		t.Fatalf("the default manifest has no file %s", name)
	}
	return m
}

// TestPlanSeedGuideTree plans a tree edited by hand as the seed guide says
// (siaimes images and k8s-share downloads, docker_cache_host on the
// master's registry port, curl from the k8s-share server): everything is
// pointed at the mirror, with a warning for each value replaced.
func TestPlanSeedGuideTree(t *testing.T) {
	dir := fixture(t)
	config := filepath.Join(dir, filepath.FromSlash(pai.ConfigFile))
	writeFile(t, config, `user: username
password: password
docker_image_tag: v1.8.0

openpai_kubespray_extra_var:
  kube_image_repo: "siaimes"
  gcr_image_repo: "siaimes"
  pod_infra_image_repo: "siaimes/pause-{{ image_arch }}"
  dnsautoscaler_image_repo: "siaimes/cluster-proportional-autoscaler-{{ image_arch }}"
  kubeadm_download_url: "http://10.10.10.10:10000/k8s-share/kubernetes-release/release/{{ kubeadm_version }}/bin/linux/{{ image_arch }}/kubeadm"
  hyperkube_download_url: "http://10.10.10.10:10000/k8s-share/kubernetes-release/release/{{ kube_version }}/bin/linux/{{ image_arch }}/hyperkube"
  cni_download_url: "http://10.10.10.10:10000/k8s-share/containernetworking/plugins/releases/download/{{ cni_version }}/cni-plugins-linux-{{ image_arch }}-{{ cni_version }}.tgz"
  calicoctl_download_url: "http://10.10.10.10:10000/k8s-share/projectcalico/calicoctl/releases/download/{{ calico_ctl_version }}/calicoctl-linux-{{ image_arch }}"
`)
	cache := filepath.Join(dir, filepath.FromSlash(pai.DockerCacheFile))
	writeFile(t, cache, strings.Replace(string(readFile(t, cache)), ":30500", ":5000", 1))
	script := filepath.Join(dir, filepath.FromSlash(pai.DevicePluginFile))
	writeFile(t, script, strings.Replace(string(readFile(t, script)),
		"svn cat https://github.com/NVIDIA/k8s-device-plugin.git/tags/1.0.0-beta4/nvidia-device-plugin.yml \\",
		`curl "http://10.10.10.10:10000/k8s-share/NVIDIA/k8s-device-plugin/1.0.0-beta4/nvidia-device-plugin.yml" \`, 1))

	r, err := Plan(dir, Options{Mirror: testMirror})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "seed-guide.diff", []byte(r.Diff()))
	golden(t, "seed-guide-warnings.txt", warningsText(r.Warnings))
	if err := Apply(r); err != nil {
		t.Fatal(err)
	}
	again, err := Plan(dir, Options{Mirror: testMirror})
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Changes) != 0 {
		t.Errorf("second Plan has changes:\n%s", again.Diff())
	}
}

// TestDiffApplies checks Result.Diff with the real patch(1) and git apply:
// applied to a fresh copy of the tree, it gives what Apply writes.
func TestDiffApplies(t *testing.T) {
	for _, tool := range [][]string{{"patch", "-p1", "--quiet", "-i"}, {"git", "apply", "--unsafe-paths"}} {
		t.Run(tool[0], func(t *testing.T) {
			if _, err := exec.LookPath(tool[0]); err != nil {
				t.Skipf("no %s", tool[0])
			}
			dir := fixture(t)
			r, err := Plan(dir, Options{Mirror: testMirror})
			if err != nil {
				t.Fatal(err)
			}
			diffFile := filepath.Join(t.TempDir(), "plan.diff")
			writeFile(t, diffFile, r.Diff())
			cmd := exec.Command(tool[0], append(tool[1:], diffFile)...)
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s: %v\n%s", tool[0], err, out)
			}
			for _, c := range r.Changes {
				if got := readFile(t, c.Path); string(got) != string(c.New) {
					t.Errorf("%s after %s differs from the planned content", c.Path, tool[0])
				}
			}
		})
	}
}
