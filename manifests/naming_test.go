package manifests

import (
	"slices"
	"strings"
	"testing"
)

func TestMirrorName(t *testing.T) {
	tests := []struct {
		ref, want string
	}{
		{"docker.io/nginx:1.15", "library/nginx:1.15"},
		{"busybox:1.31.1", "library/busybox:1.31.1"},
		{"docker.io/library/busybox:1.31.1", "library/busybox:1.31.1"},
		{"calico/node:v3.7.3", "calico/node:v3.7.3"},
		{"docker.io/calico/node:v3.7.3", "calico/node:v3.7.3"},
		{"index.docker.io/calico/node:v3.7.3", "calico/node:v3.7.3"},
		{"registry-1.docker.io/calico/node:v3.7.3", "calico/node:v3.7.3"},
		{"index.docker.io/nginx:1.15", "library/nginx:1.15"},
		{"registry-1.docker.io/nginx:1.15", "library/nginx:1.15"},
		{"registry:2", "library/registry:2"},
		{"openpai/standard:python_3.6-pytorch_1.2.0-gpu", "openpai/standard:python_3.6-pytorch_1.2.0-gpu"},
		{"gcr.io/google-containers/kube-apiserver:v1.15.11", "gcr.io/google-containers/kube-apiserver:v1.15.11"},
		{"gcr.io/google_containers/pause-amd64:3.1", "gcr.io/google_containers/pause-amd64:3.1"},
		{"quay.io/coreos/etcd:v3.3.10", "quay.io/coreos/etcd:v3.3.10"},
		{"k8s.gcr.io/cluster-proportional-autoscaler-amd64:1.6.0", "k8s.gcr.io/cluster-proportional-autoscaler-amd64:1.6.0"},
		{"Quay.IO/coreos/etcd:v3.3.10", "quay.io/coreos/etcd:v3.3.10"},
		{"localhost/a:1", "localhost/a:1"},
		{"localhost:5000/a/b:1", "localhost_5000/a/b:1"},
		{"127.0.0.1:41234/test/img:v1", "127.0.0.1_41234/test/img:v1"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := MirrorName(tt.ref)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("MirrorName(%q) = %q, want %q", tt.ref, got, tt.want)
			}
			again, err := MirrorName(got)
			if err != nil || again != got {
				t.Errorf("MirrorName(%q) = %q, %v; want it unchanged", got, again, err)
			}
		})
	}
}

func TestMirrorNameErrors(t *testing.T) {
	tests := []struct {
		ref, msg string
	}{
		{"", "empty"},
		{"nginx", "no tag"},
		{"quay.io/coreos/etcd", "no tag"},
		{"localhost:5000/a", "no tag"},
		{"nginx:", "no tag"},
		{"nginx@sha256:" + hexA, "digest"},
		{"nginx:1.15@sha256:" + hexA, "digest"},
		{"NGINX:1.15", "not a valid"},
		{" nginx:1.15", "space"},
		{"a//b:1", "path element"},
		{"a/-b:1", "path element"},
		{"a:-1", "tag"},
		{"[::1]:5000/a:1", "registry host"},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := MirrorName(tt.ref)
			if err == nil {
				t.Fatalf("MirrorName(%q) = %q, want an error", tt.ref, got)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not mention %q", err, tt.msg)
			}
		})
	}
}

func TestRepoTag(t *testing.T) {
	tests := []struct {
		in, repo, tag string
	}{
		{"siaimes/pause:3.1", "siaimes/pause", "3.1"},
		{"library/nginx:1.15", "library/nginx", "1.15"},
		{"quay.io/coreos/etcd:v3.3.10", "quay.io/coreos/etcd", "v3.3.10"},
		{"localhost:5000/a", "localhost:5000/a", ""},
		{"localhost:5000/a:1", "localhost:5000/a", "1"},
		{"nginx", "nginx", ""},
		{"nginx:", "nginx", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			repo, tag := RepoTag(tt.in)
			if repo != tt.repo || tag != tt.tag {
				t.Errorf("RepoTag(%q) = %q, %q; want %q, %q", tt.in, repo, tag, tt.repo, tt.tag)
			}
		})
	}
}

