package manifests

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func TestEmbeddedNames(t *testing.T) {
	names := EmbeddedNames()
	if !slices.Contains(names, DefaultName) {
		t.Fatalf("EmbeddedNames() = %q, missing %q", names, DefaultName)
	}
	for _, n := range names {
		t.Run(n, func(t *testing.T) {
			m, err := Embedded(n)
			if err != nil {
				t.Fatalf("built-in manifest does not parse:\n%v", err)
			}
			if m.Name != n {
				t.Errorf("manifest %s.yaml is named %q", n, m.Name)
			}
			if m.Source != "embedded:"+n {
				t.Errorf("Source = %q", m.Source)
			}
		})
	}
}

func TestEmbeddedUnknown(t *testing.T) {
	for _, name := range []string{"nope", "", "../manifests/" + DefaultName, DefaultName + ".yaml"} {
		t.Run(name, func(t *testing.T) {
			if _, err := Embedded(name); !errors.Is(err, ErrUnknownManifest) {
				t.Errorf("Embedded(%q) = %v, want ErrUnknownManifest", name, err)
			}
			if _, err := EmbeddedRaw(name); !errors.Is(err, ErrUnknownManifest) || !strings.Contains(err.Error(), DefaultName) {
				t.Errorf("EmbeddedRaw(%q) = %v, want ErrUnknownManifest naming %s", name, err, DefaultName)
			}
		})
	}
}

