package bundle

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/manifests"
)

// mustMirrors parses FROM=TO strings.
func mustMirrors(t *testing.T, specs ...string) []Mirror {
	t.Helper()
	var out []Mirror
	for _, s := range specs {
		m, err := ParseMirror(s)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
	return out
}

func TestParseMirror(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		from, to string
		err      string // substring of the error; "" for none
	}{
		{name: "registry", in: "docker.io=docker.m.daocloud.io", from: "docker.io", to: "docker.m.daocloud.io"},
		{name: "registry with path", in: "gcr.io/google-containers=registry.k8s.io", from: "gcr.io/google-containers", to: "registry.k8s.io"},
		{name: "TO with path", in: "gcr.io/google-containers=registry.k8s.io/mirror/", from: "gcr.io/google-containers", to: "registry.k8s.io/mirror"},
		{name: "docker hub spellings", in: " Index.Docker.io/library/ = http://127.0.0.5:5000/hub ", from: "docker.io/library", to: "http://127.0.0.5:5000/hub"},
		{name: "registry-1.docker.io", in: "registry-1.docker.io=reg.example.cn", from: "docker.io", to: "reg.example.cn"},
		{name: "url", in: "HTTPS://GitHub.com/=https://files.m.daocloud.io/github.com/", from: "https://github.com", to: "https://files.m.daocloud.io/github.com"},
		{name: "url with path", in: "http://archive.ubuntu.com/ubuntu=http://127.0.0.5/Ubuntu", from: "http://archive.ubuntu.com/ubuntu", to: "http://127.0.0.5/Ubuntu"},
		{name: "url to a proxy path", in: "https://github.com=https://ghproxy.example.cn/https://github.com", from: "https://github.com", to: "https://ghproxy.example.cn/https://github.com"},
		{name: "no equals", in: "nonsense", err: "want FROM=TO"},
		{name: "empty TO", in: "docker.io=", err: "want FROM=TO"},
		{name: "uppercase path", in: "gcr.io/Google=registry.k8s.io", err: `"Google" is not valid`},
		{name: "tag in FROM", in: "quay.io/coreos/etcd:v3=reg.example.cn", err: `"etcd:v3" is not valid`},
		{name: "bad TO path", in: "gcr.io=reg.example.cn/a//b", err: `"" is not valid`},
		{name: "registry to ftp", in: "gcr.io=ftp://reg.example.cn", err: "registry host"},
		{name: "url to registry", in: "https://github.com=files.example.cn", err: "URL prefix maps to a URL prefix"},
		{name: "ftp url", in: "ftp://example.com=https://example.cn", err: "not an http:// or https:// URL"},
		{name: "url with query", in: "https://example.com/?a=b=https://example.cn", err: "not a URL prefix"},
		{name: "url with empty query", in: "https://example.com/?=https://example.cn", err: "not a URL prefix"},
		{name: "url TO with fragment", in: "https://example.com=https://example.cn/#x", err: "not a URL prefix"},
		{name: "url without host", in: "https:///x=https://example.cn", err: "not a URL prefix"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := ParseMirror(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseMirror(%q) = %+v, %v; want an error with %q", tc.in, m, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if m.From != tc.from || m.To != tc.to || m.Preset != "" {
				t.Errorf("ParseMirror(%q) = %+v, want From %q To %q", tc.in, m, tc.from, tc.to)
			}
		})
	}
}

func TestMirrorHost(t *testing.T) {
	tests := []struct{ spec, host string }{
		{"docker.io=docker.m.daocloud.io", "docker.m.daocloud.io"},
		{"gcr.io/google-containers=Registry.K8s.io/mirror", "registry.k8s.io"},
		{"docker.io=http://127.0.0.5:5000/hub", "127.0.0.5:5000"},
		{"https://github.com=https://files.m.daocloud.io/github.com", "files.m.daocloud.io"},
		{"https://pypi.org=https://user:secret@pypi.example.cn/simple", "pypi.example.cn"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			if got := mustMirrors(t, tc.spec)[0].Host(); got != tc.host {
				t.Errorf("Host() = %q, want %q", got, tc.host)
			}
		})
	}
}

