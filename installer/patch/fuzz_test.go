package patch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/installer/pai"
	"github.com/paimirror/paimirror/manifests"
	"github.com/paimirror/paimirror/manifests/yamltext"
	"github.com/rogpeppe/go-internal/txtar"
	"go.yaml.in/yaml/v3"
)

func FuzzPatchConfig(f *testing.F) {
	f.Add(readFileF(f, filepath.Join("testdata", "pai", filepath.FromSlash(pai.ConfigFile))))
	files, _ := filepath.Glob(filepath.Join("testdata", "config", "*.txtar"))
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			f.Fatal(err)
		}
		if in := section(ar, "config.yaml"); in != nil {
			f.Add(in)
		}
	}
	vars := manifests.KubesprayVars(testMirror, "http")
	f.Fuzz(func(t *testing.T, data []byte) {
		out, _, err := patchConfig("fuzz.yaml", data, vars)
		if err != nil {
			return
		}
		if _, err := yamltext.DecodeOne(data); err != nil {
			t.Fatalf("patched input that does not parse: %v", err)
		}
		var in, res any
		if err := yaml.Unmarshal(data, &in); err == nil {
			if err := yaml.Unmarshal(out, &res); err != nil {
				t.Fatalf("the input parses, the result does not: %v\n%s", err, out)
			}
		}
		again, _, err := patchConfig("fuzz.yaml", out, vars)
		if err != nil {
			t.Fatalf("patching the result: %v\n%s", err, out)
		}
		if string(again) != string(out) {
			t.Fatalf("patching is not idempotent:\n%s\nthen\n%s", out, again)
		}
	})
}

func readFileF(f *testing.F, path string) []byte {
	f.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	return data
}

// FuzzEvalCondition: any when: text evaluates without panicking, and
// "not (X)" is the negation of X (unknown stays unknown).
func FuzzEvalCondition(f *testing.F) {
	for _, s := range []string{
		`ansible_distribution_version is version('20.04', '=')`,
		`ansible_distribution == "Ubuntu" and ansible_distribution_version is version('16.04', '>=')`,
		`ansible_lsb['codename'] not in ['xenial', 'bionic'] or x|int > 3`,
		`(a or (b and not c)`, `'unterminated`, `x is version(operator='lt')`, ``,
	} {
		f.Add(s)
	}
	ts, err := parseTargets(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, expr string) {
		for _, tg := range ts {
			r := evalCondition(expr, tg.facts)
			if n := evalCondition("not ("+expr+")", tg.facts); r != unknown && n != not3(r) {
				t.Fatalf("%s = %v but its negation = %v", expr, r, n)
			}
		}
		offByWhen([]byte("- name: t\n  apt: name=x\n  when: "+expr+"\n"), []int{2}, ts)
	})
}

// FuzzPatchConfigRegistry: with a registry's top-level keys too, a
// config.yaml that patches gives one that parses, holds every key with
// its value, and patches to itself.
func FuzzPatchConfigRegistry(f *testing.F) {
	f.Add(readFileF(f, filepath.Join("testdata", "pai", filepath.FromSlash(pai.ConfigFile))))
	f.Add([]byte("docker_image_tag: v1\n# docker_registry_domain: docker.io\ndocker_registry_password: [a, b]\n"))
	f.Add([]byte("docker_image_tag: v1\ndocker_registry_namespace: |\n  x\n# docker_registry_username: u\n"))
	reg := &Registry{Prefix: testRegistry, Username: "robot$x", Password: testPassword}
	vars, top := manifests.KubesprayRegistryVars(reg.Prefix), reg.topVars()
	f.Fuzz(func(t *testing.T, data []byte) {
		out, _, err := patchConfigTop("fuzz.yaml", data, vars, top)
		if err != nil {
			if strings.Contains(err.Error(), "HOME;") {
				t.Fatalf("the error shows the password: %v", err)
			}
			return
		}
		if err := checkConfig("fuzz.yaml", out, nil, map[string]string{registryDomainKey: "harbor.lab"}); err != nil {
			t.Fatalf("the result: %v\n%s", err, out)
		}
		var in, res map[string]any
		if yaml.Unmarshal(data, &in) != nil {
			return // PyYAML reads duplicate keys, yaml.v3's Unmarshal does not
		}
		if err := yaml.Unmarshal(out, &res); err != nil {
			t.Fatalf("the input parses, the result does not: %v\n%s", err, out)
		}
		for _, v := range top {
			if res[v.Name] != v.Value {
				t.Fatalf("%s = %#v, want %#v\n%s", v.Name, res[v.Name], v.Value, out)
			}
		}
		again, _, err := patchConfigTop("fuzz.yaml", out, vars, top)
		if err != nil || string(again) != string(out) {
			t.Fatalf("patching the result: %v\n%s\nthen\n%s", err, out, again)
		}
	})
}
