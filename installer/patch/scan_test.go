package patch

import (
	"errors"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/installer/pai"
)

// TestScanFixture scans the unpatched fixture tree.
func TestScanFixture(t *testing.T) {
	dir := fixture(t)
	fs, err := Scan(dir, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "scan.txt", findingsText(fs))

	// What must not be reported: comments, license and documentation links,
	// XML namespaces, messages, templated and local hosts, Docker Hub
	// images, package removals, files outside the scanned directories.
	text := string(findingsText(fs))
	for _, never := range []string{
		"openpai.readthedocs.io", "docs.projectcalico.org", "etcd.io", "www.w3.org", "schema.org",
		"nginx.org", "mailgun", "registry-1.docker.io", "mirror.example.com", "src/webportal",
		"clean-docker.yml", "everpeace", "$host", "{{",
	} {
		if strings.Contains(text, never) {
			t.Errorf("findings mention %q:\n%s", never, text)
		}
	}
}

// TestScanSkipsMirrorAndOriginals checks that URLs to the mirror are not
// findings and that kept originals are not scanned.
func TestScanSkipsMirrorAndOriginals(t *testing.T) {
	dir := fixture(t)
	script := filepath.Join(dir, filepath.FromSlash(pai.DevicePluginFile))
	writeFile(t, script+pai.OrigSuffix, string(readFile(t, script)))
	writeFile(t, script, "curl -fsSL \"http://mirror.lab.cn:5000/raw.githubusercontent.com/NVIDIA/k8s-device-plugin/1.0.0-beta4/nvidia-device-plugin.yml\" | kubectl apply -f -\n")
	for _, tc := range []struct {
		mirror string
		want   string // the script's findings
	}{
		{"mirror.lab.cn:5000", ""},
		{"", "mirror.lab.cn"},
	} {
		fs, err := Scan(dir, ScanOptions{Mirror: tc.mirror})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, f := range fs {
			if strings.HasPrefix(f.Path, "src/device-plugin/") {
				got = append(got, f.Host)
			}
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("mirror %q: findings in the script: %v, want %q", tc.mirror, got, tc.want)
		}
	}
}

func TestScanNotPaiTree(t *testing.T) {
	if _, err := Scan(t.TempDir(), ScanOptions{}); !errors.Is(err, ErrNotPaiTree) {
		t.Errorf("Scan = %v, want ErrNotPaiTree", err)
	}
}

