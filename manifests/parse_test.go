package manifests

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// doc joins lines into a YAML document; line n of the result is lines[n-1].
func doc(lines ...string) []byte {
	return []byte(strings.Join(lines, "\n") + "\n")
}

const (
	hexA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	hexB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

func TestParseValid(t *testing.T) {
	data := doc(
		"name: lab", // 1
		"groups:",
		"  - name: core",
		"  - name: extras",
		"    default: false", // 5
		"images:",
		"  - ref: busybox:1.31.1",
		"    groups: [core]",
		"  - ref: gcr.io/google-containers/pause:3.1",
		"    digest: sha256:"+hexA, // 10
		"    platforms: [linux/amd64, linux/arm64/v8]",
		"    aliases: [siaimes/pause:3.1]",
		"files:",
		"  - url: https://example.com/a/kubeadm",
		"    sha256: "+hexB, // 15
		"    paths: [/k8s-share/a/kubeadm]",
		"    groups: [extras]",
		"  - name: yml",
		"    url: http://example.com/b.yml",
		"    no_checksum: upstream publishes none", // 20
	)
	m, err := Parse("lab.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if m.Source != "lab.yaml" || string(m.Raw) != string(data) {
		t.Errorf("Source %q, Raw %d bytes; want lab.yaml and the input", m.Source, len(m.Raw))
	}
	data[0] = 'X'
	if m.Raw[0] == 'X' {
		t.Error("Raw shares memory with the input")
	}
	if !m.Groups[0].Default || m.Groups[1].Default {
		t.Errorf("group defaults = %v, %v; want true (absent), false", m.Groups[0].Default, m.Groups[1].Default)
	}
	if got := []int{m.Images[0].Line, m.Images[1].Line, m.Files[0].Line, m.Files[1].Line}; fmt.Sprint(got) != "[7 9 14 18]" {
		t.Errorf("lines = %v, want [7 9 14 18]", got)
	}
	img := m.Images[1]
	if img.Digest != "sha256:"+hexA || len(img.Platforms) != 2 || img.Aliases[0] != "siaimes/pause:3.1" {
		t.Errorf("image = %+v", img)
	}
	f := m.Files[1]
	if f.Name != "yml" || f.NoChecksum != "upstream publishes none" || f.SHA256 != "" {
		t.Errorf("file = %+v", f)
	}
}

func TestParsePython(t *testing.T) {
	data := doc(
		"name: lab", // 1
		"groups:",
		"  - name: py",
		"python:",
		"  index: https://pypi.example.cn", // 5
		"  groups: [py]",
		"  targets:",
		"    - name: ubuntu-18.04",
		"      python: 3.6",
		"      python_full: \"3.6.9\"", // 10
		"      platform: manylinux_x86_64",
		"      glibc: 2.27",
		"    - {name: el8, python: \"3.10\", platform: manylinux_aarch64}",
		"  installs:",
		"    - name: pip", // 15
		"      requirements: [pip==20.3.4]",
		"    - name: kubespray requirements.txt",
		"      requirements:",
		"        - ansible==2.7.12",
		"        - ruamel.yaml==0.15.96", // 20
		"        - 'cryptography>=2.5; python_version >= \"3\"'",
	)
	m, err := Parse("lab.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	py := m.Python
	if py == nil {
		t.Fatal("no python section")
	}
	if py.Index != "https://pypi.example.cn" || py.Simple != "" || !slices.Equal(py.Groups, []string{"py"}) || py.Line != 5 {
		t.Errorf("python = %+v", py)
	}
	want := []PythonTarget{
		{Name: "ubuntu-18.04", Python: "3.6", PythonFull: "3.6.9", Platform: "manylinux_x86_64", Glibc: "2.27", Line: 8},
		{Name: "el8", Python: "3.10", Platform: "manylinux_aarch64", Line: 13},
	}
	if !slices.Equal(py.Targets, want) {
		t.Errorf("targets = %+v\nwant %+v", py.Targets, want)
	}
	if len(py.Installs) != 2 || py.Installs[1].Name != "kubespray requirements.txt" || py.Installs[1].Line != 17 ||
		!slices.Equal(py.Installs[1].Requirements, []string{"ansible==2.7.12", "ruamel.yaml==0.15.96", `cryptography>=2.5; python_version >= "3"`}) {
		t.Errorf("installs = %+v", py.Installs)
	}
	// A manifest without the section has none.
	m, err = Parse("x.yaml", doc("name: x"))
	if err != nil || m.Python != nil {
		t.Errorf("Parse without python: %+v, %v", m.Python, err)
	}
}

func pyDoc(lines ...string) []byte {
	return doc(append([]string{"name: x", "python:"}, lines...)...)
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name  string
		data  []byte
		line  int
		field string
		msg   string
	}{
		{"unclosed flow list", doc("name: x", "images:", "  - ref: [a", "files: 1"), 3, "", "yaml: did not find expected ',' or ']' in the list or mapping that starts here"},
		{"bad indentation", doc("name: x", "images:", "  - ref: a:1", "   bad: 1"), 3, "", "yaml: did not find expected '-' indicator"},
		{"unclosed quote", doc("name: x", "images:", "  - ref: \"a:1"), 3, "", "yaml: found unexpected end of stream"},
		{"tab indentation", doc("name: x", "images:", "\t- ref: a:1"), 3, "", "yaml:"},
		{"empty document", doc("# only a comment"), 0, "", "empty"},
		{"null document", doc("~"), 0, "", "empty"},
		{"two documents", doc("name: a", "---", "name: b"), 2, "", "one YAML document"},
		{"not a mapping", doc("- a", "- b"), 1, "", "must be a mapping"},
		{"name missing", doc("", "images: []"), 2, "name", "required"},
		{"name with space", doc("name: my lab"), 1, "name", "letters, digits"},
		{"unknown top-level key", doc("name: x", "image:", "  - ref: a:1"), 2, "image", "unknown field"},
		{"unknown image key", doc("name: x", "images:", "  - ref: a:1", "    alias: [b:1]"), 4, "images[0].alias", "unknown field (known fields: ref, digest, platforms, aliases, groups)"},
		{"unknown file key", doc("name: x", "files:", "  - url: https://h/f", "    sha256: "+hexA, "    checksum: x"), 5, "files[0].checksum", "unknown field"},
		{"repeated key", doc("name: x", "images:", "  - ref: a:1", "    ref: b:1"), 4, "images[0].ref", "repeated"},
		{"merge key", doc("name: x", "images:", "  - <<: {ref: a:1}"), 3, "images[0]", "merge keys"},
		{"images not a list", doc("name: x", "images:", "  ref: a:1"), 3, "images", "must be a list"},
		{"image not a mapping", doc("name: x", "images:", "  - a:1"), 3, "images[0]", "must be a mapping"},
		{"aliases not a list", doc("name: x", "images:", "  - ref: a:1", "    aliases: b:1"), 4, "images[0].aliases", "must be a list of strings"},
		{"ref not a string", doc("name: x", "images:", "  - ref: {a: 1}"), 3, "images[0].ref", "must be a string"},
		{"default not a bool", doc("name: x", "groups:", "  - name: g", "    default: \"no\""), 4, "groups[0].default", "true or false"},
		{"group name missing", doc("name: x", "groups:", "  - description: d"), 3, "groups[0].name", "required"},
		{"group name invalid", doc("name: x", "groups:", "  - name: Core"), 3, "groups[0].name", "lowercase"},
		{"group declared twice", doc("name: x", "groups:", "  - name: g", "  - name: g"), 4, "groups[1].name", "already declared at groups[0].name (line 3)"},
		{"ref missing", doc("name: x", "images:", "  - groups: []"), 3, "images[0].ref", "required"},
		{"ref without tag", doc("name: x", "images:", "  - ref: quay.io/coreos/etcd"), 3, "images[0].ref", "has no tag"},
		{"ref with port but no tag", doc("name: x", "images:", "  - ref: localhost:5000/etcd"), 3, "images[0].ref", "has no tag"},
		{"ref with digest", doc("name: x", "images:", "  - ref: busybox:1@sha256:"+hexA), 3, "images[0].ref", "digest field"},
		{"ref uppercase", doc("name: x", "images:", "  - ref: Busybox:1"), 3, "images[0].ref", "not a valid"},
		{"ref empty path element", doc("name: x", "images:", "  - ref: quay.io/a//b:1"), 3, "images[0].ref", "path element"},
		{"ref bad tag", doc("name: x", "images:", "  - ref: a:.1"), 3, "images[0].ref", "tag"},
		{"ref unmirrorable host", doc("name: x", "images:", "  - ref: reg-.io/a:1"), 3, "images[0].ref", "registry host"},
		{"digest uppercase", doc("name: x", "images:", "  - ref: a:1", "    digest: sha256:"+strings.ToUpper(hexA)), 4, "images[0].digest", "lowercase hex"},
		{"digest sha512", doc("name: x", "images:", "  - ref: a:1", "    digest: sha512:"+hexA), 4, "images[0].digest", "sha256:"},
		{"platform without arch", doc("name: x", "images:", "  - ref: a:1", "    platforms: [linux]"), 4, "images[0].platforms[0]", "os/arch"},
		{"platform repeated", doc("name: x", "images:", "  - ref: a:1", "    platforms:", "      - linux/amd64", "      - linux/amd64"), 6, "images[0].platforms[1]", "repeated"},
		{"alias with host", doc("name: x", "images:", "  - ref: a:1", "    aliases: [docker.io/b:1]"), 4, "images[0].aliases[0]", "registry host"},
		{"alias without tag", doc("name: x", "images:", "  - ref: a:1", "    aliases: [siaimes/b]"), 4, "images[0].aliases[0]", "has no tag"},
		{"alias invalid", doc("name: x", "images:", "  - ref: a:1", "    aliases: [\"Siaimes/b:1\"]"), 4, "images[0].aliases[0]", "not a valid"},
		{"alias is own name", doc("name: x", "images:", "  - ref: a:1", "    aliases: [library/a:1]"), 4, "images[0].aliases[0]", "own mirror name"},
		{"undeclared group", doc("name: x", "groups: [{name: g}]", "images:", "  - ref: a:1", "    groups: [g, h]"), 5, "images[0].groups[1]", `group "h" is not declared`},
		{"group repeated on item", doc("name: x", "groups: [{name: g}]", "images:", "  - ref: a:1", "    groups: [g, g]"), 5, "images[0].groups[1]", "repeated"},
		{"duplicate ref", doc("name: x", "images:", "  - ref: busybox:1.31.1", "  - ref: docker.io/library/busybox:1.31.1"), 4, "images[1].ref", "already listed as images[0].ref (line 3)"},
		{"duplicate ref via index.docker.io", doc("name: x", "images:", "  - ref: nginx:1.15", "  - ref: index.docker.io/nginx:1.15"), 4, "images[1].ref", "already listed"},
		{"alias takes a primary name", doc("name: x", "images:", "  - ref: calico/node:v1", "  - ref: quay.io/calico/node:v1", "    aliases: [calico/node:v1]"), 5, "images[1].aliases[0]", `mirror name "calico/node:v1" is already taken by images[0].ref (line 3)`},
		{"alias taken twice", doc("name: x", "images:", "  - ref: a:1", "    aliases: [s/p:1]", "  - ref: b:1", "    aliases: [s/p:1]"), 6, "images[1].aliases[0]", "already taken by images[0].aliases[0] (line 4)"},
		{"primary takes an alias", doc("name: x", "images:", "  - ref: a:1", "    aliases: [s/p:1]", "  - ref: s/p:1"), 5, "images[1].ref", "already taken by images[0].aliases[0]"},
		{"url missing", doc("name: x", "files:", "  - sha256: "+hexA), 3, "files[0].url", "required"},
		{"url ftp", doc("name: x", "files:", "  - url: ftp://h/f", "    sha256: "+hexA), 3, "files[0].url", "http or https"},
		{"url relative", doc("name: x", "files:", "  - url: /f", "    sha256: "+hexA), 3, "files[0].url", "http or https"},
		{"url without host", doc("name: x", "files:", "  - url: https:///f", "    sha256: "+hexA), 3, "files[0].url", "no host"},
		{"url names no file", doc("name: x", "files:", "  - url: https://h/dir/", "    sha256: "+hexA), 3, "files[0].url", "must name a file"},
		{"url with credentials", doc("name: x", "files:", "  - url: https://u:secret@h/f", "    sha256: "+hexA), 3, "files[0].url", "credentials"},
		{"url unclean path", doc("name: x", "files:", "  - url: https://h/a/../f", "    sha256: "+hexA), 3, "files[0].url", "not clean"},
		{"url on /v2 host", doc("name: x", "files:", "  - url: https://v2/f", "    sha256: "+hexA), 3, "files[0].url", "/v2"},
		{"alternate bad", doc("name: x", "files:", "  - url: https://h/f", "    alternates:", "      - https://g/f", "      - file:///f", "    sha256: "+hexA), 6, "files[0].alternates[1]", "http or https"},
		{"alternate repeats url", doc("name: x", "files:", "  - url: https://h/f", "    alternates: [https://h/f]", "    sha256: "+hexA), 4, "files[0].alternates[0]", "repeated"},
		{"sha256 uppercase", doc("name: x", "files:", "  - url: https://h/f", "    sha256: "+strings.ToUpper(hexA)), 4, "files[0].sha256", "64 lowercase hex"},
		{"sha256 short", doc("name: x", "files:", "  - url: https://h/f", "    sha256: abc"), 4, "files[0].sha256", "64 lowercase hex"},
		{"sha256 and no_checksum", doc("name: x", "files:", "  - url: https://h/f", "    sha256: "+hexA, "    no_checksum: none"), 4, "files[0].sha256", "not both"},
		{"no checksum at all", doc("name: x", "files:", "  - url: https://h/f"), 3, "files[0].sha256", "required"},
		{"no_checksum blank", doc("name: x", "files:", "  - url: https://h/f", "    no_checksum: \" \""), 4, "files[0].no_checksum", "must say why"},
		{"path relative", doc("name: x", "files:", "  - url: https://h/f", "    sha256: "+hexA, "    paths: [k8s-share/f]"), 5, "files[0].paths[0]", "absolute"},
		{"path not clean", doc("name: x", "files:", "  - url: https://h/f", "    sha256: "+hexA, "    paths: [/k8s-share//f]"), 5, "files[0].paths[0]", "not clean"},
		{"path trailing slash", doc("name: x", "files:", "  - url: https://h/f", "    sha256: "+hexA, "    paths: [/k8s-share/]"), 5, "files[0].paths[0]", "not clean"},
		{"url with command substitution", doc("name: x", "files:", "  - url: 'https://h/$(id)/f.yaml'", "    sha256: "+hexA), 3, "files[0].url", "must not contain whitespace, control characters, quotes, '\\', '`' or '$' (found '$'"},
		{"url with backticks", doc("name: x", "files:", "  - url: 'https://h/`id`.yaml'", "    sha256: "+hexA), 3, "files[0].url", "(found '`'"},
		{"url with double quote", doc("name: x", "files:", "  - url: 'https://h/a\"b.yaml'", "    sha256: "+hexA), 3, "files[0].url", "(found '\"'"},
		{"url with single quote", doc("name: x", "files:", "  - url: \"https://h/a'b.yaml\"", "    sha256: "+hexA), 3, "files[0].url", "(found '\\''"},
		{"url with space", doc("name: x", "files:", "  - url: 'https://h/a b.yaml'", "    sha256: "+hexA), 3, "files[0].url", "(found ' '"},
		{"url with backslash", doc("name: x", "files:", "  - url: 'https://h/a\\b.yaml'", "    sha256: "+hexA), 3, "files[0].url", "(found '\\\\'"},
		{"url with tab", doc("name: x", "files:", "  - url: \"https://h/a\\tb.yaml\"", "    sha256: "+hexA), 3, "files[0].url", "(found '\\t'"},
		{"url with encoded dollar", doc("name: x", "files:", "  - url: https://h/%24%28id%29.yaml", "    sha256: "+hexA), 3, "files[0].url", "gives the mirror path \"/h/$(id).yaml\", which must hold only ASCII letters, digits"},
		{"alternate with dollar", doc("name: x", "files:", "  - url: https://h/f", "    alternates: ['https://g/$(id)']", "    sha256: "+hexA), 4, "files[0].alternates[0]", "(found '$'"},
		{"path with dollar", doc("name: x", "files:", "  - url: https://h/f", "    sha256: "+hexA, "    paths: ['/k8s-share/$(id)']"), 5, "files[0].paths[0]", "must hold only ASCII letters, digits and / . _ - ~ + , : = @ (found '$')"},
		{"path with space", doc("name: x", "files:", "  - url: https://h/f", "    sha256: "+hexA, "    paths: ['/k8s share/f']"), 5, "files[0].paths[0]", "(found ' ')"},
		{"file name with newline", doc("name: x", "files:", "  - url: https://h/f", "    name: \"a\\ncurl x\"", "    sha256: "+hexA), 4, "files[0].name", "control characters"},
		{"path with dotdot", doc("name: x", "files:", "  - url: https://h/f", "    sha256: "+hexA, "    paths: [/a/../f]"), 5, "files[0].paths[0]", "not clean"},
		{"path root", doc("name: x", "files:", "  - url: https://h/f", "    sha256: "+hexA, "    paths: [/]"), 5, "files[0].paths[0]", "root"},
		{"path under /v2/", doc("name: x", "files:", "  - url: https://h/f", "    sha256: "+hexA, "    paths: [/v2/f]"), 5, "files[0].paths[0]", "registry"},
		{"path /v2", doc("name: x", "files:", "  - url: https://h/f", "    sha256: "+hexA, "    paths: [/v2]"), 5, "files[0].paths[0]", "registry"},
		{"path with query", doc("name: x", "files:", "  - url: https://h/f", "    sha256: "+hexA, "    paths:", "      - /f?x=1"), 6, "files[0].paths[0]", "'?'"},
		{"path repeated in a file", doc("name: x", "files:", "  - url: https://h/f", "    sha256: "+hexA, "    paths: [/a/f, /a/f]"), 5, "files[0].paths[1]", "repeated"},
		{"path repeats own upstream path", doc("name: x", "files:", "  - url: https://h/f", "    sha256: "+hexA, "    paths: [/h/f]"), 5, "files[0].paths[0]", "repeated"},
		{"paths collide across files", doc("name: x", "files:", "  - url: https://h/f", "    sha256: "+hexA, "    paths: [/k/f]", "  - url: https://h/g", "    sha256: "+hexB, "    paths: [/k/f]"), 8, "files[1].paths[0]", "already served for files[0].paths[0] (line 5)"},
		{"path collides with an upstream path", doc("name: x", "files:", "  - url: https://h/f", "    sha256: "+hexA, "  - url: https://g/f", "    sha256: "+hexB, "    paths: [/h/f]"), 7, "files[1].paths[0]", "already served for files[0].url (line 3)"},
		{"same url twice", doc("name: x", "files:", "  - url: https://h/f", "    sha256: "+hexA, "  - url: https://H/f?v=2", "    sha256: "+hexB), 5, "files[1].url", "already served for files[0].url"},
		{"file group undeclared", doc("name: x", "files:", "  - url: https://h/f", "    sha256: "+hexA, "    groups: [g]"), 5, "files[0].groups[0]", "not declared"},
		{"path under /pypi/", doc("name: x", "files:", "  - url: https://h/f", "    sha256: "+hexA, "    paths: [/pypi/simple/f]"), 5, "files[0].paths[0]", "Python package index"},
		{"url on the pypi host", doc("name: x", "files:", "  - url: https://pypi/f", "    sha256: "+hexA), 3, "files[0].url", "/pypi"},
		{"python not a mapping", doc("name: x", "python: [a]"), 2, "python", "must be a mapping"},
		{"python unknown key", pyDoc("  index_url: https://h", "  targets: []"), 3, "python.index_url", "unknown field (known fields: index, simple, targets, installs, groups)"},
		{"python without targets", pyDoc("  installs: [{name: a, requirements: [a]}]"), 3, "python.targets", "at least one target"},
		{"python without installs", pyDoc("  targets: [{name: a, python: \"3.6\", platform: manylinux_x86_64}]"), 3, "python.installs", "at least one install"},
		{"python index ftp", pyDoc("  index: ftp://h", "  targets: [{name: a, python: \"3.6\", platform: manylinux_x86_64}]", "  installs: [{name: a, requirements: [a]}]"), 3, "python.index", "http or https"},
		{"python simple with credentials", pyDoc("  simple: https://u:p@h/simple", "  targets: [{name: a, python: \"3.6\", platform: manylinux_x86_64}]", "  installs: [{name: a, requirements: [a]}]"), 3, "python.simple", "credentials"},
		{"python group undeclared", pyDoc("  groups: [g]", "  targets: [{name: a, python: \"3.6\", platform: manylinux_x86_64}]", "  installs: [{name: a, requirements: [a]}]"), 3, "python.groups[0]", "not declared"},
		{"target unknown key", pyDoc("  targets:", "    - name: a", "      python: \"3.6\"", "      arch: x86_64", "      platform: manylinux_x86_64", "  installs: [{name: a, requirements: [a]}]"), 6, "python.targets[0].arch", "unknown field (known fields: name, python, python_full, platform, glibc)"},
		{"target name missing", pyDoc("  targets:", "    - python: \"3.6\"", "      platform: manylinux_x86_64", "  installs: [{name: a, requirements: [a]}]"), 4, "python.targets[0].name", "required"},
		{"target name repeated", pyDoc("  targets:", "    - {name: a, python: \"3.6\", platform: manylinux_x86_64}", "    - {name: a, python: \"3.8\", platform: manylinux_x86_64}", "  installs: [{name: a, requirements: [a]}]"), 5, "python.targets[1].name", "already listed as python.targets[0].name (line 4)"},
		{"target python missing", pyDoc("  targets:", "    - name: a", "      platform: manylinux_x86_64", "  installs: [{name: a, requirements: [a]}]"), 4, "python.targets[0].python", "required"},
		{"target python full version", pyDoc("  targets:", "    - name: a", "      python: 3.6.9", "      platform: manylinux_x86_64", "  installs: [{name: a, requirements: [a]}]"), 5, "python.targets[0].python", "major.minor"},
		{"target python_full other minor", pyDoc("  targets:", "    - name: a", "      python: \"3.6\"", "      python_full: 3.8.10", "      platform: manylinux_x86_64", "  installs: [{name: a, requirements: [a]}]"), 6, "python.targets[0].python_full", "not a release of python 3.6"},
		{"target platform windows", pyDoc("  targets:", "    - name: a", "      python: \"3.6\"", "      platform: win_amd64", "  installs: [{name: a, requirements: [a]}]"), 6, "python.targets[0].platform", "manylinux_<arch>"},
		{"target glibc", pyDoc("  targets:", "    - name: a", "      python: \"3.6\"", "      platform: manylinux_x86_64", "      glibc: \"2\"", "  installs: [{name: a, requirements: [a]}]"), 7, "python.targets[0].glibc", "2.N"},
		{"install name missing", pyDoc("  targets: [{name: a, python: \"3.6\", platform: manylinux_x86_64}]", "  installs:", "    - requirements: [a]"), 5, "python.installs[0].name", "required"},
		{"install name repeated", pyDoc("  targets: [{name: a, python: \"3.6\", platform: manylinux_x86_64}]", "  installs:", "    - {name: a, requirements: [a]}", "    - {name: a, requirements: [b]}"), 6, "python.installs[1].name", "already listed as python.installs[0].name (line 5)"},
		{"install without requirements", pyDoc("  targets: [{name: a, python: \"3.6\", platform: manylinux_x86_64}]", "  installs:", "    - name: a", "      requirements: []"), 6, "python.installs[0].requirements", "at least one requirement"},
		{"requirement without a name", pyDoc("  targets: [{name: a, python: \"3.6\", platform: manylinux_x86_64}]", "  installs:", "    - name: a", "      requirements:", "        - jinja2", "        - \">=2.0\""), 8, "python.installs[0].requirements[1]", "must start with a project name"},
		{"requirement blank", pyDoc("  targets: [{name: a, python: \"3.6\", platform: manylinux_x86_64}]", "  installs:", "    - name: a", "      requirements: [\" \"]"), 6, "python.installs[0].requirements[0]", "must start with a project name"},
		{"requirements not a list", pyDoc("  targets: [{name: a, python: \"3.6\", platform: manylinux_x86_64}]", "  installs:", "    - name: a", "      requirements: jinja2"), 6, "python.installs[0].requirements", "must be a list of strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Parse("test.yaml", tt.data)
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", m)
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("error %T %v is not a *ValidationError", err, err)
			}
			prefix := "test.yaml:"
			if tt.line > 0 {
				prefix += fmt.Sprint(tt.line) + ":"
			}
			if tt.field != "" {
				prefix += " " + tt.field + ":"
			}
			for _, fe := range ve.Errors {
				if fe.Source == "test.yaml" && fe.Line == tt.line && fe.Field == tt.field && strings.Contains(fe.Msg, tt.msg) {
					if s := fe.Error(); !strings.HasPrefix(s, prefix) || !strings.Contains(err.Error(), s) {
						t.Errorf("FieldError.Error() = %q, want prefix %q, inside %q", s, prefix, err)
					}
					return
				}
			}
			t.Errorf("no error at line %d, field %q, containing %q; got:\n%v", tt.line, tt.field, tt.msg, err)
		})
	}
}

