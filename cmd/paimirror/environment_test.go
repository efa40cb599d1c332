package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/manifests"
)

// environmentSh runs the commands of pai v1.8.0's
// contrib/kubespray/script/environment.sh, in its order (see
// ../shared/docs/openpai-v1.8.0.md, "Every internet access", item 1).
const environmentSh = `#!/bin/bash
echo "working folder ${HOME}/pai-deploy"
mkdir -p ${HOME}/pai-deploy/

echo "kubespray"
sudo rm -rf ${HOME}/pai-deploy/kubespray
git clone -b release-2.11 https://github.com/kubernetes-sigs/kubespray.git ${HOME}/pai-deploy/kubespray
cp -rfp ${HOME}/pai-deploy/kubespray/inventory/sample ${HOME}/pai-deploy/kubespray/inventory/pai

echo "python3 and pip"
sudo apt-get -y update
sudo apt-get -y install software-properties-common python3 python3-dev python3-pip
sudo python3 -m pip install pip==20.3.4

echo "python packages"
sudo python3 -m pip install paramiko
sudo python3 -m pip install -r script/requirements.txt

echo "sshpass"
sudo apt-get -y install sshpass

echo "kubespray's requirements"
sudo python3 -m pip install -r ${HOME}/pai-deploy/kubespray/requirements.txt
sudo python3 -m pip install ansible==2.9.7
`

// kubesprayRequirements is kubespray release-2.11's requirements.txt.
const kubesprayRequirements = "ansible==2.7.12\njinja2==2.10.1\nnetaddr==0.7.19\npbr==5.2.0\nhvac==0.8.2\njmespath==0.9.4\nruamel.yaml==0.15.96\n"

