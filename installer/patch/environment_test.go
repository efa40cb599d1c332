package patch

import (
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
		`mkdir -p ${HOME}/pai-deploy/kubespray && (set -o pipefail; curl -fsSL "http://10.0.0.9:5000/github.com/kubernetes-sigs/kubespray/archive/abc.tar.gz" | tar -xz --strip-components=1 -C ${HOME}/pai-deploy/kubespray) || exit $?` + "\n",
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
	// Nothing to point: unchanged, and a missing clone is reported.
	if same, _ := patchEnvironment("environment.sh", []byte(in), envPatch{}); string(same) != in {
		t.Error("an empty patch changed the script")
	}
	if _, w := patchEnvironment("environment.sh", []byte("echo hi\n"), p); len(w) != 1 || !strings.Contains(w[0], "no `git clone` of kubespray") {
		t.Errorf("warnings %q", w)
	}
}