func TestEmbeddedRaw(t *testing.T) {
	raw, err := EmbeddedRaw(DefaultName)
	if err != nil {
		t.Fatal(err)
	}
	onDisk, err := os.ReadFile(DefaultName + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(raw) != string(onDisk) {
		t.Error("EmbeddedRaw differs from the file")
	}
	if !strings.HasPrefix(string(raw), "# paimirror manifest") {
		t.Error("EmbeddedRaw lost the leading comments")
	}
	raw[0] = 'X'
	if again, _ := EmbeddedRaw(DefaultName); again[0] == 'X' {
		t.Error("EmbeddedRaw returns shared memory")
	}
	if m := Default(); string(m.Raw) != string(onDisk) {
		t.Error("Default().Raw differs from the file")
	}
}

// The facts in docs/openpai-v1.8.0.md that the default manifest must carry.
var (
	kubesprayImages = map[string]string{ // ref -> seed-guide alias
		"quay.io/coreos/etcd:v3.3.10":                               "",
		"docker.io/calico/node:v3.7.3":                              "",
		"docker.io/calico/cni:v3.7.3":                               "",
		"docker.io/calico/kube-controllers:v3.7.3":                  "",
		"gcr.io/google_containers/pause-amd64:3.1":                  "siaimes/pause-amd64:3.1",
		"docker.io/nginx:1.15":                                      "",
		"docker.io/coredns/coredns:1.6.0":                           "",
		"k8s.gcr.io/cluster-proportional-autoscaler-amd64:1.6.0":    "siaimes/cluster-proportional-autoscaler-amd64:1.6.0",
		"gcr.io/google-containers/kube-apiserver:v1.15.11":          "siaimes/kube-apiserver:v1.15.11",
		"gcr.io/google-containers/kube-controller-manager:v1.15.11": "siaimes/kube-controller-manager:v1.15.11",
		"gcr.io/google-containers/kube-scheduler:v1.15.11":          "siaimes/kube-scheduler:v1.15.11",
		"gcr.io/google-containers/kube-proxy:v1.15.11":              "siaimes/kube-proxy:v1.15.11",
		"gcr.io/google-containers/pause:3.1":                        "siaimes/pause:3.1",
	}
	// Default-on mirror names beyond kubespray's: the services, the job
	// runtime, storage and the dev box.
	serviceNames = []string{
		"openpai/internal-storage-create:v1.8.0", "openpai/internal-storage-barrier:v1.8.0",
		"openpai/postgresql:v1.8.0", "openpai/postgresql-init-client:v1.8.0",
		"openpai/rest-server:v1.8.0", "openpai/database-controller:v1.8.0",
		"openpai/webportal:v1.8.0", "openpai/pylon:v1.8.0", "openpai/prometheus:v1.8.0",
		"openpai/alert-handler:v1.8.0", "openpai/cert-expiration-checker:v1.8.0",
		"openpai/grafana:v1.8.0", "openpai/log-manager-cleaner:v1.8.0",
		"openpai/log-manager-nginx:v1.8.0", "openpai/node-exporter:v1.8.0",
		"openpai/job-exporter:v1.8.0", "openpai/watchdog:v1.8.0", "openpai/fluentd:v1.8.0",
		"openpai/kubernetes-dashboard-amd64:v1.8.0", "openpai/marketplace-db:v1.8.0",
		"openpai/pai-marketplace-restserver:v1.8.0", "openpai/pai-marketplace-webportal:v1.8.0",
		"openpai/kube-scheduler:v1.8.0",
		"library/busybox:1.31.1", "prom/alertmanager:v0.15.1",
		"frameworkcontroller/frameworkcontroller:v0.9.0", "hivedscheduler/hivedscheduler:v0.3.4",
		"nvidia/k8s-device-plugin:1.0.0-beta4", "everpeace/k8s-host-device-plugin:latest",
		"openpai/openpai-runtime:v1.8.0", "openpai/storage-manager:v1.8.0", "openpai/dev-box:v1.8.0",
	}
	// Mirror names that must be present only when their group is included.
	onRequestNames = []string{
		"library/registry:2",
		"openpai/job-status-change-notification:v1.8.0", "openpai/cluster-utilization:v1.8.0",
		"openpai/nvidia-gpu-low-perf-fixer:v1.8.0", "openpai/internal-storage-delete:v1.8.0",
		"openpai/cleaning-image:v1.8.0", "openpai/standard:python_3.6-pytorch_1.2.0-gpu",
	}
	docFiles = []struct {
		name, url, sha256, share, alternate string
	}{
		{"kubeadm", "https://storage.googleapis.com/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm",
			"2ebc93a6f64419e5e7f26a4674c6784463c7b2a51c0afe8ec2c0423471e7cec3",
			"/k8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm",
			"https://dl.k8s.io/release/v1.15.11/bin/linux/amd64/kubeadm"},
		{"hyperkube", "https://storage.googleapis.com/kubernetes-release/release/v1.15.11/bin/linux/amd64/hyperkube",
			"25b93bbf65d1cafc2dff34dd547483401e236b840cc73ab8f12269cda98a4f98",
			"/k8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/hyperkube",
			"https://dl.k8s.io/release/v1.15.11/bin/linux/amd64/hyperkube"},
		{"cni", "https://github.com/containernetworking/plugins/releases/download/v0.8.1/cni-plugins-linux-amd64-v0.8.1.tgz",
			"e9bfc78acd3ae71be77eb8f3e890cc9078a33cc3797703b8ff2fc3077a232252",
			"/k8s-share/containernetworking/plugins/releases/download/v0.8.1/cni-plugins-linux-amd64-v0.8.1.tgz", ""},
		{"calicoctl", "https://github.com/projectcalico/calicoctl/releases/download/v3.7.3/calicoctl-linux-amd64",
			"932f68e893e80e95e10f064f1e7745e438d456f41a6ff12d11bb16ca0cab735c",
			"/k8s-share/projectcalico/calicoctl/releases/download/v3.7.3/calicoctl-linux-amd64", ""},
		{"nvidia-device-plugin.yml", "https://raw.githubusercontent.com/NVIDIA/k8s-device-plugin/1.0.0-beta4/nvidia-device-plugin.yml",
			"", "/k8s-share/NVIDIA/k8s-device-plugin/1.0.0-beta4/nvidia-device-plugin.yml", ""},
	}
)

// The dev box's pip installs (docs/openpai-v1.8.0.md, "Every internet
// access", item 1) and the Ubuntu releases pai v1.8.0 supports as a dev box,
// each with its python3 and glibc: the one statement of them in Go, checked
// against the embedded manifest (bundle's tests check that bundle/pypi
// reads that section as written).
var (
	devboxInstalls = []PythonInstall{
		{Name: "pip", Requirements: []string{"pip==20.3.4"}},
		{Name: "paramiko", Requirements: []string{"paramiko"}},
		{Name: "openpai", Requirements: []string{"kubernetes==12.0.0", "schema==0.7.2", "jinja2==2.11.2"}},
		{Name: "kubespray requirements.txt", Requirements: []string{"ansible==2.7.12", "jinja2==2.10.1", "netaddr==0.7.19",
			"pbr==5.2.0", "hvac==0.8.2", "jmespath==0.9.4", "ruamel.yaml==0.15.96"}},
		{Name: "ansible", Requirements: []string{"ansible==2.9.7"}},
	}
	devboxTargets = []PythonTarget{
		{Name: "ubuntu-16.04", Python: "3.5", PythonFull: "3.5.2", Platform: "manylinux_x86_64", Glibc: "2.23"},
		{Name: "ubuntu-18.04", Python: "3.6", PythonFull: "3.6.9", Platform: "manylinux_x86_64", Glibc: "2.27"},
		{Name: "ubuntu-20.04", Python: "3.8", PythonFull: "3.8.10", Platform: "manylinux_x86_64", Glibc: "2.31"},
	}
)

// The apt entries: what kubespray release-2.11 (commit 67167bd8),
// pai v1.8.0's pre-installation.yml, environment.sh and requirement check,
// and the seed guide install with apt, per Ubuntu release.
var (
	ubuntuKeyURL = "http://archive.ubuntu.com/ubuntu/project/ubuntu-archive-keyring.gpg"
	// Ubuntu Archive Automatic Signing Key (2012).
	ubuntuKey    = "790BC7277767219C42C86F933B4FE6ACC0B21F32"
	dockerKeyURL = "https://download.docker.com/linux/ubuntu/gpg"
	// kubespray's docker_repo_key_info.repo_keys.
	dockerKey = "9DC858229FC7DD38854AE2D88D81803C0EBFCD88"
	// kubespray's required_pkgs less python-apt, python3-apt for its
	// python3 interpreter, common_required_pkgs and ipvs's two; sshpass
	// (pai); ntp, unzip, nfs-common (the guide); the dev box's list
	// (environment.sh); dbus, which kubespray's bootstrap-os installs for
	// the hostname module.
	aptCommon = []string{"python3-apt", "aufs-tools", "apt-transport-https", "software-properties-common", "ebtables",
		"openssl", "curl", "rsync", "socat", "unzip", "e2fsprogs", "xfsprogs", "ipvsadm", "ipset",
		"sshpass", "ntp", "nfs-common", "python3", "python3-dev", "python3-pip", "dbus"}
	ubuntuSuites = func(codename string) []string {
		return []string{codename, codename + "-updates", codename + "-security"}
	}
	aptEntries = []struct {
		name, target, url   string
		suites, components  []string
		keyURL, fingerprint string
		sources             bool
		group               string
		packages, absent    []string
	}{
		{"ubuntu-bionic", "ubuntu-18.04", "http://archive.ubuntu.com/ubuntu", ubuntuSuites("bionic"), []string{"main", "universe"},
			ubuntuKeyURL, ubuntuKey, true, "ubuntu-18.04", append([]string{"python-minimal", "python-apt"}, aptCommon...), nil},
		{"docker-bionic", "ubuntu-18.04", "https://download.docker.com/linux/ubuntu", []string{"bionic"}, []string{"stable"},
			dockerKeyURL, dockerKey, false, "ubuntu-18.04",
			[]string{"docker-ce=5:18.09.7~3-0~ubuntu-bionic", "docker-ce-cli", "containerd.io"}, nil},
		{"ubuntu-xenial", "ubuntu-16.04", "http://archive.ubuntu.com/ubuntu", ubuntuSuites("xenial"), []string{"main", "universe"},
			ubuntuKeyURL, ubuntuKey, true, "ubuntu-16.04", append([]string{"python-minimal", "python-apt"}, aptCommon...), nil},
		{"docker-xenial", "ubuntu-16.04", "https://download.docker.com/linux/ubuntu", []string{"xenial"}, []string{"stable"},
			dockerKeyURL, dockerKey, false, "ubuntu-16.04",
			[]string{"docker-ce=5:18.09.7~3-0~ubuntu-xenial", "docker-ce-cli", "containerd.io"}, nil},
		// 20.04 has no Python 2: pai installs "python", and python-apt is
		// gone (python3-apt instead).
		{"ubuntu-focal", "ubuntu-20.04", "http://archive.ubuntu.com/ubuntu", ubuntuSuites("focal"), []string{"main", "universe"},
			ubuntuKeyURL, ubuntuKey, true, "ubuntu-20.04", append([]string{"python"}, aptCommon...),
			[]string{"python-minimal", "python-apt"}},
		// No docker-ce 18.09 exists for focal.
		{"docker-focal", "ubuntu-20.04", "https://download.docker.com/linux/ubuntu", []string{"focal"}, []string{"stable"},
			dockerKeyURL, dockerKey, false, "ubuntu-20.04",
			[]string{"docker-ce=5:19.03.15~3-0~ubuntu-focal", "docker-ce-cli=5:19.03.15~3-0~ubuntu-focal", "containerd.io"}, nil},
	}
)

func mirrorNames(m *Manifest) []string {
	var names []string
	for _, img := range m.Images {
		names = append(names, img.MirrorNames()...)
	}
	return names
}

func TestDefaultManifest(t *testing.T) {
	m := Default()
	if m.Name != DefaultName {
		t.Errorf("Name = %q", m.Name)
	}
	selected, err := m.Select(nil, nil)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("kubespray images", func(t *testing.T) {
		found := 0
		for _, img := range selected.Images {
			alias, ok := kubesprayImages[img.Ref]
			if !ok {
				continue
			}
			found++
			want := []string{mustMirrorName(t, img.Ref)}
			if alias != "" {
				want = append(want, alias)
			}
			if got := img.MirrorNames(); !slices.Equal(got, want) {
				t.Errorf("%s: MirrorNames() = %q, want %q", img.Ref, got, want)
			}
			if !slices.Equal(img.Groups, []string{"kubespray"}) {
				t.Errorf("%s: groups %q, want [kubespray]", img.Ref, img.Groups)
			}
		}
		if found != len(kubesprayImages) {
			t.Errorf("found %d of the %d kubespray images, written exactly as kubespray names them", found, len(kubesprayImages))
		}
	})

	t.Run("default-on images", func(t *testing.T) {
		names := mirrorNames(selected)
		for _, n := range serviceNames {
			if !slices.Contains(names, n) {
				t.Errorf("%s is missing from a default build", n)
			}
		}
		for _, n := range onRequestNames {
			if slices.Contains(names, n) {
				t.Errorf("%s is in a default build; it is only needed on request", n)
			}
		}
		if n, want := len(selected.Images), len(kubesprayImages)+len(serviceNames); n != want {
			t.Errorf("a default build has %d images, want %d", n, want)
		}
	})

	t.Run("on-request images", func(t *testing.T) {
		var off []string
		for _, g := range m.Groups {
			if !g.Default {
				off = append(off, g.Name)
			}
		}
		all, err := m.Select(off, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(all.Images) != len(m.Images) || len(all.Files) != len(m.Files) || len(all.Apt) != len(m.Apt) {
			t.Errorf("including every group keeps %d/%d images, %d/%d files, %d/%d apt entries",
				len(all.Images), len(m.Images), len(all.Files), len(m.Files), len(all.Apt), len(m.Apt))
		}
		names := mirrorNames(all)
		for _, n := range onRequestNames {
			if !slices.Contains(names, n) {
				t.Errorf("%s is missing", n)
			}
		}
	})

	t.Run("files", func(t *testing.T) {
		for _, want := range docFiles {
			i := slices.IndexFunc(selected.Files, func(f File) bool { return f.URL == want.url })
			if i < 0 {
				t.Errorf("%s (%s) is missing from a default build", want.name, want.url)
				continue
			}
			f := selected.Files[i]
			if f.DisplayName() != want.name {
				t.Errorf("%s: DisplayName() = %q", want.url, f.DisplayName())
			}
			if f.SHA256 != want.sha256 {
				t.Errorf("%s: sha256 %q, want %q", want.name, f.SHA256, want.sha256)
			}
			if want.sha256 == "" && f.NoChecksum == "" {
				t.Errorf("%s: no_checksum gives no reason", want.name)
			}
			if !slices.Contains(f.MirrorPaths(), want.share) {
				t.Errorf("%s: MirrorPaths() = %q, missing %s", want.name, f.MirrorPaths(), want.share)
			}
			if want.alternate != "" && !slices.Contains(f.Alternates, want.alternate) {
				t.Errorf("%s: alternates %q, missing %s", want.name, f.Alternates, want.alternate)
			}
		}
		// The doc's files, and the two dev-box source archives.
		if len(selected.Files) != len(docFiles)+2 {
			t.Errorf("a default build has %d files, want %d", len(selected.Files), len(docFiles)+2)
		}
	})

	t.Run("python", func(t *testing.T) {
		py := selected.Python
		if py == nil {
			t.Fatal("a default build has no python section")
		}
		if py.Index != "https://pypi.org" || py.Simple != "" {
			t.Errorf("index %q, simple %q; want PyPI's JSON API", py.Index, py.Simple)
		}
		if !slices.Equal(py.Groups, []string{"devbox-python"}) {
			t.Errorf("groups %q, want [devbox-python]", py.Groups)
		}
		if !slices.EqualFunc(py.Targets, devboxTargets, func(a, b PythonTarget) bool { a.Line = 0; return a == b }) {
			t.Errorf("targets %+v\nwant %+v", py.Targets, devboxTargets)
		}
		if len(py.Installs) != len(devboxInstalls) {
			t.Fatalf("%d installs, want %d", len(py.Installs), len(devboxInstalls))
		}
		for i, want := range devboxInstalls {
			got := py.Installs[i]
			if got.Name != want.Name || !slices.Equal(got.Requirements, want.Requirements) {
				t.Errorf("install %d = %s %q, want %s %q", i, got.Name, got.Requirements, want.Name, want.Requirements)
			}
		}
		without, err := m.Select(nil, []string{"devbox-python"})
		if err != nil {
			t.Fatal(err)
		}
		if without.Python != nil || len(without.Images) != len(selected.Images) || len(without.Files) != len(selected.Files) {
			t.Errorf("--exclude devbox-python keeps python %v, %d images, %d files", without.Python != nil, len(without.Images), len(without.Files))
		}
	})

	t.Run("apt", func(t *testing.T) {
		for _, g := range []struct {
			name string
			on   bool
		}{{"ubuntu-18.04", true}, {"ubuntu-16.04", false}, {"ubuntu-20.04", false}, {"nvidia-runtime", true}} {
			i := slices.IndexFunc(m.Groups, func(x Group) bool { return x.Name == g.name })
			if i < 0 {
				t.Errorf("group %s is not declared", g.name)
			} else if m.Groups[i].Default != g.on {
				t.Errorf("group %s: default %v, want %v", g.name, m.Groups[i].Default, g.on)
			}
		}
		if len(m.Apt) != len(aptEntries)+1 {
			t.Errorf("%d apt entries, want %d and NVIDIA's", len(m.Apt), len(aptEntries))
		}
		// NVIDIA's flat repository, for GPU workers, with 18.04 only.
		nv := slices.IndexFunc(m.Apt, func(a Apt) bool { return a.Name == "nvidia-container" })
		if nv < 0 {
			t.Error("apt entry nvidia-container is missing")
		} else if a := m.Apt[nv]; !a.Flat || a.Target != "ubuntu-18.04" || !slices.Equal(a.Groups, []string{"ubuntu-18.04", "nvidia-runtime"}) ||
			a.URL != "https://nvidia.github.io/libnvidia-container/stable/deb/amd64" || a.Key.URL != "https://nvidia.github.io/libnvidia-container/gpgkey" ||
			strings.ReplaceAll(a.Key.Fingerprint, " ", "") != "C95B321B61E88C1809C4F759DDCAE044F796ECB0" ||
			!slices.Equal(a.Packages, []string{"nvidia-container-runtime"}) || !a.Sources {
			t.Errorf("nvidia-container = %+v", a)
		}
		// A default build carries nvidia-container-runtime, for prepare to
		// install on GPU workers (the seed guide's step 5); --exclude
		// nvidia-runtime leaves it out.
		if i := slices.IndexFunc(selected.Apt, func(a Apt) bool { return a.Name == "nvidia-container" }); i < 0 ||
			!slices.Contains(selected.Apt[i].Packages, "nvidia-container-runtime") || !selected.Apt[i].Sources {
			t.Errorf("a default build lacks nvidia-container-runtime in the machines' sources: %+v", selected.Apt)
		}
		noGPU, err := m.Select(nil, []string{"nvidia-runtime"})
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(noGPU.Apt, func(a Apt) bool { return a.Name == "nvidia-container" }) {
			t.Errorf("--exclude nvidia-runtime keeps nvidia-container")
		}
		for _, want := range aptEntries {
			i := slices.IndexFunc(m.Apt, func(a Apt) bool { return a.Name == want.name })
			if i < 0 {
				t.Errorf("apt entry %s is missing", want.name)
				continue
			}
			a := m.Apt[i]
			if a.Target != want.target || a.URL != want.url || !slices.Equal(a.Suites, want.suites) ||
				!slices.Equal(a.Components, want.components) || !slices.Equal(a.Groups, []string{want.group}) {
				t.Errorf("%s: target %s, url %s, suites %q, components %q, groups %q; want %s, %s, %q, %q, [%s]",
					a.Name, a.Target, a.URL, a.Suites, a.Components, a.Groups, want.target, want.url, want.suites, want.components, want.group)
			}
			if !slices.Equal(a.ArchitectureList(), []string{"amd64"}) || len(a.Architectures) != 0 {
				t.Errorf("%s: architectures %q; leave them to the amd64 default", a.Name, a.Architectures)
			}
			if a.Key.URL != want.keyURL || strings.ReplaceAll(a.Key.Fingerprint, " ", "") != want.fingerprint {
				t.Errorf("%s: key %s %q, want %s %s", a.Name, a.Key.URL, a.Key.Fingerprint, want.keyURL, want.fingerprint)
			}
			if a.Sources != want.sources {
				t.Errorf("%s: sources %v, want %v", a.Name, a.Sources, want.sources)
			}
			for _, p := range want.packages {
				if !slices.Contains(a.Packages, p) {
					t.Errorf("%s: packages %q, missing %s", a.Name, a.Packages, p)
				}
			}
			for _, p := range want.absent {
				if slices.Contains(a.Packages, p) {
					t.Errorf("%s: lists %s, which the release does not have", a.Name, p)
				}
			}
		}

		// The mirror serves the trees and keys at their upstream paths.
		ubuntu, docker := m.Apt[0], m.Apt[1]
		if ubuntu.MirrorPrefix() != "/archive.ubuntu.com/ubuntu" || ubuntu.Key.KeyPath() != "/archive.ubuntu.com/ubuntu/project/ubuntu-archive-keyring.gpg" {
			t.Errorf("%s: served at %s, key at %s", ubuntu.Name, ubuntu.MirrorPrefix(), ubuntu.Key.KeyPath())
		}
		if docker.MirrorPrefix() != "/download.docker.com/linux/ubuntu" || docker.Key.KeyPath() != "/download.docker.com/linux/ubuntu/gpg" {
			t.Errorf("%s: served at %s, key at %s", docker.Name, docker.MirrorPrefix(), docker.Key.KeyPath())
		}

		names := func(mm *Manifest) []string {
			var out []string
			for _, a := range mm.Apt {
				out = append(out, a.Name)
			}
			return out
		}
		if got := names(selected); !slices.Equal(got, []string{"ubuntu-bionic", "docker-bionic", "nvidia-container"}) {
			t.Errorf("a default build has apt entries %q, want only 18.04's", got)
		}
		xenial, err := m.Select([]string{"ubuntu-16.04"}, []string{"ubuntu-18.04"})
		if err != nil {
			t.Fatal(err)
		}
		if got := names(xenial); !slices.Equal(got, []string{"ubuntu-xenial", "docker-xenial"}) {
			t.Errorf("--include ubuntu-16.04 --exclude ubuntu-18.04 gives apt entries %q", got)
		}
		if len(xenial.Images) != len(selected.Images) || len(xenial.Files) != len(selected.Files) || xenial.Python == nil {
			t.Errorf("the ubuntu groups hold more than apt entries: %d images, %d files, python %v", len(xenial.Images), len(xenial.Files), xenial.Python != nil)
		}
	})

	t.Run("every file has a k8s-share path", func(t *testing.T) {
		for _, f := range m.Files {
			if slices.Contains(f.Groups, "devbox-sources") {
				continue // never on k8s-share: the guide clones these
			}
			up, _ := upstreamPath(f.URL)
			_, rest, _ := strings.Cut(strings.TrimPrefix(up, "/"), "/")
			if want := "/k8s-share/" + rest; !slices.Contains(f.Paths, want) {
				t.Errorf("%s: paths %q, missing %s", f.DisplayName(), f.Paths, want)
			}
		}
	})

	t.Run("mirror names are unique", func(t *testing.T) {
		names := mirrorNames(m)
		seen := map[string]bool{}
		for _, n := range names {
			if seen[n] {
				t.Errorf("mirror name %s appears twice", n)
			}
			seen[n] = true
		}
	})

	t.Run("platforms and groups", func(t *testing.T) {
		used := map[string]bool{}
		for _, img := range m.Images {
			if len(img.Platforms) != 0 || !slices.Equal(img.PlatformList(), []string{"linux/amd64"}) {
				t.Errorf("%s: platforms %q; leave them to the linux/amd64 default", img.Ref, img.Platforms)
			}
			if len(img.Groups) == 0 {
				t.Errorf("%s has no group", img.Ref)
			}
			for _, g := range img.Groups {
				used[g] = true
			}
		}
		for _, f := range m.Files {
			for _, g := range f.Groups {
				used[g] = true
			}
		}
		if m.Python != nil {
			for _, g := range m.Python.Groups {
				used[g] = true
			}
		}
		for _, a := range m.Apt {
			if len(a.Groups) == 0 {
				t.Errorf("apt entry %s has no group", a.Name)
			}
			for _, g := range a.Groups {
				used[g] = true
			}
		}
		for _, g := range m.Groups {
			if !used[g.Name] {
				t.Errorf("group %s is declared but unused", g.Name)
			}
			if g.Description == "" {
				t.Errorf("group %s has no description", g.Name)
			}
		}
	})
}

func mustMirrorName(t *testing.T, ref string) string {
	t.Helper()
	n, err := MirrorName(ref)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