func TestParseCollectsEveryError(t *testing.T) {
	data := doc(
		"name: x",
		"images:",
		"  - ref: a",            // 3: no tag
		"    platform: [linux]", // 4: unknown key
		"  - ref: b:1",
		"    digest: md5:1", // 6: bad digest
		"files:",
		"  - url: ftp://h/f", // 8: bad scheme, no checksum
	)
	_, err := Parse("m.yaml", data)
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("got %v, want a *ValidationError", err)
	}
	var got []string
	for _, fe := range ve.Errors {
		got = append(got, fmt.Sprintf("%d %s", fe.Line, fe.Field))
	}
	want := []string{"3 images[0].ref", "4 images[0].platform", "6 images[1].digest", "8 files[0].url", "8 files[0].sha256"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("errors at %v, want %v", got, want)
	}
	if n := strings.Count(err.Error(), "\n") + 1; n != len(want) {
		t.Errorf("Error() has %d lines, want %d:\n%v", n, len(want), err)
	}
}

func TestParseSkipsFollowOnErrors(t *testing.T) {
	// A ref that is not a string must not also be reported as missing.
	_, err := Parse("m.yaml", doc("name: x", "images:", "  - ref: [a]"))
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Errors) != 1 {
		t.Fatalf("got %v, want exactly one error", err)
	}
}

