package sbom

import (
	"testing"

	"github.com/package-url/packageurl-go"
)

func TestDebNamespace(t *testing.T) {
	for _, c := range []struct{ url, want string }{
		{"http://archive.ubuntu.com/ubuntu", "ubuntu"},
		{"http://security.ubuntu.com/ubuntu/", "ubuntu"},
		{"http://ports.ubuntu.com:80/ubuntu-ports", "ubuntu"},
		{"https://ppa.launchpadcontent.net/deadsnakes/ppa/ubuntu", "ubuntu"},
		{"http://deb.debian.org/debian", "debian"},
		{"https://download.docker.com/linux/ubuntu", "docker"},
		{"https://download.docker.com/linux/debian", "docker"},
		{"https://nvidia.github.io/libnvidia-container/stable/deb/amd64", "nvidia"},
		{"https://developer.download.nvidia.com/compute/cuda/repos/ubuntu1804/x86_64", "nvidia"},
		{"http://mirrors.aliyun.com/ubuntu", "ubuntu"},
		{"https://mirror.example.org/pub/Debian/", "debian"},
		{"https://apt.example.com/stable", "example"},
		{"http://127.0.0.1:8080/repo", "127.0.0.1"},
		{"http://localhost/repo", "localhost"},
	} {
		t.Run(c.url, func(t *testing.T) {
			if got := debNamespace(c.url); got != c.want {
				t.Errorf("debNamespace(%q) = %q, want %q", c.url, got, c.want)
			}
		})
	}
}

// TestPURLRoundTrip checks that packageurl-go reads back every part of
// the purls String writes, with characters that need escaping.
func TestPURLRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name string
		p    purl
	}{
		{"oci", ociPURL(imageRef{domain: "docker.io", path: "OpenPAI/Rest-Server", tag: "v1.8.0"}, "sha256:"+hex64, "linux/arm64/v8")},
		{"oci digest only", ociPURL(imageRef{domain: "127.0.0.1:5000", path: "a/b"}, "sha256:"+hex64, "")},
		{"pypi", pypiPURL("Ruamel_Yaml", "0.15.96", "ruamel.yaml-0.15.96.tar.gz")},
		{"deb epoch", debPURL("https://download.docker.com/linux/ubuntu", "docker-ce", "5:18.09.7~3-0~ubuntu-bionic", "amd64")},
		{"deb plus", debPURL("http://archive.ubuntu.com/ubuntu", "libstdc++6", "8.4.0-1ubuntu1~18.04", "amd64")},
		{"generic", genericPURL("odd name@v1#x", hex64, "https://example.com/a b/c?x=1&y=%2F#frag")},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := c.p.String()
			got, err := packageurl.FromString(s)
			if err != nil {
				t.Fatalf("packageurl-go cannot read %s: %v", s, err)
			}
			want := map[string]string{}
			for _, q := range c.p.qualifiers {
				if q[1] != "" {
					want[q[0]] = q[1]
				}
			}
			name := c.p.name
			if c.p.typ == "pypi" {
				name = "ruamel-yaml"
			}
			if got.Type != c.p.typ || got.Namespace != c.p.namespace || got.Name != name || got.Version != c.p.version {
				t.Errorf("%s reads as %q %q %q %q, want %q %q %q %q", s, got.Type, got.Namespace, got.Name, got.Version,
					c.p.typ, c.p.namespace, name, c.p.version)
			}
			q := got.Qualifiers.Map()
			if len(q) != len(want) {
				t.Errorf("%s: qualifiers %v, want %v", s, q, want)
			}
			for k, v := range want {
				if q[k] != v {
					t.Errorf("%s: qualifier %s = %q, want %q", s, k, q[k], v)
				}
			}
		})
	}
	if s := ociPURL(imageRef{domain: "docker.io", path: "OpenPAI/Rest-Server", tag: "v1"}, "sha256:"+hex64, "linux/amd64").String(); s != "pkg:oci/rest-server@sha256%3A"+hex64+"?arch=amd64&repository_url=docker.io/OpenPAI/Rest-Server&tag=v1" {
		t.Errorf("oci purl %s", s)
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// FuzzPURL checks that any name, version and qualifier value a lock may
// hold comes back whole from packageurl-go.
func FuzzPURL(f *testing.F) {
	f.Add("kubeadm", "5:1.0~rc1+b2", "https://example.com/a b?x=1&y=%2F#f")
	f.Add("a/b@c", "sha256:"+hex64, "ünï\x00code")
	f.Fuzz(func(t *testing.T, name, version, value string) {
		if name == "" {
			return
		}
		p := purl{typ: "generic", namespace: "vendor", name: name, version: version, qualifiers: [][2]string{{"download_url", value}}}
		s := p.String()
		got, err := packageurl.FromString(s)
		if err != nil {
			t.Fatalf("packageurl-go cannot read %q: %v", s, err)
		}
		if got.Name != name || got.Version != version || got.Namespace != "vendor" || got.Qualifiers.Map()["download_url"] != value {
			t.Fatalf("%q reads as name %q, version %q, namespace %q, qualifiers %v", s, got.Name, got.Version, got.Namespace, got.Qualifiers.Map())
		}
	})
}
