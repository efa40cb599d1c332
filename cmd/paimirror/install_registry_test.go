package main

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/installer/pai/paitest"
	"github.com/paimirror/paimirror/manifests"
)

// TestInstallRegistryOnlyPatch runs `install --only patch --registry` on
// the real pai v1.8.0 tree against a serve of the default bundle, then
// reads the patched tree: kubespray's image variables, pai's docker
// registry settings, the dev box and every literal image of pai's service
// deploy files name the registry and its prefix, the password is in
// config.yaml (pai's image pull secret needs it) but on no output, and a
// dry run afterwards has nothing left to change.
func TestInstallRegistryOnlyPatch(t *testing.T) {
	pai := paitest.RealTree(t)
	_, path := bundletest.Build(t, manifests.Default(), bundletest.Options{})
	addr := freeAddr(t)
	startServe(t, path, "--addr", addr)
	const prefix = "harbor.lab:8443/lab/openpai"
	const password = "s3cret pass$word"
	t.Setenv(registryPasswordEnv, password)
	args := []string{"--pai", pai, "--mirror", addr, "--state", t.TempDir(), "--devbox", "-",
		"--registry", prefix, "--registry-username", "robot$openpai"}

	stdout, stderr, code := runInstallCLI(t, append([]string{"--only", "patch"}, args...)...)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout+stderr, password) {
		t.Fatalf("the registry password is on the output:\n%s\n%s", stdout, stderr)
	}

	config, err := os.ReadFile(filepath.Join(pai, "contrib/kubespray/config/config.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range manifests.KubesprayRegistryVars(prefix) {
		if want := v.Name + `: "` + v.Value + `"`; !strings.Contains(string(config), want) {
			t.Errorf("config.yaml lacks %s", want)
		}
	}
	for _, want := range []string{`docker_registry_domain: "harbor.lab:8443"`, `docker_registry_namespace: "lab/openpai/openpai"`, "docker_registry_username:", "docker_registry_password:"} {
		if !strings.Contains(string(config), want) {
			t.Errorf("config.yaml lacks %s", want)
		}
	}

	boot, _ := os.ReadFile(filepath.Join(pai, "contrib/kubespray/script/service-boot.sh"))
	if !strings.Contains(string(boot), prefix+"/openpai/dev-box:${OPENPAI_IMAGE_TAG}") {
		t.Errorf("service-boot.sh does not run the dev box from the registry:\n%s", boot)
	}

	// Every literal image of a service the install starts names the
	// registry (docker-cache and dshuttle are off by default).
	literal := regexp.MustCompile(`^\s*-?\s*image:\s*["']?([^"'\s{}]+)["']?\s*$`)
	deploys, _ := filepath.Glob(filepath.Join(pai, "src", "*", "deploy", "*"))
	checked := 0
	for _, f := range deploys {
		service := filepath.Base(filepath.Dir(filepath.Dir(f)))
		if service == "docker-cache" || strings.HasPrefix(service, "dshuttle") || strings.HasSuffix(f, ".paimirror-orig") {
			continue
		}
		fh, err := os.Open(f)
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		for n := 1; sc.Scan(); n++ {
			m := literal.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			checked++
			if !strings.HasPrefix(m[1], prefix+"/") {
				t.Errorf("%s:%d: image %s does not come from the registry", f, n, m[1])
			}
		}
		fh.Close()
	}
	if checked == 0 {
		t.Fatal("no literal image found in pai's deploy files: the check checked nothing")
	}

	stdout, stderr, code = runInstallCLI(t, append([]string{"--dry-run"}, args...)...)
	if code != 0 {
		t.Fatalf("dry run after the patch: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if strings.Contains(stdout, "\n+++ ") {
		t.Errorf("a dry run after the patch still has changes:\n%s", stdout)
	}
}

func TestInstallRegistryUsage(t *testing.T) {
	pai := paiTree(t, "v1.8.0", "")
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\n"), 0o644)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--registry-insecure"}, "need --registry"},
		{[]string{"--registry", "harbor.lab/OpenPAI"}, "--registry"},
		{[]string{"--registry", "http://harbor.lab/pai", "--registry-ca", ca}, "not both"},
	} {
		_, stderr, code := runInstallCLI(t, append([]string{"--pai", pai, "--mirror", "127.0.0.1:1", "--dry-run"}, tc.args...)...)
		if code == 0 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, want an error saying %q:\n%s", tc.args, code, tc.want, stderr)
		}
	}
}
