package files

import (
	"net/url"
	"testing"
)

func TestRequestPath(t *testing.T) {
	for _, tc := range []struct {
		target string
		want   string // "" for refused
	}{
		{"/a/b", "/a/b"},
		{"/a/b?x=../../y", "/a/b"},
		{"/a%20b", "/a b"},
		{"/%61/b", "/a/b"},
		{"/a/../b", "/a/../b"}, // passed on uncleaned: it matches no lock path
		{"//a", "//a"},
		{"/a%2fb", ""},
		{"/a%2Fb", ""},
		{"/%2e%2e/a", ""},
		{"/a%5cb", ""},
		{"/a%00", ""},
		{"/a%0a", ""},
		{"/a%7f", ""},
		{`/a\b`, ""},
		{"*", ""},
		{"http://h/a/b", "/a/b"},
	} {
		t.Run(tc.target, func(t *testing.T) {
			u, err := url.ParseRequestURI(tc.target)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := requestPath(u)
			if (tc.want == "") == ok || got != tc.want {
				t.Errorf("requestPath(%q) = %q, %v; want %q", tc.target, got, ok, tc.want)
			}
		})
	}
	if _, ok := requestPath(&url.URL{Opaque: "x"}); ok {
		t.Error("an opaque URL was accepted")
	}
}

func TestYAMLQuote(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"10.0.0.1:5000/gcr.io/google-containers", `"10.0.0.1:5000/gcr.io/google-containers"`},
		{"x/pause-{{ image_arch }}", `"x/pause-{{ image_arch }}"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"a\tb", `"a\x09b"`},
	} {
		if got := yamlQuote(tc.in); got != tc.want {
			t.Errorf("yamlQuote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestContentType(t *testing.T) {
	for p, want := range map[string]string{
		"/raw.githubusercontent.com/NVIDIA/k8s-device-plugin/1.0.0-beta4/nvidia-device-plugin.yml": "application/yaml; charset=utf-8",
		"/x/k8s-ds-amdgpu-dp.yaml": "application/yaml; charset=utf-8",
		"/github.com/containernetworking/plugins/releases/download/v0.8.1/cni-plugins-linux-amd64-v0.8.1.tgz": "application/gzip",
		"/storage.googleapis.com/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm":                 "application/octet-stream",
		"/x/index.html": "application/octet-stream",
	} {
		if got := contentType(p); got != want {
			t.Errorf("contentType(%s) = %q, want %q", p, got, want)
		}
	}
}