// kubesprayArchive is a stand-in for GitHub's archive of kubespray at the
// commit pai clones: the files environment.sh reads, under the archive's
// top directory.
func kubesprayArchive(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	top := "kubespray-67167bd8d292b67e9c8bceccbc8fb230d05bd2ba/"
	for _, f := range []struct{ name, body string }{
		{"requirements.txt", kubesprayRequirements},
		{"cluster.yml", "- hosts: all\n"},
		{"inventory/sample/hosts.ini", "[all]\n"},
		{"inventory/sample/group_vars/all/all.yml", "etcd_data_dir: /var/lib/etcd\n"},
	} {
		if err := tw.WriteHeader(&tar.Header{Name: top + f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(f.body))
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// TestEnvironmentOffline runs environment.sh, patched by `paimirror
// install --only patch`, on a dev box that reaches nothing but a real
// `paimirror serve` of a bundle holding kubespray's archive, the dev box's
// Python packages and its apt repositories: every other address goes to a
// closed port, and git is not there. kubespray's tree must come from the
// mirror, every pip install must be satisfied by the mirror's index
// (the real pip, installing into a directory of the test's), and every
// apt-get by the mirror's repositories (the real apt-get with its own
// state, signature checking on). What stands in: sudo runs its command
// (the test is root already), apt-get only downloads (this host is not the
// dev box), and the Python packages are the upstream stand-in's small
// wheels.
func TestEnvironmentOffline(t *testing.T) {
	aptGet := bundletest.Tool(t, "apt-get")
	bundletest.Tool(t, "gpgv")
	python := bundletest.Tool(t, "python3")
	if err := exec.Command(python, "-m", "pip", "--version").Run(); err != nil {
		bundletest.Tool(t, "pip3") // no pip: skip, or fail under PAIMIRROR_REQUIRE_TOOLS
	}

	def := manifests.Default()
	m := &manifests.Manifest{Name: "devbox", Raw: []byte("name: devbox\n")}
	var archive string
	for _, f := range def.Files {
		// kubespray's archive, and the device plugin's file, so that the
		// scan of the install path has nothing left.
		if strings.Contains(f.URL, "kubernetes-sigs/kubespray/archive/") || strings.HasSuffix(f.URL, "/nvidia-device-plugin.yml") {
			f.Groups = nil
			m.Files = append(m.Files, f)
		}
		if strings.Contains(f.URL, "kubernetes-sigs/kubespray/archive/") {
			archive = f.URL
		}
	}
	py := *def.Python
	py.Groups = nil
	m.Python = &py
	for _, a := range def.Apt {
		if a.Target == "ubuntu-18.04" {
			a.Groups = nil
			m.Apt = append(m.Apt, a)
		}
	}
	if len(m.Files) != 2 || archive == "" {
		t.Fatalf("the default manifest's kubespray archive and device plugin file: %v", m.Files)
	}
	bundlePath, u := buildFrom(t, m, bundletest.Options{FileContent: map[string][]byte{archive: kubesprayArchive(t)}})
	dir := filepath.Dir(bundlePath)
	u.Close() // from here on, only the mirror
	addr := freeAddr(t)
	startServe(t, bundlePath, "--addr", addr)
	mirror := "http://" + addr

	// The pai checkout, with environment.sh as v1.8.0 has it, patched.
	pai := filepath.Join(dir, "pai")
	if err := os.CopyFS(pai, os.DirFS("../../installer/patch/testdata/pai")); err != nil {
		t.Fatal(err)
	}
	kube := filepath.Join(pai, "contrib/kubespray")
	os.WriteFile(filepath.Join(kube, "script/environment.sh"), []byte(environmentSh), 0o755)
	os.WriteFile(filepath.Join(kube, "script/requirements.txt"), []byte("kubernetes==12.0.0\nschema==0.7.2\njinja2==2.11.2\n"), 0o644)
	home := filepath.Join(dir, "home")
	os.MkdirAll(home, 0o755)
	patchCmd := paimirror(t, "install", "--pai", pai, "--mirror", addr, "--state", filepath.Join(dir, "state"), "--only", "patch")
	patchCmd.Env = append(patchCmd.Env, "HOME="+home)
	out, err := patchCmd.CombinedOutput()
	if err != nil {
		t.Fatalf("patch: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "internet accesses left on the install path: none") {
		t.Errorf("the scan still finds something on the install path:\n%s", out)
	}

	// The dev box's programs.
	closed, err := bundletest.ClosedAddr()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "bin")
	target := filepath.Join(dir, "site-packages")
	aptRoot := filepath.Join(dir, "apt")
	for _, d := range []string{bin, target, "state/lists/partial", "cache/archives/partial", "etc/sources.list.d", "etc/preferences.d", "etc/apt.conf.d", "keys"} {
		if !filepath.IsAbs(d) {
			d = filepath.Join(aptRoot, d)
		}
		os.MkdirAll(d, 0o755)
	}
	os.WriteFile(filepath.Join(aptRoot, "state/status"), nil, 0o644)
	// The dev box's apt as prepare leaves it: the mirror's repositories
	// for ubuntu-18.04 with the keys the mirror serves (a real dev box has
	// Ubuntu's already), and the drop-in's settings.
	var sources strings.Builder
	for _, a := range u.Manifest.Apt {
		key := filepath.Join(aptRoot, "keys", a.Name+".gpg")
		if msg, err := exec.Command("curl", "-fsS", "--noproxy", "*", "-o", key, mirror+a.Key.KeyPath()).CombinedOutput(); err != nil {
			t.Fatalf("key of %s: %v\n%s", a.Name, err, msg)
		}
		if data, _ := os.ReadFile(key); bytes.HasPrefix(data, []byte("-----BEGIN")) {
			os.Rename(key, strings.TrimSuffix(key, ".gpg")+".asc")
			key = strings.TrimSuffix(key, ".gpg") + ".asc"
		}
		if !a.Sources {
			continue
		}
		suites := a.Suites
		if a.Flat {
			suites = []string{"./"}
		}
		for _, s := range suites {
			sources.WriteString(strings.TrimSpace("deb [arch=amd64 signed-by="+key+"] "+mirror+a.MirrorPrefix()+" "+s+" "+strings.Join(a.Components, " ")) + "\n")
		}
	}
	os.WriteFile(filepath.Join(aptRoot, "etc/sources.list"), []byte(sources.String()), 0o644)
	aptConf := strings.Join([]string{
		`Dir::State "` + aptRoot + `/state";`, `Dir::State::status "` + aptRoot + `/state/status";`,
		`Dir::Cache "` + aptRoot + `/cache";`, `Dir::Etc::SourceList "` + aptRoot + `/etc/sources.list";`,
		`Dir::Etc::SourceParts "` + aptRoot + `/etc/sources.list.d";`, `Dir::Etc::Parts "` + aptRoot + `/etc/apt.conf.d";`,
		`Dir::Etc::Preferences "` + aptRoot + `/etc/preferences";`, `Dir::Etc::PreferencesParts "` + aptRoot + `/etc/preferences.d";`,
		`Dir::Etc::TrustedParts "` + aptRoot + `/keys";`, `Dir::Log "` + aptRoot + `";`, `Debug::NoLocking "1";`,
		`APT::Architecture "amd64";`, `APT::Architectures "amd64";`, `APT::Sandbox::User "root";`,
		`Acquire::Languages "none";`, `APT::Install-Recommends "false";`,
		`Acquire::IndexTargets::deb::DEP-11::DefaultEnabled "false";`,
		`Acquire::AllowInsecureRepositories "false";`, `Acquire::Check-Valid-Until "false";`,
	}, "\n") + "\n"
	os.WriteFile(filepath.Join(aptRoot, "apt.conf"), []byte(aptConf), 0o644)
	for name, script := range map[string]string{
		"sudo": "#!/bin/sh\nexec \"$@\"\n",
		"git":  "#!/bin/sh\necho \"git $*: the dev box has no git and no internet\" >&2\nexit 1\n",
		"apt-get": "#!/bin/sh\n# the real apt-get with its own state; installs only download\nfor a in \"$@\"; do [ \"$a\" = install ] && set -- \"$@\" --download-only; done\n" +
			"exec " + aptGet + " \"$@\"\n",
		"python3": "#!/bin/sh\n# pip installs go into the test's directory\nif [ \"$1 $2 $3\" = \"-m pip install\" ]; then shift 3; exec " + python +
			" -m pip install --target " + target + " --upgrade --no-cache-dir --disable-pip-version-check --no-warn-script-location \"$@\"; fi\nexec " + python + " \"$@\"\n",
	} {
		os.WriteFile(filepath.Join(bin, name), []byte(script), 0o755)
	}

	run := exec.Command("bash", "script/environment.sh")
	run.Dir = kube
	run.Env = append(withoutProxy(nil), "HOME="+home, "PATH="+bin+":"+os.Getenv("PATH"), "APT_CONFIG="+filepath.Join(aptRoot, "apt.conf"),
		"http_proxy=http://"+closed, "https_proxy=http://"+closed, "HTTP_PROXY=http://"+closed, "HTTPS_PROXY=http://"+closed,
		"no_proxy=127.0.0.1", "NO_PROXY=127.0.0.1", "PIP_NO_INPUT=1", "PIP_CONFIG_FILE=/dev/null", "LC_ALL=C")
	msg, err := run.CombinedOutput()
	if err != nil {
		t.Fatalf("environment.sh: %v\n%s", err, msg)
	}
	t.Logf("environment.sh:\n%s", msg)

	for _, p := range []string{"requirements.txt", "cluster.yml", "inventory/pai/hosts.ini", "inventory/pai/group_vars/all/all.yml"} {
		if _, err := os.Stat(filepath.Join(home, "pai-deploy/kubespray", p)); err != nil {
			t.Errorf("kubespray's tree: %v", err)
		}
	}
	entries, _ := os.ReadDir(target)
	var dists []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".dist-info"); ok {
			dists = append(dists, strings.ToLower(name))
		}
	}
	for _, want := range []string{"pip-20.3.4", "kubernetes-12.0.0", "schema-0.7.2", "netaddr-0.7.19", "ruamel.yaml-0.15.96", "ansible-2.9.7"} {
		if !slices.Contains(dists, want) {
			t.Errorf("pip did not install %s from the mirror: %v", want, dists)
		}
	}
	if !slices.ContainsFunc(dists, func(d string) bool { return strings.HasPrefix(d, "paramiko-") }) {
		t.Errorf("pip did not install paramiko: %v", dists)
	}
	debs, _ := filepath.Glob(filepath.Join(aptRoot, "cache/archives/*.deb"))
	var names []string
	for _, d := range debs {
		name, _, _ := strings.Cut(filepath.Base(d), "_")
		names = append(names, name)
	}
	for _, want := range []string{"software-properties-common", "python3", "python3-dev", "python3-pip", "sshpass"} {
		if !slices.Contains(names, want) {
			t.Errorf("apt-get did not get %s from the mirror: %v", want, names)
		}
	}
	if strings.Contains(string(msg), "W: ") || strings.Contains(string(msg), "Err:") {
		t.Errorf("apt-get complained:\n%s", msg)
	}
}