// TestScanLines checks the line rules one file at a time.
func TestScanLines(t *testing.T) {
	for _, tc := range []struct {
		name, file, content string
		want                []string // "LINE HOST KIND"
	}{
		{name: "git clone", file: "contrib/kubespray/script/x.sh", content: "git clone --depth 1 https://github.com/a/b.git /tmp/b\n",
			want: []string{"1 github.com git"}},
		{name: "pip", file: "contrib/kubespray/script/x.sh", content: "pip3 install -r req.txt\npython3 -m pip install --index-url http://10.0.0.9/simple x\npip install --no-index x\n",
			want: []string{"1 pypi.org pip"}},
		{name: "apt verbs", file: "contrib/kubespray/script/x.sh", content: "apt-get -y remove x\napt purge y\napt install -y nfs-common\n",
			want: []string{"3 archive.ubuntu.com apt"}},
		{name: "apt module removal", file: "contrib/kubespray/x.yml", content: "- apt:\n    name: x\n    state: absent\n- apt: name=y state=absent\n- apt:\n    autoclean: yes\n"},
		{name: "apt module install list", file: "contrib/kubespray/x.yml", content: "- name: packages\n  apt:\n    name:\n      - a\n      - b\n    update_cache: no\n",
			want: []string{"2 archive.ubuntu.com apt"}},
		{name: "apt module inline", file: "contrib/kubespray/x.yml", content: "- apt: name=nfs-common state=present\n",
			want: []string{"1 archive.ubuntu.com apt"}},
		{name: "apt key and repo", file: "contrib/kubespray/x.yml", content: "- apt_key:\n    url: https://download.docker.com/linux/ubuntu/gpg\n- apt_repository:\n    repo: deb [arch=amd64] https://download.docker.com/linux/ubuntu bionic stable\n- apt_repository:\n    repo: ppa:x/y\n    state: absent\n",
			want: []string{"1 download.docker.com apt-key"}},
		{name: "get_url", file: "contrib/kubespray/x.yml", content: "- get_url:\n    url: \"https://dl.k8s.io/v1/kubectl\"\n    dest: /tmp\n",
			want: []string{"1 dl.k8s.io download"}},
		{name: "nslookup default", file: "contrib/kubespray/roles/r/tasks/main.yml", content: "- raw: \"nslookup {{ reg }}\"\n- raw: nslookup {{ unknown }}\n- raw: nslookup quay.io\n",
			want: []string{"1 docker.io dns-check", "3 quay.io dns-check"}},
		{name: "ping", file: "contrib/kubespray/roles/r/tasks/main.yml", content: "- raw: ping -c 3 packages.cloud.google.com\n- raw: ping -c 3 10.0.0.1\n",
			want: []string{"1 packages.cloud.google.com ping-check"}},
		{name: "comments", file: "contrib/kubespray/x.sh", content: "# curl https://a.example.org/x\necho hi # https://github.com/x\nurl='https://x.io/#frag' # see https://y.io\n",
			want: []string{"3 x.io url"}},
		{name: "yaml task names and messages", file: "contrib/kubespray/x.yml", content: "- name: \"Check https://quay.io\"\n  fail:\n    msg: \"see https://quay.io/help\"\n"},
		{name: "python messages", file: "contrib/kubespray/script/x.py", content: "logger.info('see https://a.io')\nprint(\"https://b.io\")\nURL = 'https://c.io/x'\n",
			want: []string{"3 c.io url"}},
		{name: "html comments", file: "src/x/deploy/a.ejs", content: "<!-- https://a.io\nhttps://b.io -->\n<a href=\"https://c.io\">c</a>\n",
			want: []string{"3 c.io url"}},
		{name: "js comments", file: "src/x/deploy/a.js", content: "// https://a.io\nconst u = 'https://b.io'; /* https://c.io */\n",
			want: []string{"2 b.io url"}},
		{name: "local and templated hosts", file: "src/x/deploy/a.yaml", content: "a: http://localhost:8080/x\nb: http://10.1.2.3/x\nc: http://{{ host }}/x\nd: http://$host/x\ne: http://pylon.svc.cluster.local/x\nf: http://rest-server:9186\ng: http://8.8.8.8/\n",
			want: []string{"7 8.8.8.8 url"}},
		{name: "images", file: "src/x/deploy/a.yaml.template", content: "image: quay.io/a/b:1\nimage: nginx:1.15\nimage: docker.io/library/busybox:1.31.1\nimage: {{ prefix }}/x:1\nimage: \"gcr.io/x/y:2\"\n",
			want: []string{"1 quay.io image", "5 gcr.io image"}},
		{name: "svn and curl", file: "src/x/deploy/start.sh.template", content: "svn cat https://github.com/a/b.git/trunk/c.yaml | kubectl apply -f -\ncurl -fsSL https://raw.githubusercontent.com/a/b/master/c.yaml\n",
			want: []string{"1 github.com svn", "2 raw.githubusercontent.com download"}},
		{name: "one finding per host", file: "contrib/kubespray/x.sh", content: "curl https://a.io/1\ncurl https://a.io/2\n",
			want: []string{"1 a.io download"}},
		{name: "keyserver", file: "contrib/kubespray/x.yml", content: "- shell: apt-key adv --keyserver keyserver.ubuntu.com --recv-keys 1\n",
			want: []string{"1 keyserver.ubuntu.com apt-key"}},
		{name: "docker run", file: "contrib/kubespray/script/boot.sh", content: "sudo docker run -itd \\\n  -v ${HOME}/x:/root/x \\\n  --name dev-box openpai/dev-box:${TAG}\ndocker pull quay.io/a/b:1\ndocker run --rm busybox:1 true\n",
			want: []string{"1 docker.io hub-image", "4 quay.io image"}},
		{name: "docker run in the cluster", file: "src/x/deploy/start.sh", content: "docker run --rm openpai/x:1\n"},
		{name: "binary", file: "src/x/deploy/a.bin", content: "\x00https://a.io\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &scanner{root: t.TempDir(), mirrorHost: "10.0.0.9", defaults: map[string]map[string]string{
				"contrib/kubespray/roles/r": {"reg": "docker.io"},
			}}
			s.file(tc.file, []byte(tc.content))
			var got []string
			seen := map[string]bool{}
			for _, h := range s.hits {
				if !seen[h.host] {
					seen[h.host] = true
					got = append(got, strings.Join([]string{strconv.Itoa(h.line), h.host, h.kind}, " "))
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			for _, f := range s.findings() {
				if f.What == "" {
					t.Errorf("%v has no explanation", f)
				}
			}
		})
	}
}

