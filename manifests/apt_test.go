package manifests

import (
	"slices"
	"strings"
	"testing"
)

// aptDoc is a manifest whose apt list is lines, indented under "apt:".
func aptDoc(lines ...string) []byte {
	return doc(append([]string{"name: x", "groups: [{name: g}]", "apt:"}, lines...)...)
}

const fpr = "9DC8 5822 9FC7 DD38 854A  E2D8 8D81 803C 0EBF CD88"

func TestParseApt(t *testing.T) {
	data := aptDoc(
		"  - name: ubuntu-bionic", // 4
		"    target: ubuntu-18.04",
		"    url: http://archive.ubuntu.com/ubuntu/",
		"    suites: [bionic, bionic-updates]",
		"    components: [main, universe]",
		"    key: {url: http://archive.ubuntu.com/ubuntu/project/ubuntu-archive-keyring.gpg, fingerprint: 790BC7277767219C42C86F933B4FE6ACC0B21F32}",
		"    packages: [curl, 'python-apt (>= 1.6)']", // 10
		"  - name: docker",
		"    target: ubuntu-18.04",
		"    url: https://download.docker.com/linux/ubuntu",
		"    suites: [bionic]",
		"    components: [stable]", // 15
		"    architectures: [amd64, arm64]",
		"    key: {url: https://download.docker.com/linux/ubuntu/gpg, fingerprint: "+fpr+"}",
		"    packages: [docker-ce=5:18.09.7~3-0~ubuntu-bionic]",
		"    sources: false",
		"    groups: [g]", // 20
	)
	m, err := Parse("a.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Apt) != 2 {
		t.Fatalf("apt = %+v", m.Apt)
	}
	u, d := m.Apt[0], m.Apt[1]
	if u.Line != 4 || d.Line != 11 || !u.Sources || d.Sources {
		t.Errorf("lines %d %d, sources %v %v; want 4 11 true false", u.Line, d.Line, u.Sources, d.Sources)
	}
	if got := u.MirrorPrefix(); got != "/archive.ubuntu.com/ubuntu" {
		t.Errorf("MirrorPrefix = %q", got)
	}
	if got := d.Key.KeyPath(); got != "/download.docker.com/linux/ubuntu/gpg" {
		t.Errorf("KeyPath = %q", got)
	}
	if !slices.Equal(u.ArchitectureList(), []string{"amd64"}) || !slices.Equal(d.ArchitectureList(), []string{"amd64", "arm64"}) {
		t.Errorf("architectures %v %v", u.ArchitectureList(), d.ArchitectureList())
	}
	if !slices.Equal(u.Packages, []string{"curl", "python-apt (>= 1.6)"}) || !slices.Equal(d.Suites, []string{"bionic"}) {
		t.Errorf("packages %v suites %v", u.Packages, d.Suites)
	}
	sel, err := m.Select(nil, []string{"g"})
	if err != nil || len(sel.Apt) != 1 || sel.Apt[0].Name != "ubuntu-bionic" {
		t.Fatalf("Select without g: %+v, %v", sel.Apt, err)
	}
	sel.Apt[0].Packages[0] = "changed"
	if m.Apt[0].Packages[0] != "curl" {
		t.Error("Select shares the packages list")
	}
}

func TestParseAptFlat(t *testing.T) {
	m, err := Parse("a.yaml", aptDoc(
		"  - name: nvidia",
		"    target: ubuntu-18.04",
		"    url: https://nvidia.github.io/libnvidia-container/stable/ubuntu18.04/amd64",
		"    flat: true",
		"    key: {url: https://nvidia.github.io/libnvidia-container/gpgkey, fingerprint: C95B321B61E88C1809C4F759DDCAE044F796ECB0}",
		"    packages: [nvidia-container-runtime]",
	))
	if err != nil {
		t.Fatal(err)
	}
	if a := m.Apt[0]; !a.Flat || len(a.Suites) != 0 || a.MirrorPrefix() != "/nvidia.github.io/libnvidia-container/stable/ubuntu18.04/amd64" {
		t.Errorf("flat entry = %+v", a)
	}
}