func TestImageSources(t *testing.T) {
	tests := []struct {
		name       string
		mirrors    []string
		registry   string
		repository string
		want       []string // scheme://name of each source, the origin last
		wantFrom   []string // From of each source's mirror ("" for the origin)
		err        string
	}{{
		name:     "no mirror",
		registry: "quay.io", repository: "coreos/etcd",
		want: []string{"https://quay.io/coreos/etcd"}, wantFrom: []string{""},
	}, {
		name:     "registry host",
		mirrors:  []string{"quay.io=quay.m.daocloud.io"},
		registry: "quay.io", repository: "coreos/etcd",
		want:     []string{"https://quay.m.daocloud.io/coreos/etcd", "https://quay.io/coreos/etcd"},
		wantFrom: []string{"quay.io", ""},
	}, {
		name:     "path dropped",
		mirrors:  []string{"gcr.io/google-containers=registry.k8s.io"},
		registry: "gcr.io", repository: "google-containers/kube-apiserver",
		want:     []string{"https://registry.k8s.io/kube-apiserver", "https://gcr.io/google-containers/kube-apiserver"},
		wantFrom: []string{"gcr.io/google-containers", ""},
	}, {
		name:     "path replaced by TO's",
		mirrors:  []string{"gcr.io/google-containers=registry.k8s.io/mirror"},
		registry: "gcr.io", repository: "google-containers/pause",
		want:     []string{"https://registry.k8s.io/mirror/pause", "https://gcr.io/google-containers/pause"},
		wantFrom: []string{"gcr.io/google-containers", ""},
	}, {
		name:     "host to host",
		mirrors:  []string{"k8s.gcr.io=registry.k8s.io"},
		registry: "k8s.gcr.io", repository: "cluster-proportional-autoscaler-amd64",
		want:     []string{"https://registry.k8s.io/cluster-proportional-autoscaler-amd64", "https://k8s.gcr.io/cluster-proportional-autoscaler-amd64"},
		wantFrom: []string{"k8s.gcr.io", ""},
	}, {
		name:     "whole path elements only",
		mirrors:  []string{"gcr.io/google-containers=registry.k8s.io", "gcr.io/google=reg.example.cn"},
		registry: "gcr.io", repository: "google-containersx/pause",
		want: []string{"https://gcr.io/google-containersx/pause"}, wantFrom: []string{""},
	}, {
		name:     "FROM names the repository",
		mirrors:  []string{"quay.io/coreos/etcd=reg.example.cn/etcd"},
		registry: "quay.io", repository: "coreos/etcd",
		want:     []string{"https://reg.example.cn/etcd", "https://quay.io/coreos/etcd"},
		wantFrom: []string{"quay.io/coreos/etcd", ""},
	}, {
		name:     "FROM names the repository, TO has no path",
		mirrors:  []string{"quay.io/coreos/etcd=reg.example.cn"},
		registry: "quay.io", repository: "coreos/etcd",
		err: "no repository",
	}, {
		name: "longest FROM first, then in order",
		mirrors: []string{
			"gcr.io=gcr.m.daocloud.io",
			"gcr.io/google-containers=k8s.m.daocloud.io",
			"gcr.io=http://127.0.0.5:5000/gcr",
			"gcr.io/google-containers/pause=reg.example.cn/pause",
			"gcr.io/google-containers=registry.k8s.io",
			"quay.io=quay.m.daocloud.io",
		},
		registry: "gcr.io", repository: "google-containers/pause",
		want: []string{
			"https://reg.example.cn/pause",
			"https://k8s.m.daocloud.io/pause",
			"https://registry.k8s.io/pause",
			"https://gcr.m.daocloud.io/google-containers/pause",
			"http://127.0.0.5:5000/gcr/google-containers/pause",
			"https://gcr.io/google-containers/pause",
		},
		wantFrom: []string{"gcr.io/google-containers/pause", "gcr.io/google-containers", "gcr.io/google-containers", "gcr.io", "gcr.io", ""},
	}, {
		name:     "plain HTTP TO",
		mirrors:  []string{"docker.io=http://127.0.0.1:5000/hub"},
		registry: "docker.io", repository: "calico/node",
		want:     []string{"http://127.0.0.1:5000/hub/calico/node", "https://index.docker.io/calico/node"},
		wantFrom: []string{"docker.io", ""},
	}, {
		name:     "docker.io/library for an official image",
		mirrors:  []string{"docker.io/library=reg.example.cn/official", "docker.io=docker.m.daocloud.io"},
		registry: "docker.io", repository: "library/busybox",
		want:     []string{"https://reg.example.cn/official/busybox", "https://docker.m.daocloud.io/library/busybox", "https://index.docker.io/library/busybox"},
		wantFrom: []string{"docker.io/library", "docker.io", ""},
	}, {
		name:     "docker.io/library with Docker Hub spelled otherwise and library implicit",
		mirrors:  []string{"index.docker.io/library=reg.example.cn/official"},
		registry: "registry-1.docker.io", repository: "busybox",
		want:     []string{"https://reg.example.cn/official/busybox", "https://index.docker.io/library/busybox"},
		wantFrom: []string{"docker.io/library", ""},
	}, {
		name:     "docker.io/library does not match other namespaces",
		mirrors:  []string{"docker.io/library=reg.example.cn/official"},
		registry: "docker.io", repository: "calico/node",
		want: []string{"https://index.docker.io/calico/node"}, wantFrom: []string{""},
	}, {
		name:     "a place listed twice, or the origin, is left out",
		mirrors:  []string{"quay.io=quay.m.daocloud.io", "quay.io=https://quay.m.daocloud.io/", "quay.io/coreos=quay.io/coreos"},
		registry: "quay.io", repository: "coreos/etcd",
		want:     []string{"https://quay.m.daocloud.io/coreos/etcd", "https://quay.io/coreos/etcd"},
		wantFrom: []string{"quay.io", ""},
	}, {
		name:     "URL mirrors are not registry mirrors",
		mirrors:  []string{"https://quay.io=https://quay.example.cn"},
		registry: "quay.io", repository: "coreos/etcd",
		want: []string{"https://quay.io/coreos/etcd"}, wantFrom: []string{""},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srcs, err := imageSources(mustMirrors(t, tc.mirrors...), tc.registry, tc.repository)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("imageSources = %v, %v; want an error with %q", srcs, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got, from []string
			for _, s := range srcs {
				got = append(got, s.repo.Scheme()+"://"+s.String())
				from = append(from, s.mirror.From)
				if s.host() != s.repo.RegistryStr() {
					t.Errorf("%s: host() = %q", s, s.host())
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("sources:\n got %q\nwant %q", got, tc.want)
			}
			if !slices.Equal(from, tc.wantFrom) {
				t.Errorf("mirror Froms:\n got %q\nwant %q", from, tc.wantFrom)
			}
		})
	}
}

// TestImageSourcesUpstream checks imageSources with what
// manifests.Image.Upstream gives for the ways an image can be written.
func TestImageSourcesUpstream(t *testing.T) {
	mirrors := mustMirrors(t, "docker.io/library=reg.example.cn/official")
	for _, ref := range []string{"busybox:1.31.1", "docker.io/busybox:1.31.1", "index.docker.io/library/busybox:1.31.1", "registry-1.docker.io/library/busybox:1.31.1"} {
		t.Run(ref, func(t *testing.T) {
			registry, repository, _ := manifests.Image{Ref: ref}.Upstream()
			srcs, err := imageSources(mirrors, registry, repository)
			if err != nil {
				t.Fatal(err)
			}
			if len(srcs) != 2 || srcs[0].String() != "reg.example.cn/official/busybox" || srcs[1].String() != "index.docker.io/library/busybox" {
				t.Errorf("Upstream() = %s %s; sources %v", registry, repository, srcs)
			}
		})
	}
}

func TestFileSources(t *testing.T) {
	const kubeadm = "https://storage.googleapis.com/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm"
	const kubeadmAlt = "https://dl.k8s.io/release/v1.15.11/bin/linux/amd64/kubeadm"
	const kubespray = "https://github.com/kubernetes-sigs/kubespray/archive/67167bd.tar.gz"
	tests := []struct {
		name    string
		mirrors []string
		urls    []string
		want    []string
	}{{
		name: "no mirror", urls: []string{kubespray}, want: []string{kubespray},
	}, {
		name:    "host prefix",
		mirrors: []string{"https://github.com=https://files.m.daocloud.io/github.com"},
		urls:    []string{kubespray},
		want:    []string{"https://files.m.daocloud.io/github.com/kubernetes-sigs/kubespray/archive/67167bd.tar.gz", kubespray},
	}, {
		name: "longest FROM first, then in order",
		mirrors: []string{
			"https://github.com=https://a.example.cn/gh",
			"https://github.com/kubernetes-sigs=http://b.example.cn/k8s-sigs",
			"https://github.com=https://c.example.cn/gh",
		},
		urls: []string{kubespray},
		want: []string{
			"http://b.example.cn/k8s-sigs/kubespray/archive/67167bd.tar.gz",
			"https://a.example.cn/gh/kubernetes-sigs/kubespray/archive/67167bd.tar.gz",
			"https://c.example.cn/gh/kubernetes-sigs/kubespray/archive/67167bd.tar.gz",
			kubespray,
		},
	}, {
		name:    "whole path elements only",
		mirrors: []string{"https://github.com/kubernetes-sig=https://a.example.cn", "https://github.co=https://b.example.cn"},
		urls:    []string{kubespray},
		want:    []string{kubespray},
	}, {
		name:    "path rewritten, alternates, each place once",
		mirrors: []string{"https://storage.googleapis.com/kubernetes-release=https://files.m.daocloud.io/dl.k8s.io", "https://dl.k8s.io=https://files.m.daocloud.io/dl.k8s.io"},
		urls:    []string{kubeadm, kubeadmAlt},
		want:    []string{"https://files.m.daocloud.io/dl.k8s.io/release/v1.15.11/bin/linux/amd64/kubeadm", kubeadm, kubeadmAlt},
	}, {
		name:    "the prefix itself and a query",
		mirrors: []string{"https://pypi.org=https://pypi.tuna.tsinghua.edu.cn"},
		urls:    []string{"https://pypi.org", "https://pypi.org?x=1"},
		want:    []string{"https://pypi.tuna.tsinghua.edu.cn", "https://pypi.org", "https://pypi.tuna.tsinghua.edu.cn?x=1", "https://pypi.org?x=1"},
	}, {
		name:    "scheme and host without case, path with",
		mirrors: []string{"HTTP://Archive.Ubuntu.com/ubuntu=http://127.0.0.5/ubuntu"},
		urls:    []string{"http://ARCHIVE.ubuntu.com/ubuntu/dists/bionic/InRelease", "http://archive.ubuntu.com/Ubuntu/dists/bionic/InRelease"},
		want:    []string{"http://127.0.0.5/ubuntu/dists/bionic/InRelease", "http://ARCHIVE.ubuntu.com/ubuntu/dists/bionic/InRelease", "http://archive.ubuntu.com/Ubuntu/dists/bionic/InRelease"},
	}, {
		name:    "scheme must match",
		mirrors: []string{"https://archive.ubuntu.com=https://mirrors.example.cn"},
		urls:    []string{"http://archive.ubuntu.com/ubuntu"},
		want:    []string{"http://archive.ubuntu.com/ubuntu"},
	}, {
		name:    "registry mirrors are not URL mirrors",
		mirrors: []string{"github.com=reg.example.cn"},
		urls:    []string{kubespray},
		want:    []string{kubespray},
	}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := fileSources(mustMirrors(t, tc.mirrors...), tc.urls)
			if !slices.Equal(got, tc.want) {
				t.Errorf("fileSources:\n got %q\nwant %q", got, tc.want)
			}
		})
	}
}