func TestImageNames(t *testing.T) {
	tests := []struct {
		name                string
		img                 Image
		names               []string
		platforms           []string
		registry, repo, tag string
	}{
		{
			name:      "gcr with alias",
			img:       Image{Ref: "gcr.io/google-containers/kube-apiserver:v1.15.11", Aliases: []string{"siaimes/kube-apiserver:v1.15.11"}},
			names:     []string{"gcr.io/google-containers/kube-apiserver:v1.15.11", "siaimes/kube-apiserver:v1.15.11"},
			platforms: []string{"linux/amd64"},
			registry:  "gcr.io", repo: "google-containers/kube-apiserver", tag: "v1.15.11",
		},
		{
			name:      "official image",
			img:       Image{Ref: "docker.io/nginx:1.15", Platforms: []string{"linux/arm64"}},
			names:     []string{"library/nginx:1.15"},
			platforms: []string{"linux/arm64"},
			registry:  "docker.io", repo: "library/nginx", tag: "1.15",
		},
		{
			name:      "registry-1 spelling",
			img:       Image{Ref: "registry-1.docker.io/calico/node:v3.7.3"},
			names:     []string{"calico/node:v3.7.3"},
			platforms: []string{"linux/amd64"},
			registry:  "docker.io", repo: "calico/node", tag: "v3.7.3",
		},
		{
			name:      "aliases deduplicated and normalized",
			img:       Image{Ref: "quay.io/a/b:1", Aliases: []string{"b:1", "library/b:1", "x/b:1"}},
			names:     []string{"quay.io/a/b:1", "library/b:1", "x/b:1"},
			platforms: []string{"linux/amd64"},
			registry:  "quay.io", repo: "a/b", tag: "1",
		},
		{
			name:      "invalid ref",
			img:       Image{Ref: "nope"},
			names:     []string{"nope"},
			platforms: []string{"linux/amd64"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.img.MirrorNames(); !slices.Equal(got, tt.names) {
				t.Errorf("MirrorNames() = %q, want %q", got, tt.names)
			}
			if got := tt.img.PlatformList(); !slices.Equal(got, tt.platforms) {
				t.Errorf("PlatformList() = %q, want %q", got, tt.platforms)
			}
			reg, repo, tag := tt.img.Upstream()
			if reg != tt.registry || repo != tt.repo || tag != tt.tag {
				t.Errorf("Upstream() = %q, %q, %q; want %q, %q, %q", reg, repo, tag, tt.registry, tt.repo, tt.tag)
			}
		})
	}
}

func TestPlatformListIsACopy(t *testing.T) {
	img := Image{Ref: "a:1", Platforms: []string{"linux/arm64"}}
	img.PlatformList()[0] = "changed"
	if img.Platforms[0] != "linux/arm64" {
		t.Error("PlatformList returned the image's own slice")
	}
}

func TestFileNames(t *testing.T) {
	tests := []struct {
		name    string
		file    File
		paths   []string
		sources []string
		display string
	}{
		{
			name: "kubeadm",
			file: File{
				URL:        "https://storage.googleapis.com/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm",
				Alternates: []string{"https://dl.k8s.io/release/v1.15.11/bin/linux/amd64/kubeadm"},
				Paths:      []string{"/k8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm"},
			},
			paths: []string{
				"/storage.googleapis.com/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm",
				"/k8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm",
			},
			sources: []string{
				"https://storage.googleapis.com/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm",
				"https://dl.k8s.io/release/v1.15.11/bin/linux/amd64/kubeadm",
			},
			display: "kubeadm",
		},
		{
			name:    "named, port, query, escaped path",
			file:    File{Name: "plugin", URL: "http://Example.COM:8080/a%20b/c.yml?x=1"},
			paths:   []string{"/example.com:8080/a b/c.yml"},
			sources: []string{"http://Example.COM:8080/a%20b/c.yml?x=1"},
			display: "plugin",
		},
		{
			name:    "path repeating the upstream path",
			file:    File{URL: "https://h/f.tgz", Paths: []string{"/h/f.tgz", "/k/f.tgz", "/k/f.tgz"}},
			paths:   []string{"/h/f.tgz", "/k/f.tgz"},
			sources: []string{"https://h/f.tgz"},
			display: "f.tgz",
		},
		{
			name:    "no host",
			file:    File{URL: "f.tgz", Paths: []string{"/k/f.tgz"}},
			paths:   []string{"/k/f.tgz"},
			sources: []string{"f.tgz"},
			display: "f.tgz",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.file.MirrorPaths(); !slices.Equal(got, tt.paths) {
				t.Errorf("MirrorPaths() = %q, want %q", got, tt.paths)
			}
			if got := tt.file.Sources(); !slices.Equal(got, tt.sources) {
				t.Errorf("Sources() = %q, want %q", got, tt.sources)
			}
			if got := tt.file.DisplayName(); got != tt.display {
				t.Errorf("DisplayName() = %q, want %q", got, tt.display)
			}
		})
	}
}