func TestParseAnchors(t *testing.T) {
	data := doc(
		"name: x",
		"groups: [{name: g}]",
		"images:",
		"  - ref: a:1",
		"    groups: &core [g]",
		"  - ref: b:1",
		"    groups: *core",
	)
	m, err := Parse("m.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(m.Images[1].Groups) != "[g]" {
		t.Errorf("groups through an alias = %v, want [g]", m.Images[1].Groups)
	}
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	t.Run("missing file", func(t *testing.T) {
		p := filepath.Join(dir, "nope.yaml")
		_, err := Load(p)
		if !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("got %v, want fs.ErrNotExist", err)
		}
		if !strings.Contains(err.Error(), "paimirror manifest > "+p) {
			t.Errorf("error %q does not say how to create the file", err)
		}
	})
	t.Run("valid file", func(t *testing.T) {
		p := filepath.Join(dir, "ok.yaml")
		if err := os.WriteFile(p, doc("name: ok", "images: [{ref: a:1}]"), 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Load(p)
		if err != nil {
			t.Fatal(err)
		}
		if m.Source != p || len(m.Images) != 1 {
			t.Errorf("got Source %q, %d images", m.Source, len(m.Images))
		}
	})
	t.Run("invalid file names itself", func(t *testing.T) {
		p := filepath.Join(dir, "bad.yaml")
		if err := os.WriteFile(p, doc("name: bad", "images: [{ref: a}]"), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(p)
		if err == nil || !strings.HasPrefix(err.Error(), p+":2: images[0].ref:") {
			t.Errorf("got %v, want it to start with %s:2: images[0].ref:", err, p)
		}
	})
	t.Run("directory", func(t *testing.T) {
		if _, err := Load(dir); err == nil {
			t.Error("Load of a directory succeeded")
		}
	})
}

func TestValidateBuiltInGo(t *testing.T) {
	m := &Manifest{
		Name:   "go",
		Images: []Image{{Ref: "127.0.0.1:5000/test/img:v1"}},
		Files:  []File{{URL: "http://127.0.0.1:8080/f", SHA256: hexA}},
	}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	m.Images = append(m.Images, Image{Ref: "nope", Line: 9})
	err := m.Validate()
	if err == nil || err.Error() != `line 9: images[1].ref: image reference "nope" has no tag: give one explicitly (e.g. nope:latest); it is never implied` &&
		!strings.HasPrefix(err.Error(), "line 9: images[1].ref: ") {
		t.Errorf("got %v", err)
	}
}

func TestFieldErrorFormat(t *testing.T) {
	tests := []struct {
		fe   FieldError
		want string
	}{
		{FieldError{"a.yaml", 3, "images[0].ref", "bad"}, "a.yaml:3: images[0].ref: bad"},
		{FieldError{"a.yaml", 0, "name", "required"}, "a.yaml: name: required"},
		{FieldError{"a.yaml", 7, "", "yaml: oops"}, "a.yaml:7: yaml: oops"},
		{FieldError{"", 2, "name", "required"}, "line 2: name: required"},
		{FieldError{"", 0, "", "bad"}, "bad"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.fe.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	t.Run("alias expansion", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("name: x\ngroups: [{name: g}]\nimages:\n  - ref: a:1\n    groups: &l [")
		b.WriteString(strings.Repeat("g,", 3000))
		b.WriteString("g]\n")
		for i := range 3000 {
			fmt.Fprintf(&b, "  - {ref: a%d:1, groups: *l}\n", i)
		}
		_, err := Parse("bomb.yaml", []byte(b.String()))
		if err == nil || !strings.Contains(err.Error(), "aliases to too many nodes") {
			t.Fatalf("got %.300v, want the alias expansion refused", err)
		}
		if n := strings.Count(err.Error(), "\n") + 1; n > maxErrors+1 {
			t.Errorf("%d problems reported", n)
		}
	})
	t.Run("many problems", func(t *testing.T) {
		var b strings.Builder
		b.WriteString("name: x\nimages:\n")
		for i := range 500 {
			fmt.Fprintf(&b, "  - ref: a%d\n", i)
		}
		_, err := Parse("many.yaml", []byte(b.String()))
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("got %v", err)
		}
		if len(ve.Errors) != maxErrors+1 || !strings.Contains(ve.Errors[maxErrors].Msg, "too many problems") {
			t.Errorf("got %d problems, last %q; want %d and a note", len(ve.Errors), ve.Errors[len(ve.Errors)-1].Msg, maxErrors+1)
		}
	})
}