func TestParseMirrors(t *testing.T) {
	tests := []struct {
		name string
		data string
		want []string // From=To
		err  string
	}{
		{name: "empty", data: "", want: nil},
		{name: "comments and blanks", data: "# a list\n\n  docker.io=docker.m.daocloud.io  # DaoCloud\r\nhttps://github.com=https://files.m.daocloud.io/github.com\n", want: []string{"docker.io=docker.m.daocloud.io", "https://github.com=https://files.m.daocloud.io/github.com"}},
		{name: "bad line", data: "docker.io=docker.m.daocloud.io\n\nnonsense\n", err: `line 3: mirror "nonsense": want FROM=TO`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ms, err := ParseMirrors([]byte(tc.data), "mylist")
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseMirrors = %v, %v; want an error with %q", ms, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range ms {
				got = append(got, m.From+"="+m.To)
				if m.Preset != "mylist" {
					t.Errorf("%s: Preset %q", m.From, m.Preset)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

// checkManifest holds one of each kind of source CheckMirrors knows.
const checkManifest = `name: check
groups:
  - name: py
images:
  - ref: busybox:1.31.1
  - ref: gcr.io/google-containers/kube-apiserver:v1.15.11
  - ref: gcr.io/google_containers/pause-amd64:3.1
  - ref: quay.io/coreos/etcd:v3.3.10
files:
  - url: https://storage.googleapis.com/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm
    alternates: [https://dl.k8s.io/release/v1.15.11/bin/linux/amd64/kubeadm]
    sha256: 2ebc93a6f64419e5e7f26a4674c6784463c7b2a51c0afe8ec2c0423471e7cec3
  - url: https://github.com/kubernetes-sigs/kubespray/archive/67167bd8d292b67e9c8bceccbc8fb230d05bd2ba.tar.gz
    no_checksum: none published
python:
  index: https://pypi.org
  groups: [py]
  targets:
    - name: ubuntu-18.04
      python: "3.6"
      platform: manylinux_x86_64
  installs:
    - name: tools
      requirements: [paramiko]
apt:
  - name: ubuntu-bionic
    target: ubuntu-18.04
    url: http://archive.ubuntu.com/ubuntu
    suites: [bionic]
    components: [main]
    key:
      url: https://keys.example.org/ubuntu-archive-keyring.gpg
      fingerprint: 790B C727 7767 219C 42C8 6F93 3B4F E6AC C0B2 1F32
    packages: [curl]
`

func TestCheckMirrors(t *testing.T) {
	m, err := manifests.Parse("check.yaml", []byte(checkManifest))
	if err != nil {
		t.Fatal(err)
	}
	noPython, err := m.Select(nil, []string{"py"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		manifest  *manifests.Manifest
		mirrors   []string
		preset    []string // parsed as preset "cn"
		unmatched []string // Froms named by the error, in order
		msg       []string // substrings of the message
	}{
		{name: "none", manifest: m},
		{name: "registries", manifest: m, mirrors: []string{"docker.io=docker.m.daocloud.io", "gcr.io=gcr.m.daocloud.io", "quay.io=quay.m.daocloud.io"}},
		{name: "registry paths", manifest: m, mirrors: []string{"gcr.io/google-containers=registry.k8s.io", "gcr.io/google_containers=registry.k8s.io", "quay.io/coreos/etcd=reg.example.cn/etcd"}},
		{name: "docker.io/library", manifest: m, mirrors: []string{"docker.io/library=reg.example.cn/hub", "index.docker.io/library/busybox=reg.example.cn/busybox"}},
		{name: "URLs", manifest: m, mirrors: []string{
			"https://github.com=https://files.m.daocloud.io/github.com",
			"https://github.com/kubernetes-sigs=https://files.m.daocloud.io/github.com/kubernetes-sigs",
			"https://dl.k8s.io=https://files.m.daocloud.io/dl.k8s.io",
			"https://storage.googleapis.com/kubernetes-release=https://files.m.daocloud.io/dl.k8s.io",
			"https://keys.example.org/ubuntu-archive-keyring.gpg=https://keys.example.cn/ubuntu.gpg",
		}},
		{name: "apt repository and below", manifest: m, mirrors: []string{"http://archive.ubuntu.com=https://mirrors.tuna.tsinghua.edu.cn", "http://archive.ubuntu.com/ubuntu=https://mirrors.aliyun.com/ubuntu", "http://archive.ubuntu.com/ubuntu/pool=https://mirrors.example.cn/pool"}},
		{name: "python index and files", manifest: m, mirrors: []string{"https://pypi.org=https://pypi.tuna.tsinghua.edu.cn", "https://files.pythonhosted.org=https://pypi.tuna.tsinghua.edu.cn", "https://files.pythonhosted.org/packages=https://mirrors.aliyun.com/pypi/packages"}},
		{
			name: "a typo in a path", manifest: m,
			mirrors:   []string{"gcr.io/google-containerz=registry.k8s.io", "quay.io=quay.m.daocloud.io"},
			unmatched: []string{"gcr.io/google-containerz"},
			msg: []string{
				"mirror gcr.io/google-containerz (the images under gcr.io are in google-containers/…, google_containers/…) matches nothing manifest check holds",
				"its images come from docker.io, gcr.io, quay.io",
				"its URLs are under http://archive.ubuntu.com, https://dl.k8s.io, https://files.pythonhosted.org, https://github.com, https://keys.example.org, https://pypi.org, https://storage.googleapis.com",
			},
		},
		{
			name: "element boundaries", manifest: m,
			mirrors:   []string{"gcr.io/google=registry.k8s.io", "https://github.com/kubernetes-sig=https://a.example.cn", "quay.io/coreos/etcd/x=reg.example.cn"},
			unmatched: []string{"gcr.io/google", "https://github.com/kubernetes-sig", "quay.io/coreos/etcd/x"},
			msg:       []string{"mirrors gcr.io/google (", "https://github.com/kubernetes-sig (the URLs under https://github.com are in kubernetes-sigs/…)", "quay.io/coreos/etcd/x (the images under quay.io are in coreos/etcd) match nothing"},
		},
		{
			name: "an official image without library/", manifest: m,
			mirrors:   []string{"docker.io/busybox=reg.example.cn/busybox"},
			unmatched: []string{"docker.io/busybox"},
			msg:       []string{"Docker Hub's official images are under docker.io/library: write docker.io/library/busybox"},
		},
		{
			name: "a typo in a host", manifest: m,
			mirrors:   []string{"https://gihtub.com=https://a.example.cn", "k8s.gcr.io=registry.k8s.io"},
			unmatched: []string{"https://gihtub.com", "k8s.gcr.io"},
			msg:       []string{"mirrors https://gihtub.com, k8s.gcr.io match nothing"},
		},
		{
			name: "a registry as a URL and a URL host as a registry", manifest: m,
			mirrors:   []string{"https://quay.io=https://quay.example.cn", "github.com=reg.example.cn"},
			unmatched: []string{"https://quay.io", "github.com"},
			msg:       []string{"quay.io is a registry here: name it without a scheme", "github.com is not a registry here, but the manifest has URLs under https://github.com"},
		},
		{
			name: "the wrong scheme", manifest: m,
			mirrors:   []string{"https://archive.ubuntu.com/ubuntu=https://mirrors.example.cn/ubuntu"},
			unmatched: []string{"https://archive.ubuntu.com/ubuntu"},
			msg:       []string{"the manifest has http://archive.ubuntu.com, not https://archive.ubuntu.com"},
		},
		{
			name: "one From with several Tos, named once", manifest: m,
			mirrors:   []string{"k8s.gcr.io=k8s-gcr.m.daocloud.io", "k8s.gcr.io=k8s.m.daocloud.io"},
			unmatched: []string{"k8s.gcr.io", "k8s.gcr.io"},
			msg:       []string{"mirror k8s.gcr.io matches nothing manifest check holds: its images"},
		},
		{
			name: "the simple root of a JSON index", manifest: m,
			mirrors:   []string{"https://pypi.org/simple=https://pypi.tuna.tsinghua.edu.cn/simple"},
			unmatched: []string{"https://pypi.org/simple"},
		},
		{
			name: "a section left out", manifest: noPython,
			mirrors:   []string{"https://pypi.org=https://pypi.tuna.tsinghua.edu.cn", "https://github.com=https://a.example.cn"},
			unmatched: []string{"https://pypi.org"},
		},
		{
			name: "presets may match nothing", manifest: noPython,
			preset: []string{"https://pypi.org=https://pypi.tuna.tsinghua.edu.cn", "ghcr.io=ghcr.m.daocloud.io", "gcr.io/nosuch=reg.example.cn"},
		},
		{
			name: "a preset does not excuse a mirror", manifest: m,
			mirrors:   []string{"ghcr.io=reg.example.cn"},
			preset:    []string{"ghcr.io=ghcr.m.daocloud.io"},
			unmatched: []string{"ghcr.io"},
		},
		{
			name: "an empty manifest", manifest: &manifests.Manifest{},
			mirrors:   []string{"docker.io=docker.m.daocloud.io"},
			unmatched: []string{"docker.io"},
			msg:       []string{"mirror docker.io matches nothing the manifest holds: it has no images and no URLs"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mirrors := mustMirrors(t, tc.mirrors...)
			for _, p := range mustMirrors(t, tc.preset...) {
				p.Preset = "cn"
				mirrors = append(mirrors, p)
			}
			err := CheckMirrors(tc.manifest, mirrors)
			if len(tc.unmatched) == 0 {
				if err != nil {
					t.Fatalf("CheckMirrors: %v", err)
				}
				return
			}
			var ue *UnmatchedMirrorError
			if !errors.As(err, &ue) {
				t.Fatalf("CheckMirrors = %v, want an *UnmatchedMirrorError", err)
			}
			var froms []string
			for _, m := range ue.Mirrors {
				froms = append(froms, m.From)
			}
			if !slices.Equal(froms, tc.unmatched) {
				t.Errorf("unmatched %q, want %q", froms, tc.unmatched)
			}
			for _, from := range tc.unmatched {
				if !strings.Contains(err.Error(), from) {
					t.Errorf("the message does not name %s: %v", from, err)
				}
			}
			for _, s := range tc.msg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("the message lacks %q:\n%v", s, err)
				}
			}
		})
	}
}

func TestPresets(t *testing.T) {
	if got := Presets(); !slices.Contains(got, "cn") || !slices.IsSorted(got) {
		t.Fatalf("Presets() = %q, want a sorted list with cn", got)
	}
	for _, name := range Presets() {
		t.Run(name, func(t *testing.T) {
			mirrors, err := Preset(name)
			if err != nil {
				t.Fatal(err)
			}
			if len(mirrors) == 0 {
				t.Fatal("no mirrors")
			}
			seen := map[Mirror]bool{}
			for _, m := range mirrors {
				if m.Preset != name {
					t.Errorf("%s=%s: Preset %q", m.From, m.To, m.Preset)
				}
				if seen[m] {
					t.Errorf("%s=%s twice", m.From, m.To)
				}
				seen[m] = true
				// Every entry reads back as it stands, through the
				// parser --mirror uses.
				again, err := ParseMirror(m.From + "=" + m.To)
				if err != nil || again.From != m.From || again.To != m.To {
					t.Errorf("%s=%s: ParseMirror gives %+v, %v", m.From, m.To, again, err)
				}
				if m.Host() == "" || !strings.Contains(m.Host(), ".") {
					t.Errorf("%s=%s: Host() = %q", m.From, m.To, m.Host())
				}
				if m.isURL() && !strings.HasPrefix(m.To, "https://") {
					t.Errorf("%s=%s: a public mirror should be reached over HTTPS", m.From, m.To)
				}
			}
		})
	}
}

// TestPresetCN checks that the cn preset redirects each source it is
// meant for, to the mirror hosts expected first.
func TestPresetCN(t *testing.T) {
	mirrors, err := Preset("cn")
	if err != nil {
		t.Fatal(err)
	}
	images := []struct {
		registry, repository string
		first                string
	}{
		{"docker.io", "library/busybox", "docker.m.daocloud.io/library/busybox"},
		{"gcr.io", "kubernetes-helm/tiller", "gcr.m.daocloud.io/kubernetes-helm/tiller"},
		{"gcr.io", "google-containers/kube-apiserver", "k8s.m.daocloud.io/kube-apiserver"},
		{"gcr.io", "google_containers/pause-amd64", "k8s.m.daocloud.io/pause-amd64"},
		{"k8s.gcr.io", "cluster-proportional-autoscaler-amd64", "k8s-gcr.m.daocloud.io/cluster-proportional-autoscaler-amd64"},
		{"registry.k8s.io", "pause", "k8s.m.daocloud.io/pause"},
		{"quay.io", "coreos/etcd", "quay.m.daocloud.io/coreos/etcd"},
		{"ghcr.io", "example/app", "ghcr.m.daocloud.io/example/app"},
	}
	for _, tc := range images {
		t.Run(tc.registry+"/"+tc.repository, func(t *testing.T) {
			srcs, err := imageSources(mirrors, tc.registry, tc.repository)
			if err != nil {
				t.Fatal(err)
			}
			if len(srcs) < 2 || srcs[0].String() != tc.first || srcs[0].mirror.Preset != "cn" {
				t.Errorf("sources %v, want %s first", srcs, tc.first)
			}
		})
	}
	files := []struct{ url, first string }{
		{"https://github.com/projectcalico/calicoctl/releases/download/v3.7.3/calicoctl-linux-amd64", "https://files.m.daocloud.io/github.com/projectcalico/calicoctl/releases/download/v3.7.3/calicoctl-linux-amd64"},
		{"https://storage.googleapis.com/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm", "https://files.m.daocloud.io/dl.k8s.io/release/v1.15.11/bin/linux/amd64/kubeadm"},
		{"https://pypi.org", "https://pypi.tuna.tsinghua.edu.cn"},
		{"https://pypi.org/simple", "https://pypi.tuna.tsinghua.edu.cn/simple"},
		{"https://files.pythonhosted.org/packages/ab/cd/0123/paramiko-2.7.2-py2.py3-none-any.whl", "https://pypi.tuna.tsinghua.edu.cn/packages/ab/cd/0123/paramiko-2.7.2-py2.py3-none-any.whl"},
		{"http://archive.ubuntu.com/ubuntu/dists/bionic/InRelease", "https://mirrors.tuna.tsinghua.edu.cn/ubuntu/dists/bionic/InRelease"},
		{"http://security.ubuntu.com/ubuntu/dists/bionic-security/InRelease", "https://mirrors.tuna.tsinghua.edu.cn/ubuntu/dists/bionic-security/InRelease"},
		{"https://download.docker.com/linux/ubuntu/gpg", "https://mirrors.tuna.tsinghua.edu.cn/docker-ce/linux/ubuntu/gpg"},
		{"https://nvidia.github.io/libnvidia-container/stable/deb/amd64/InRelease", "https://mirrors.ustc.edu.cn/libnvidia-container/stable/deb/amd64/InRelease"},
	}
	for _, tc := range files {
		t.Run(tc.url, func(t *testing.T) {
			got := fileSources(mirrors, []string{tc.url})
			if len(got) < 2 || got[0] != tc.first || got[len(got)-1] != tc.url {
				t.Errorf("sources %q, want %s first and the URL last", got, tc.first)
			}
		})
	}
}

func TestPresetUnknown(t *testing.T) {
	for _, name := range []string{"", "us", "CN", "cn.txt", "../presets/cn", "presets/cn"} {
		t.Run(name, func(t *testing.T) {
			_, err := Preset(name)
			if err == nil || !strings.Contains(err.Error(), "unknown preset") || !strings.Contains(err.Error(), "known: cn") {
				t.Errorf("Preset(%q) = %v, want an unknown preset error naming cn", name, err)
			}
		})
	}
}