func TestParseAptErrors(t *testing.T) {
	entry := func(extra ...string) []string {
		base := map[string]string{
			"name": "r", "target": "ubuntu-18.04", "url": "http://h/ubuntu", "suites": "[bionic]", "components": "[main]",
			"key": "{url: http://h/key.gpg, fingerprint: " + fpr + "}",
		}
		for _, e := range extra {
			k, v, _ := strings.Cut(e, "=")
			if v == "" {
				delete(base, k)
				continue
			}
			base[k] = v
		}
		lines := []string{"  - name: " + base["name"]}
		for _, k := range []string{"target", "url", "flat", "suites", "components", "architectures", "key", "packages", "sources", "groups"} {
			if v, ok := base[k]; ok {
				lines = append(lines, "    "+k+": "+v)
			}
		}
		return lines
	}
	tests := []struct {
		name  string
		data  []byte
		field string
		msg   string
	}{
		{"no target", aptDoc(entry("target=")...), "apt[0].target", "required"},
		{"target uppercase", aptDoc(entry("target=Ubuntu-18.04")...), "apt[0].target", "lowercase"},
		{"no url", aptDoc(entry("url=")...), "apt[0].url", "required"},
		{"url ftp", aptDoc(entry("url=ftp://h/ubuntu")...), "apt[0].url", "http or https"},
		{"url query", aptDoc(entry("url=http://h/ubuntu?x=1")...), "apt[0].url", "query"},
		{"url credentials", aptDoc(entry("url=http://u:p@h/ubuntu")...), "apt[0].url", "credentials"},
		{"url under /pypi", aptDoc(entry("url=http://pypi")...), "apt[0].url", "/pypi"},
		{"no suites", aptDoc(entry("suites=")...), "apt[0].suites", "required"},
		{"suite traversal", aptDoc(entry("suites=[../x]")...), "apt[0].suites[0]", "not a suite"},
		{"no components", aptDoc(entry("components=")...), "apt[0].components", "required"},
		{"component with space", aptDoc(entry("components=['a b']")...), "apt[0].components[0]", "not a component"},
		{"architecture all", aptDoc(entry("architectures=[all]")...), "apt[0].architectures[0]", "dpkg architecture"},
		{"package garbage", aptDoc(entry("packages=['(curl)']")...), "apt[0].packages[0]", "package name"},
		{"no key", aptDoc(entry("key=")...), "apt[0].key.fingerprint", "required"},
		{"short fingerprint", aptDoc(entry("key={url: http://h/k, fingerprint: 0EBFCD88}")...), "apt[0].key.fingerprint", "40 hex"},
		{"key url is a directory", aptDoc(entry("key={url: http://h/keys/, fingerprint: " + fpr + "}")...), "apt[0].key.url", "must name a file"},
		{"unknown key field", aptDoc(entry("key={url: http://h/k, fingerprint: " + fpr + ", id: 1}")...), "apt[0].key.id", "unknown field"},
		{"sources not bool", aptDoc(entry("sources=maybe")...), "apt[0].sources", "true or false"},
		{"undeclared group", aptDoc(entry("groups=[h]")...), "apt[0].groups[0]", "not declared"},
		{"name twice", aptDoc(append(entry(), entry("url=http://h2/u")...)...), "apt[1].name", "already listed"},
		{"suite twice", aptDoc(append(entry(), entry("name=s")...)...), "apt[1].suites[0]", "already mirrored"},
		{"key path clash", aptDoc(append(entry(), entry("name=s", "url=http://h2/u", "key={url: 'http://h/key.gpg?x', fingerprint: "+fpr+"}")...)...), "apt[1].key.url", "also gives"},
		{"file in the tree", doc("name: x", "files:", "  - url: http://h/ubuntu/pool/f", "    sha256: "+hexA, "apt:", strings.Join(entry(), "\n")), "apt[0].url", "takes the path"},
		{"flat with suites", aptDoc(entry("flat=true", "components=")...), "apt[0].suites", "no suites"},
		{"flat with components", aptDoc(entry("flat=true", "suites=")...), "apt[0].components", "no components"},
		{"flat twice", aptDoc(append(entry("flat=true", "suites=", "components="), entry("name=s", "flat=true", "suites=", "components=")...)...), "apt[1].url", "already mirrored"},
		{"file at the key path", doc("name: x", "files:", "  - url: http://h/key.gpg", "    sha256: "+hexA, "apt:", strings.Join(entry(), "\n")), "apt[0].key.url", "already served"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("a.yaml", tt.data)
			if err == nil {
				t.Fatalf("no error for\n%s", tt.data)
			}
			found := false
			for _, line := range strings.Split(err.Error(), "\n") {
				if strings.Contains(line, " "+tt.field+": ") && strings.Contains(line, tt.msg) {
					found = true
				}
			}
			if !found {
				t.Errorf("want %s: ...%s...; got\n%v", tt.field, tt.msg, err)
			}
		})
	}
}
