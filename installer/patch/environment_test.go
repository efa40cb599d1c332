package patch

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestPatchEnvironment(t *testing.T) {
	in := `echo "Clone kubespray source code from github to ${HOME}/pai-deploy"
sudo rm -rf ${HOME}/pai-deploy/kubespray
git clone -b release-2.11 https://github.com/kubernetes-sigs/kubespray.git ${HOME}/pai-deploy/kubespray
sudo python3 -m pip install pip==20.3.4
sudo python3 -m pip install paramiko # need paramiko for ansible-playbook
    sudo pip3 install -r ${HOME}/pai-deploy/kubespray/requirements.txt
# sudo python3 -m pip install commented==1
`
	p := envPatch{
		kubesprayURL: "http://10.0.0.9:5000/github.com/kubernetes-sigs/kubespray/archive/abc.tar.gz",
		pipIndex:     "http://10.0.0.9:5000/pypi/simple/",
		trustedHost:  "10.0.0.9",
	}
	out, warnings := patchEnvironment("environment.sh", []byte(in), p)
	if len(warnings) != 0 {
		t.Errorf("warnings: %q", warnings)
	}
	for _, want := range []string{
		`mkdir -p ${HOME}/pai-deploy/kubespray && (set -o pipefail; u="http://10.0.0.9:5000/github.com/kubernetes-sigs/kubespray/archive/abc.tar.gz"; ` + fetchKubespray + ` | tar -xz --strip-components=1 -C ${HOME}/pai-deploy/kubespray) || exit $?` + "\n",
		"sudo python3 -m pip install --index-url http://10.0.0.9:5000/pypi/simple/ --trusted-host 10.0.0.9 pip==20.3.4\n",
		"sudo python3 -m pip install --index-url http://10.0.0.9:5000/pypi/simple/ --trusted-host 10.0.0.9 paramiko # need",
		"    sudo pip3 install --index-url http://10.0.0.9:5000/pypi/simple/ --trusted-host 10.0.0.9 -r ${HOME}",
		"# sudo python3 -m pip install commented==1\n",
		"sudo rm -rf ${HOME}/pai-deploy/kubespray\n",
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(string(out), "git clone") {
		t.Errorf("the clone is still there:\n%s", out)
	}
	again, _ := patchEnvironment("environment.sh", out, p)
	if string(again) != string(out) {
		t.Errorf("a second patch changed it again:\n%s", again)
	}
	// A new mirror repoints every line this patch wrote.
	moved := envPatch{
		kubesprayURL: "https://mirror.lab:8443/github.com/kubernetes-sigs/kubespray/archive/abc.tar.gz",
		pipIndex:     "https://mirror.lab:8443/pypi/simple/",
		cert:         SystemCABundle,
	}
	out2, _ := patchEnvironment("environment.sh", out, moved)
	if strings.Contains(string(out2), "10.0.0.9") {
		t.Errorf("the old mirror is still named:\n%s", out2)
	}
	if strings.Count(string(out2), "--index-url https://mirror.lab:8443/pypi/simple/ --cert "+SystemCABundle) != 3 || strings.Contains(string(out2), "--trusted-host") {
		t.Errorf("pip lines not repointed:\n%s", out2)
	}
	// And back to plain HTTP: the --cert goes.
	if out3, _ := patchEnvironment("environment.sh", out2, p); string(out3) != string(out) {
		t.Errorf("repointing back to the first mirror:\n%s\nwant\n%s", out3, out)
	}
	// A line an earlier paimirror wrote (curl only) is rewritten.
	const curlOnly = `mkdir -p ${HOME}/pai-deploy/kubespray && (set -o pipefail; curl -fsSL "http://10.0.0.8:5000/github.com/kubernetes-sigs/kubespray/archive/abc.tar.gz" | tar -xz --strip-components=1 -C ${HOME}/pai-deploy/kubespray) || exit $?` + "\n"
	if old, _ := patchEnvironment("environment.sh", []byte(strings.Replace(in, in[strings.Index(in, "git clone"):strings.Index(in, "sudo python3")], curlOnly, 1)), p); string(old) != string(out) {
		t.Errorf("an earlier curl-only download is not rewritten:\n%s", old)
	}
	// Nothing to point: unchanged, and a missing clone is reported.
	if same, _ := patchEnvironment("environment.sh", []byte(in), envPatch{}); string(same) != in {
		t.Error("an empty patch changed the script")
	}
	if _, w := patchEnvironment("environment.sh", []byte("echo hi\n"), p); len(w) != 1 || !strings.Contains(w[0], "no `git clone` of kubespray") {
		t.Errorf("warnings %q", w)
	}
}

// TestEnvironmentFetchFallback runs the patched kubespray download with
// bash, from a PATH holding only one of curl, wget and python3 (a stock
// Ubuntu 18.04 desktop has no curl), against a local HTTP server: each
// fetches and unpacks the archive, and each fails the script on a 404.
func TestEnvironmentFetchFallback(t *testing.T) {
	var archive bytes.Buffer
	zw := gzip.NewWriter(&archive)
	tw := tar.NewWriter(zw)
	const requirements = "ansible==2.7.12\n"
	for _, h := range []*tar.Header{
		{Name: "kubespray-abc/", Mode: 0o755, Typeflag: tar.TypeDir},
		{Name: "kubespray-abc/requirements.txt", Mode: 0o644, Size: int64(len(requirements)), Typeflag: tar.TypeReg},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tw.Write([]byte(requirements)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/kubespray.tar.gz" {
			http.NotFound(w, r)
			return
		}
		w.Write(archive.Bytes())
	}))
	t.Cleanup(srv.Close)

	script := func(url string) string {
		out, _ := patchEnvironment("environment.sh", []byte("git clone -b release-2.11 https://github.com/kubernetes-sigs/kubespray.git ${HOME}/pai-deploy/kubespray\necho done\n"),
			envPatch{kubesprayURL: url})
		return string(out)
	}
	for _, tool := range []string{"curl", "wget", "python3"} {
		t.Run(tool, func(t *testing.T) {
			prog, err := exec.LookPath(tool)
			if err != nil {
				t.Skipf("no %s", tool)
			}
			if tool == "python3" {
				// The interpreter itself, not a wrapper (pyenv's shims
				// need pyenv on PATH).
				out, err := exec.Command(prog, "-c", "import sys; print(sys.executable)").Output()
				if err != nil {
					t.Skipf("python3: %v", err)
				}
				prog = strings.TrimSpace(string(out))
			}
			bin := t.TempDir()
			for name, p := range map[string]string{tool: prog, "bash": "", "mkdir": "", "tar": "", "gzip": ""} {
				if p == "" {
					if p, err = exec.LookPath(name); err != nil {
						t.Skipf("no %s", name)
					}
				}
				if err := os.Symlink(p, filepath.Join(bin, name)); err != nil {
					t.Fatal(err)
				}
			}
			for _, tc := range []struct {
				path string
				ok   bool
			}{{"/kubespray.tar.gz", true}, {"/missing.tar.gz", false}} {
				home := t.TempDir()
				cmd := exec.Command(filepath.Join(bin, "bash"), "-c", script(srv.URL+tc.path))
				cmd.Env = []string{"PATH=" + bin, "HOME=" + home}
				out, err := cmd.CombinedOutput()
				got, rerr := os.ReadFile(filepath.Join(home, "pai-deploy", "kubespray", "requirements.txt"))
				if tc.ok && (err != nil || rerr != nil || string(got) != requirements || !strings.Contains(string(out), "done")) {
					t.Errorf("%s with only %s: %v, %v:\n%s", tc.path, tool, err, rerr, out)
				}
				if !tc.ok && (err == nil || strings.Contains(string(out), "done")) {
					t.Errorf("%s with only %s: the script went on:\n%s", tc.path, tool, out)
				}
			}
		})
	}
}
