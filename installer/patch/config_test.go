package patch

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/manifests"
	"github.com/paimirror/paimirror/manifests/yamltext"
	"github.com/rogpeppe/go-internal/diff"
	"github.com/rogpeppe/go-internal/txtar"
	"go.yaml.in/yaml/v3"
)

// TestPatchConfig runs the cases in testdata/config/*.txtar. Each holds
// config.yaml and either the expected want.yaml and warnings or the
// expected error; -update rewrites those.
func TestPatchConfig(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "config", "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	vars := manifests.KubesprayVars(testMirror, "http")
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			in := section(ar, "config.yaml")
			if in == nil {
				t.Fatal("no config.yaml section")
			}
			out, warnings, err := patchConfig("config.yaml", in, vars)
			got := map[string][]byte{}
			if err != nil {
				got["error"] = []byte(err.Error() + "\n")
			} else {
				got["want.yaml"] = out
				got["warnings"] = warningsText(warnings)
			}
			if *update {
				var kept []txtar.File
				for _, f := range ar.Files {
					if f.Name == "config.yaml" {
						kept = append(kept, f)
					}
				}
				for _, name := range []string{"want.yaml", "warnings", "error"} {
					if data, ok := got[name]; ok {
						kept = append(kept, txtar.File{Name: name, Data: data})
					}
				}
				ar.Files = kept
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			for _, name := range []string{"want.yaml", "warnings", "error"} {
				want := section(ar, name)
				g, ok := got[name]
				switch {
				case want == nil && ok:
					t.Errorf("unexpected %s:\n%s", name, g)
				case want != nil && !ok:
					t.Errorf("no %s, want:\n%s", name, want)
				case want != nil && string(g) != string(want):
					t.Errorf("%s differs (go test -update rewrites it):\n%s", name, diff.Diff("want", want, "got", g))
				}
			}
			if err != nil {
				return
			}
			// Idempotent: patching the result changes nothing.
			again, _, err := patchConfig("config.yaml", out, vars)
			if err != nil {
				t.Fatalf("patching the result: %v", err)
			}
			if string(again) != string(out) {
				t.Errorf("a second patch changes the result:\n%s", diff.Diff("first", out, "second", again))
			}
			checkUserLinesKept(t, in, out, vars)
		})
	}
}

// section returns the content of the archive's file name, or nil.
func section(ar *txtar.Archive, name string) []byte {
	for _, f := range ar.Files {
		if f.Name == name {
			if f.Data == nil {
				return []byte{}
			}
			return f.Data
		}
	}
	return nil
}

// checkUserLinesKept checks that every input line is still in the output,
// in the same order, except the lines of the wanted variables' entries
// (which are replaced) and of a flow-style openpai_kubespray_extra_var
// (which is rewritten).
func checkUserLinesKept(t *testing.T, in, out []byte, vars []manifests.Var) {
	t.Helper()
	outLines := yamltext.Lines(out)
	j := 0
	skipDeeper := -1 // skip lines indented deeper than this
	for _, l := range yamltext.Lines(in) {
		trim := strings.TrimSpace(l)
		if skipDeeper >= 0 {
			if trim == "" || yamltext.Indent(l) > skipDeeper {
				continue
			}
			skipDeeper = -1
		}
		skip := strings.HasPrefix(trim, extraVarKey+":") && strings.ContainsAny(trim, "{~")
		for _, v := range vars {
			skip = skip || strings.HasPrefix(trim, v.Name+":")
		}
		if skip {
			skipDeeper = yamltext.Indent(l)
			continue
		}
		for j < len(outLines) && outLines[j] != l {
			j++
		}
		if j == len(outLines) {
			t.Errorf("line %q is gone or moved", l)
			return
		}
		j++
	}
}

// TestPatchConfigCRLF checks that a CRLF file stays CRLF, and that a last
// line without a newline gets one before the added block.
func TestPatchConfigCRLF(t *testing.T) {
	vars := manifests.KubesprayVars(testMirror, "http")
	for _, tc := range []struct{ name, in string }{
		{"crlf", "user: u\r\npassword: p\r\ndocker_image_tag: v1.8.0\r\n"},
		{"no final newline", "user: u\npassword: p\ndocker_image_tag: v1.8.0"},
		{"block last, no final newline", "user: u\npassword: p\ndocker_image_tag: v1.8.0\nopenpai_kubespray_extra_var:\n  kube_proxy_mode: ipvs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := patchConfig("config.yaml", []byte(tc.in), vars)
			if err != nil {
				t.Fatal(err)
			}
			s := string(out)
			if tc.name == "crlf" && strings.Count(s, "\r\n") != strings.Count(s, "\n") {
				t.Errorf("mixed line endings:\n%q", s)
			}
			if !strings.Contains(s, "docker_image_tag: v1.8.0\n") && !strings.Contains(s, "docker_image_tag: v1.8.0\r\n") {
				t.Errorf("docker_image_tag line lost its newline:\n%s", s)
			}
			var m map[string]any
			if err := yaml.Unmarshal(out, &m); err != nil {
				t.Fatal(err)
			}
			block, _ := m[extraVarKey].(map[string]any)
			for _, v := range vars {
				if block[v.Name] != v.Value {
					t.Errorf("%s = %v", v.Name, block[v.Name])
				}
			}
			if tc.name == "block last, no final newline" && block["kube_proxy_mode"] != "ipvs" {
				t.Errorf("kube_proxy_mode = %v", block["kube_proxy_mode"])
			}
		})
	}
}