// TestScanRoleDefaults checks that {{ var }} in a role's task resolves
// through the role's defaults/main.yml on disk.
func TestScanRoleDefaults(t *testing.T) {
	dir := fixture(t)
	role := filepath.Join(dir, "contrib", "kubespray", "roles", "requirement", "worker")
	writeFile(t, filepath.Join(role, "defaults", "main.yml"), "openpai_registry: registry.lab.cn\n")
	fs, err := Scan(dir, ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var hosts []string
	for _, f := range fs {
		if strings.HasPrefix(f.Path, "contrib/kubespray/roles/requirement/worker/") {
			hosts = append(hosts, f.Host)
		}
	}
	if strings.Join(hosts, " ") != "registry.lab.cn quay.io" {
		t.Errorf("the worker checks name %v, want registry.lab.cn (the role default) and quay.io", hosts)
	}
}

// TestScanAptMirrored: with the packages the mirror carries, apt updates
// and installs of only those packages are not findings; other installs,
// templated names, upgrades, .deb downloads, keys and repositories still
// are.
func TestScanAptMirrored(t *testing.T) {
	pkgs := map[string]bool{"sshpass": true, "nfs-common": true, "python3": true, "python3-pip": true}
	for _, tc := range []struct {
		name, file, content string
		want                []string // "LINE HOST KIND"
	}{
		{name: "shell update and installs", file: "contrib/kubespray/script/x.sh",
			content: "sudo apt-get -y update\nsudo apt-get -y install python3 python3-pip\napt-get install -y sshpass=1.06-1\napt install -y curl\n",
			want:    []string{"4 archive.ubuntu.com apt"}},
		{name: "shell upgrade", file: "contrib/kubespray/script/x.sh", content: "apt-get -y dist-upgrade\n",
			want: []string{"1 archive.ubuntu.com apt"}},
		{name: "module install and update", file: "contrib/kubespray/x.yml",
			content: "- apt:\n    name:\n      - sshpass\n      - nfs-common\n    update_cache: yes\n- apt: name=sshpass state=present\n- apt:\n    update_cache: yes\n"},
		{name: "module other package", file: "contrib/kubespray/x.yml", content: "- apt:\n    name: nvidia-container-runtime\n",
			want: []string{"1 archive.ubuntu.com apt"}},
		{name: "module templated name", file: "contrib/kubespray/x.yml", content: "- apt:\n    name: \"nvidia-driver-{{ v }}\"\n",
			want: []string{"1 archive.ubuntu.com apt"}},
		{name: "module upgrade", file: "contrib/kubespray/x.yml", content: "- apt:\n    upgrade: dist\n",
			want: []string{"1 archive.ubuntu.com apt"}},
		{name: "module deb url", file: "contrib/kubespray/x.yml", content: "- apt:\n    deb: https://example.io/x.deb\n",
			want: []string{"1 example.io download"}},
		{name: "keys and repositories", file: "contrib/kubespray/x.yml",
			content: "- apt_key:\n    url: https://download.docker.com/linux/ubuntu/gpg\n- apt_repository:\n    repo: ppa:graphics-drivers/ppa\n- apt_key:\n    url: \"{{ docker_ubuntu_repo_gpgkey }}\"\n",
			want:    []string{"1 download.docker.com apt-key", "3 ppa.launchpad.net apt-repo"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := &scanner{root: t.TempDir(), mirrorHost: "10.0.0.9", defaults: map[string]map[string]string{}, aptPackages: pkgs}
			s.file(tc.file, []byte(tc.content))
			var got []string
			seen := map[string]bool{}
			for _, h := range s.hits {
				if !seen[h.host] { // one finding per host, as Scan reports
					seen[h.host] = true
					got = append(got, strings.Join([]string{strconv.Itoa(h.line), h.host, h.kind}, " "))
				}
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}

	// Through Scan: the fixture's apt accesses go with the packages given.
	dir := fixture(t)
	fs, err := Scan(dir, ScanOptions{AptPackages: []string{"sshpass", "python3", "python3-pip"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if f.Host == "archive.ubuntu.com" {
			t.Errorf("apt is still a finding: %v", f)
		}
	}
}

// TestScanDevBoxAndOffPath: a Docker Hub pull on the dev box is a finding
// until the dev box's docker uses the mirror; findings off the default
// install path say why.
func TestScanDevBoxAndOffPath(t *testing.T) {
	const boot = "contrib/kubespray/script/service-boot.sh"
	content := []byte("sudo docker run -itd --name=dev-box openpai/dev-box:v1.8.0\n")
	for _, mirrored := range []bool{false, true} {
		s := &scanner{root: t.TempDir(), mirrorHost: "10.0.0.9", defaults: map[string]map[string]string{}, devBoxDocker: mirrored}
		s.file(boot, content)
		if got := len(s.findings()); got != map[bool]int{false: 1, true: 0}[mirrored] {
			t.Errorf("dev box docker mirrored %v: %d findings %v", mirrored, got, s.findings())
		}
	}
	s := &scanner{root: t.TempDir(), defaults: map[string]map[string]string{}}
	s.file("contrib/kubespray/set-kubectl.yml", []byte("- get_url:\n    url: https://packages.cloud.google.com/apt/doc/apt-key.gpg\n"))
	s.file("src/dshuttle-master/deploy/x.yaml.template", []byte("image: dshuttle.azurecr.io/dshuttle/dshuttle:1\n"))
	s.file("contrib/kubespray/script/environment.sh", []byte("git clone https://github.com/kubernetes-sigs/kubespray.git\n"))
	if n := len(s.findings()); n != 3 {
		t.Fatalf("%d findings, want 3: %v", n, s.findings())
	}
	for _, f := range s.findings() {
		onPath := f.Path == "contrib/kubespray/script/environment.sh"
		if (f.OffPath == "") != onPath {
			t.Errorf("%s: OffPath %q", f.Path, f.OffPath)
		}
	}
}
