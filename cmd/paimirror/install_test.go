package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/manifests"
)

// TestInstallFlow runs `paimirror install` against a real `paimirror serve`
// on a fixture pai tree shaped like v1.8.0 (the patch fixture's files with
// the quick-start fixture's scripts, whose ansible and docker are test
// doubles): --dry-run changes nothing, --only patch patches once, the two
// quick-start steps run with their prompts answered, and the state records
// them. The SSH steps are tested against real sshd nodes in
// installer/nodes.
func TestInstallFlow(t *testing.T) {
	def := manifests.Default()
	m := *def
	m.Images = def.Images[:1]
	m.Groups = nil
	m.Images[0].Groups = nil
	files := []manifests.File{}
	for _, f := range def.Files {
		f.Groups = nil
		files = append(files, f)
	}
	m.Files = files
	py := *def.Python
	py.Groups = nil
	m.Python = &py
	m.Apt = nil
	for _, a := range def.Apt {
		if a.Target == "ubuntu-18.04" {
			a.Groups = nil
			m.Apt = append(m.Apt, a)
		}
	}
	bundlePath, _ := buildFrom(t, &m, bundletest.Options{})
	dir := filepath.Dir(bundlePath)
	addr := freeAddr(t)
	startServe(t, bundlePath, "--addr", addr)

	pai := filepath.Join(dir, "pai")
	if err := os.CopyFS(pai, os.DirFS("../../installer/patch/testdata/pai")); err != nil {
		t.Fatal(err)
	}
	// quickstart's scripts replace the patch fixture's script directory.
	script := filepath.Join(pai, "contrib/kubespray/script")
	if err := os.RemoveAll(script); err != nil {
		t.Fatal(err)
	}
	if err := os.CopyFS(script, os.DirFS("../../installer/internal/quickstart/testdata/pai/contrib/kubespray/script")); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"quick-start-kubespray.sh", "quick-start-service.sh", "requirement.sh"} {
		data, _ := os.ReadFile(filepath.Join("../../installer/internal/quickstart/testdata/pai/contrib/kubespray", f))
		os.WriteFile(filepath.Join(pai, "contrib/kubespray", f), data, 0o755)
	}
	config := filepath.Join(pai, "contrib/kubespray/config/config.yaml")
	original, _ := os.ReadFile(config)
	state := filepath.Join(dir, "state")
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o755)
	bin, _ := filepath.Abs("../../installer/internal/quickstart/testdata/bin")
	install := func(args ...string) (string, error) {
		cmd := paimirror(t, append([]string{"install", "--pai", pai, "--mirror", addr, "--state", state}, args...)...)
		cmd.Env = append(cmd.Env, "HOME="+home, "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), "FIXTURE_RECORD="+filepath.Join(dir, "record"))
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := install("--dry-run")
	if err != nil {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	for _, want := range []string{
		"--- a/contrib/kubespray/config/config.yaml",
		`+  kube_image_repo: "` + addr + `/gcr.io/google-containers"`,
		`+  kubeadm_download_url: "http://` + addr + `/storage.googleapis.com/kubernetes-release/release/{{ kubeadm_version }}/bin/linux/{{ image_arch }}/kubeadm"`,
		`docker_cache_host: "` + addr + `"`,
		`curl -fsSL "http://` + addr + `/raw.githubusercontent.com/NVIDIA/k8s-device-plugin/1.0.0-beta4/nvidia-device-plugin.yml"`,
		"dry run: nothing was changed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("dry run output lacks %q:\n%s", want, out)
		}
	}
	if now, _ := os.ReadFile(config); string(now) != string(original) {
		t.Fatal("--dry-run changed config.yaml")
	}

	out, err = install("--only", "patch")
	if err != nil {
		t.Fatalf("patch: %v\n%s", err, out)
	}
	if !strings.Contains(out, "patched contrib/kubespray/config/config.yaml") {
		t.Errorf("patch output:\n%s", out)
	}
	if orig, _ := os.ReadFile(config + ".paimirror-orig"); string(orig) != string(original) {
		t.Error("the original config.yaml was not kept")
	}
	patched, _ := os.ReadFile(config)
	out, err = install("--only", "patch")
	if err != nil || !strings.Contains(out, "nothing to change") {
		t.Errorf("second patch: %v\n%s", err, out)
	}
	if again, _ := os.ReadFile(config); string(again) != string(patched) {
		t.Error("a second patch changed config.yaml again")
	}

	out, err = install("--only", "kubespray", "--only", "services", "--yes")
	if err != nil {
		t.Fatalf("quick-start steps: %v\n%s", err, out)
	}
	record, _ := os.ReadFile(filepath.Join(dir, "record"))
	if !strings.Contains(string(record), "docker run --entrypoint /bin/bash") {
		t.Errorf("the dev-box container did not start with bash as its entrypoint:\n%s", record)
	}
	for _, want := range []string{"quick-start-kubespray.sh", "environment.sh", "k8s_generator", "quick-start-service.sh"} {
		if !strings.Contains(string(record), want) {
			t.Errorf("the scripts did not run %s:\n%s", want, record)
		}
	}
	var st struct {
		Steps map[string]struct{ Status string } `json:"steps"`
	}
	data, err := os.ReadFile(filepath.Join(state, "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	json.Unmarshal(data, &st)
	for _, s := range []string{"patch", "kubespray", "services"} {
		if st.Steps[s].Status != "done" {
			t.Errorf("state.json: step %s is %q", s, st.Steps[s].Status)
		}
	}
	if strings.Contains(string(data), "not-a-real-password") {
		t.Error("state.json holds the password")
	}
	if _, err := os.Stat(filepath.Join(state, "kubespray.log")); err != nil {
		t.Errorf("no kubespray log: %v", err)
	}

	// Bad input: an unknown step, and a mirror that is not running.
	if out, err := install("--only", "nosuch"); err == nil || !strings.Contains(out, "nosuch") {
		t.Errorf("unknown step: %v\n%s", err, out)
	}
	closed, _ := bundletest.ClosedAddr()
	cmd := paimirror(t, "install", "--pai", pai, "--mirror", closed, "--state", filepath.Join(dir, "s2"), "--dry-run")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "is `paimirror serve` running") {
		t.Errorf("unreachable mirror: %v\n%s", err, out)
	}
}
