package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/manifests"
)

// paiArchive returns the patch fixture's pai tree as GitHub's source
// archive of it: a gzipped tar under one top directory.
func paiArchive(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	src := "../../installer/patch/testdata/pai"
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		if err := tw.WriteHeader(&tar.Header{Name: "pai-1.8.0/" + filepath.ToSlash(rel), Mode: int64(info.Mode().Perm()), Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// buildInstallBundle builds a bundle holding openpai/dev-box:v1.8.0 and
// pai's source archive (the patch fixture's tree), and no device plugin
// file.
func buildInstallBundle(t *testing.T) string {
	t.Helper()
	def := manifests.Default()
	m := &manifests.Manifest{Name: "install", Raw: []byte("name: install\n")}
	for _, img := range def.Images {
		if img.Ref == "docker.io/openpai/dev-box:v1.8.0" {
			img.Groups = nil
			m.Images = append(m.Images, img)
		}
	}
	var archive string
	for _, f := range def.Files {
		if strings.Contains(f.URL, "microsoft/pai/archive/") {
			f.Groups = nil
			m.Files = append(m.Files, f)
			archive = f.URL
		}
	}
	if len(m.Images) != 1 || archive == "" {
		t.Fatalf("the default manifest's dev-box image and pai archive: %v %v", m.Images, m.Files)
	}
	path, _ := buildFrom(t, m, bundletest.Options{FileContent: map[string][]byte{archive: paiArchive(t)}})
	return path
}

// runInstallCLI runs `paimirror install args...` and returns its standard
// output, its standard error and its exit status.
func runInstallCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	return runCLI(t, append([]string{"install"}, args...)...)
}

// runCLI runs paimirror with args and returns its standard output and
// error and its exit status.
func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := paimirror(t, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// paiTree copies the patch fixture's pai tree into a new directory, with
// config.yaml's docker_image_tag set to tag and layout.yaml's GPU SKU's
// device type set to device ("" keeps the fixture's nvidia.com/gpu).
func paiTree(t *testing.T, tag, device string) string {
	t.Helper()
	pai := filepath.Join(t.TempDir(), "pai")
	if err := os.CopyFS(pai, os.DirFS("../../installer/patch/testdata/pai")); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(pai, "contrib/kubespray/config/config.yaml")
	data, _ := os.ReadFile(cfg)
	os.WriteFile(cfg, bytes.Replace(data, []byte("docker_image_tag: v1.8.0"), []byte("docker_image_tag: "+tag), 1), 0o644)
	if device != "" {
		lay := filepath.Join(pai, "contrib/kubespray/config/layout.yaml")
		data, _ := os.ReadFile(lay)
		os.WriteFile(lay, bytes.Replace(data, []byte("type: nvidia.com/gpu"), []byte("type: "+device), 1), 0o644)
	}
	return pai
}

// TestInstallDryRunBundle runs `install --dry-run` with the lock read from
// a bundle file, with no mirror running: the diff goes to standard output
// with a placeholder for the mirror's address, and the warnings to
// standard error: docker_image_tag naming images the bundle lacks, and the
// device plugin only for the device types layout.yaml has.
func TestInstallDryRunBundle(t *testing.T) {
	bundlePath := buildInstallBundle(t)
	addr := freeAddr(t)
	startServe(t, bundlePath, "--addr", addr)
	const nvidiaFile = "/raw.githubusercontent.com/NVIDIA/k8s-device-plugin/1.0.0-beta4/nvidia-device-plugin.yml"
	for _, tc := range []struct {
		name, tag, device string
		// wantErr and notErr are on standard error, never on standard output.
		wantErr, notErr []string
	}{
		{
			name: "v1.8.0 nvidia", tag: "v1.8.0",
			wantErr: []string{"warning: ", nvidiaFile},
			notErr:  []string{"docker_image_tag", "amd.com/gpu", "enflame.com/dtu", "rdma/hca", "k8s-ds-amdgpu-dp.yaml"},
		},
		{
			name: "v1.7.0", tag: "v1.7.0",
			wantErr: []string{"docker_image_tag is v1.7.0", "openpai/dev-box:v1.8.0", "docker_image_tag: v1.8.0"},
		},
		{
			name: "amd", tag: "v1.8.0", device: "amd.com/gpu",
			wantErr: []string{"amd.com/gpu"},
			notErr:  []string{"enflame.com/dtu", "rdma/hca"},
		},
	} {
		// The lock from the bundle file, and from the mirror serving it.
		for _, src := range []struct {
			name, base string
			args       []string
		}{
			{"bundle", mirrorPlaceholder, []string{"--bundle", bundlePath}},
			{"mirror", addr, []string{"--mirror", addr}},
		} {
			t.Run(tc.name+"/"+src.name, func(t *testing.T) {
				pai := paiTree(t, tc.tag, tc.device)
				stdout, stderr, code := runInstallCLI(t, append([]string{"--pai", pai, "--dry-run"}, src.args...)...)
				if code != 0 {
					t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
				}
				checkDryRun(t, stdout, stderr, src.base, tc.wantErr, tc.notErr)
				if src.name == "bundle" && !strings.Contains(stdout, "the lock read from "+bundlePath) {
					t.Errorf("stdout does not say where the lock came from:\n%s", stdout)
				}
			})
		}
	}

	t.Run("bundled pai", func(t *testing.T) {
		// Without --pai, pai's source comes out of the bundle; the dry run
		// leaves nothing behind.
		pai := paiTree(t, "v1.8.0", "")
		home := t.TempDir()
		cmd := paimirror(t, "install", "--bundle", bundlePath, "--dry-run",
			"--config", filepath.Join(pai, "contrib/kubespray/config/config.yaml"),
			"--layout", filepath.Join(pai, "contrib/kubespray/config/layout.yaml"))
		cmd.Env = append(cmd.Env, "HOME="+home)
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "+++ b/contrib/kubespray/docker-cache-config-distribute.yml") {
			t.Fatalf("%v\n%s", err, out)
		}
		if entries, _ := os.ReadDir(home); len(entries) != 0 {
			t.Errorf("the dry run left %v in $HOME", entries)
		}
	})

	t.Run("usage", func(t *testing.T) {
		pai := paiTree(t, "v1.8.0", "")
		for _, tc := range []struct {
			name string
			args []string
			want string
		}{
			{"bundle without dry-run", []string{"--pai", pai, "--bundle", bundlePath}, "--bundle without --mirror works only with --dry-run"},
			{"neither", []string{"--pai", pai, "--dry-run"}, `required flag(s) "mirror" not set: --mirror HOST:PORT`},
			{"missing bundle", []string{"--pai", pai, "--bundle", filepath.Join(t.TempDir(), "none.tar"), "--dry-run"}, "none.tar"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				stdout, stderr, code := runInstallCLI(t, tc.args...)
				wantCode := 2
				if tc.name == "missing bundle" {
					wantCode = 1
				}
				if code != wantCode || !strings.Contains(stderr, tc.want) {
					t.Errorf("exit %d (want %d), stderr lacks %q?\n%s%s", code, wantCode, tc.want, stdout, stderr)
				}
			})
		}
	})
}

// checkDryRun checks a dry run's output: the diff on stdout with base as
// the mirror, no warning there; wantErr and not notErr on stderr.
func checkDryRun(t *testing.T, stdout, stderr, base string, wantErr, notErr []string) {
	t.Helper()
	for _, want := range []string{
		"--- a/contrib/kubespray/config/config.yaml",
		`+  kube_image_repo: "` + base + `/gcr.io/google-containers"`,
		"dry run: nothing was changed",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "warning:") {
		t.Errorf("a warning on stdout, with the diff:\n%s", stdout)
	}
	for _, want := range wantErr {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	for _, not := range notErr {
		if strings.Contains(stderr, not) {
			t.Errorf("stderr has %q:\n%s", not, stderr)
		}
	}
}

// mirrorPlaceholder is the address a dry run without --mirror puts
// where the mirror's goes.
const mirrorPlaceholder = "MIRROR:5000"

// TestInstallDryRunBundleAndMirror gives --bundle and --mirror together: the
// same bundle served gives no warning; another bundle gives one naming
// both locks' digests; a mirror that does not answer is a warning, and the
// dry run goes on from the bundle.
func TestInstallDryRunBundleAndMirror(t *testing.T) {
	served := buildInstallBundle(t)
	other := buildInstallBundle(t) // another upstream, other random images: another lock
	addr := freeAddr(t)
	startServe(t, served, "--addr", addr)
	pai := paiTree(t, "v1.8.0", "")

	stdout, stderr, code := runInstallCLI(t, "--pai", pai, "--mirror", addr, "--bundle", served, "--dry-run")
	if code != 0 || !strings.Contains(stdout, `kube_image_repo: "`+addr+`/gcr.io`) {
		t.Fatalf("same bundle: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if strings.Contains(stderr, "lock") {
		t.Errorf("same bundle: a lock warning:\n%s", stderr)
	}

	stdout, stderr, code = runInstallCLI(t, "--pai", pai, "--mirror", addr, "--bundle", other, "--dry-run")
	if code != 0 {
		t.Fatalf("other bundle: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "warning: the mirror at "+addr+" serves another bundle than "+other) {
		t.Errorf("other bundle: no warning:\n%s", stderr)
	}

	closed, _ := bundletest.ClosedAddr()
	stdout, stderr, code = runInstallCLI(t, "--pai", pai, "--mirror", closed, "--bundle", served, "--dry-run")
	if code != 0 || !strings.Contains(stdout, `kube_image_repo: "`+closed+`/gcr.io`) {
		t.Fatalf("closed mirror: exit %d\n%s\n%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, "warning: ") || !strings.Contains(stderr, "is `paimirror serve` running") {
		t.Errorf("closed mirror: no warning:\n%s", stderr)
	}
}

// TestInstallDryRunStorage shows the storage step's plan in a dry run,
// without asking for the admin's password: the node marked pai-storage,
// the storage-manager section, the volume and claim, the groups.
func TestInstallDryRunStorage(t *testing.T) {
	bundlePath := buildInstallBundle(t)
	addr := freeAddr(t)
	startServe(t, bundlePath, "--addr", addr)
	pai := paiTree(t, "v1.8.0", "")
	for _, src := range [][]string{{"--bundle", bundlePath}, {"--mirror", addr}} {
		t.Run(src[0], func(t *testing.T) {
			args := append([]string{"--pai", pai, "--dry-run"}, src...)
			stdout, stderr, code := runInstallCLI(t, append(args, "--storage-node", "lab-gpu1", "--groups", "default,vision", "--read-write", "--share-path", "/srv/share")...)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, stderr)
			}
			for _, want := range []string{
				`lab-gpu1 (192.168.10.2) gets pai-storage: "true"`,
				"storage-manager:\n",
				"localpath: /srv/share\n",
				"/srv/share/data on lab-gpu1",
				"persistent volume nfs-storage-pv: NFS 192.168.10.2:/data",
				"ReadWriteMany",
				"read-write",
				"claim default/nfs-storage",
				"groups granted nfs-storage: default, vision",
			} {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}

			// The master cannot be the storage node: the dry run says so.
			stdout, stderr, code = runInstallCLI(t, append(args, "--storage-node", "lab-master")...)
			if code == 0 || !strings.Contains(stderr, "lab-master is the master") || !strings.Contains(stderr, "lab-gpu1, lab-gpu2") {
				t.Errorf("master as storage node: exit %d\n%s\n%s", code, stdout, stderr)
			}
		})
	}
}
