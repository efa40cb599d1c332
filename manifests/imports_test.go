package manifests_test

// The import rule of the module's rooms (README, Development), checked on
// the real tree from the bottom room: `go list` reports every package's
// imports, and importViolations says which break the rule.

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// module is the module path; imports outside it are not checked.
const module = "github.com/paimirror/paimirror"

// mayImport names, for each room (a top-level directory), the other rooms
// its non-test code may import: imports flow cmd → installer, registry,
// fileserver, bundle → manifests.
var mayImport = map[string][]string{
	"manifests":  nil,
	"bundle":     {"manifests"},
	"registry":   {"bundle", "manifests"},
	"fileserver": {"bundle", "manifests"},
	"installer":  {"bundle", "manifests"},
	"cmd":        {"installer", "registry", "fileserver", "bundle", "manifests"},
}

// sharedWith names the packages below one room that the README says
// another room shares, and the rooms that may import them.
var sharedWith = map[string][]string{
	"fileserver/logclip": {"registry"},
}

// keptApart names packages whose non-test code must not import some
// packages of their own room (a name covers the packages below it, but
// not the importer's own nor one sharedWith other rooms), and why.
var keptApart = map[string]struct {
	not []string
	why string
}{
	"installer/pai": {[]string{"installer"},
		"it is the bottom of the installer: the other installer packages read pai's files through it"},
	"installer/storage": {[]string{"installer/patch"},
		"the storage step reads pai's files through installer/pai and edits them with manifests/yamltext, not through the patch step"},
	"installer/internal/quickstart": {[]string{"installer/steps"},
		"quickstart only runs pai's two scripts: the install's steps, their state and progress are installer/steps', which the installer drives"},
	"installer/steps": {[]string{"installer"},
		"the step engine knows no step: every installer package may use it, and it uses none of them"},
	"fileserver/files": {[]string{"fileserver"},
		"the files and pages know nothing of the listener that routes, counts and serves them (fileserver imports files, never the reverse)"},
	"fileserver/tlsca": {[]string{"fileserver"},
		"the CA is the listener's: it uses no other fileserver package"},
	"manifests/redact": {[]string{"manifests"},
		"it is the one rule of what a URL may show, used by every room: it imports nothing of the module"},
}

// below reports whether package q is p or below it.
func below(q, p string) bool { return q == p || strings.HasPrefix(q, p+"/") }

// pkgImports is what the rule needs of a package: its path below the
// module and the module packages its non-test and test files import.
type pkgImports struct {
	Path        string
	Imports     []string
	TestImports []string // of _test.go files, in package or external
}

// room returns the top-level directory of a path below the module.
func room(p string) string {
	r, _, _ := strings.Cut(p, "/")
	return r
}

// testAid reports whether p is a package only tests use: a stand-in or
// harness (bundletest, apttest, pypitest, kubetest, paitest and what is
// below bundle/bundletest) or cmd/demo-upstream, the demo's stand-in for
// the internet.
func testAid(p string) bool {
	last := p[strings.LastIndex(p, "/")+1:]
	return (strings.HasSuffix(last, "test") && last != "test") ||
		strings.HasPrefix(p, "bundle/bundletest/") || p == "cmd/demo-upstream"
}

// importViolations returns one line for each import in pkgs that breaks
// the rule: non-test code imports its own room and the rooms mayImport
// names (and the packages sharedWith it), but not what keptApart keeps
// from it, and a test aid only where it is a test aid itself; tests
// import anything but cmd; nothing imports cmd.
func importViolations(pkgs []pkgImports) []string {
	var out []string
	for _, p := range pkgs {
		from := room(p.Path)
		allowed, known := mayImport[from]
		if !known {
			out = append(out, p.Path+" is in no room: the top level holds only cmd, bundle, registry, fileserver, installer and manifests")
			continue
		}
		for _, q := range p.Imports {
			to := room(q)
			switch {
			case to == "cmd":
				out = append(out, p.Path+" imports "+q+": nothing imports cmd")
			case testAid(q) && !testAid(p.Path):
				out = append(out, p.Path+" imports "+q+": only tests and test aids import a test aid")
			case to != from && !slices.Contains(allowed, to) && !slices.Contains(sharedWith[q], from):
				out = append(out, p.Path+" imports "+q+": "+from+" may import only "+rooms(from))
			default:
				apart := keptApart[p.Path]
				if slices.ContainsFunc(apart.not, func(n string) bool { return below(q, n) && !below(q, p.Path) && sharedWith[q] == nil }) {
					out = append(out, p.Path+" imports "+q+": "+apart.why)
				}
			}
		}
		for _, q := range p.TestImports {
			if room(q) == "cmd" {
				out = append(out, p.Path+"'s tests import "+q+": nothing imports cmd")
			}
		}
	}
	return out
}

// rooms says what room r may import, for a message.
func rooms(r string) string {
	s := strings.Join(append([]string{r}, mayImport[r]...), ", ")
	for q, by := range sharedWith {
		if slices.Contains(by, r) {
			s += ", " + q
		}
	}
	return s + " (imports flow cmd → installer, registry, fileserver, bundle → manifests)"
}

// listImports runs `go list` on the whole module and returns its packages'
// module imports, paths below the module.
func listImports(t *testing.T) []pkgImports {
	t.Helper()
	cmd := exec.Command("go", "list", "-json=ImportPath,Imports,TestImports,XTestImports", module+"/...")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	below := func(paths []string) []string {
		var r []string
		for _, p := range paths {
			if rest, ok := strings.CutPrefix(p, module+"/"); ok {
				r = append(r, rest)
			}
		}
		return r
	}
	var pkgs []pkgImports
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p struct {
			ImportPath                         string
			Imports, TestImports, XTestImports []string
		}
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading go list's output: %v", err)
		}
		path, ok := strings.CutPrefix(p.ImportPath, module+"/")
		if !ok {
			path = p.ImportPath
		}
		pkgs = append(pkgs, pkgImports{
			Path:        path,
			Imports:     below(p.Imports),
			TestImports: below(append(p.TestImports, p.XTestImports...)),
		})
	}
	return pkgs
}

// TestImportRule checks the module's real imports against the rule.
func TestImportRule(t *testing.T) {
	pkgs := listImports(t)
	seen := map[string]bool{}
	for _, p := range pkgs {
		seen[p.Path] = true
	}
	// go list saw the module, not an empty or foreign tree.
	for _, want := range []string{"manifests", "bundle", "registry", "fileserver", "installer", "cmd/paimirror"} {
		if !seen[want] {
			t.Fatalf("go list did not report %s; got %d packages", want, len(pkgs))
		}
	}
	for _, v := range importViolations(pkgs) {
		t.Error(v)
	}
}

func TestImportViolations(t *testing.T) {
	tests := []struct {
		name string
		pkg  pkgImports
		want string // "" for none
	}{
		{"manifests below itself", pkgImports{Path: "manifests", Imports: []string{"manifests/yamltext"}}, ""},
		{"manifests up", pkgImports{Path: "manifests/shell", Imports: []string{"bundle"}},
			"manifests/shell imports bundle: manifests may import only manifests (imports flow"},
		{"bundle down", pkgImports{Path: "bundle/push", Imports: []string{"bundle", "manifests/shell"}}, ""},
		{"bundle up", pkgImports{Path: "bundle/sbom", Imports: []string{"fileserver"}},
			"bundle/sbom imports fileserver: bundle may import only bundle, manifests (imports flow"},
		{"registry to installer", pkgImports{Path: "registry", Imports: []string{"installer/nodes"}},
			"registry imports installer/nodes: registry may import only registry, bundle, manifests, fileserver/logclip"},
		{"registry shares logclip", pkgImports{Path: "registry", Imports: []string{"fileserver/logclip"}}, ""},
		{"registry beside fileserver", pkgImports{Path: "registry", Imports: []string{"fileserver"}},
			"registry imports fileserver: registry may import"},
		{"installer shares no logclip", pkgImports{Path: "installer", Imports: []string{"fileserver/logclip"}},
			"installer imports fileserver/logclip: installer may import only installer, bundle, manifests"},
		{"fileserver to registry", pkgImports{Path: "fileserver", Imports: []string{"registry"}},
			"fileserver imports registry: fileserver may import"},
		{"installer pushes", pkgImports{Path: "installer", Imports: []string{"bundle/push", "manifests"}}, ""},
		{"installer to cmd", pkgImports{Path: "installer", Imports: []string{"cmd/paimirror"}},
			"installer imports cmd/paimirror: nothing imports cmd"},
		{"cmd to all", pkgImports{Path: "cmd/paimirror", Imports: []string{"installer", "registry", "fileserver", "bundle/sign", "manifests"}}, ""},
		{"code to a test aid", pkgImports{Path: "bundle", Imports: []string{"bundle/bundletest/testenv"}},
			"bundle imports bundle/bundletest/testenv: only tests and test aids import a test aid"},
		{"cmd to a test aid", pkgImports{Path: "cmd/paimirror", Imports: []string{"bundle/bundletest"}},
			"cmd/paimirror imports bundle/bundletest: only tests and test aids"},
		{"test aid to a test aid", pkgImports{Path: "installer/kube/kubetest", Imports: []string{"bundle/bundletest"}}, ""},
		{"test aid up", pkgImports{Path: "bundle/bundletest", Imports: []string{"registry"}},
			"bundle/bundletest imports registry: bundle may import only"},
		{"tests anywhere", pkgImports{Path: "bundle", TestImports: []string{"fileserver", "bundle/bundletest"}}, ""},
		{"tests to cmd", pkgImports{Path: "bundle", TestImports: []string{"cmd/paimirror"}},
			"bundle's tests import cmd/paimirror: nothing imports cmd"},
		{"no room", pkgImports{Path: "util"}, "util is in no room"},
		{"storage to patch", pkgImports{Path: "installer/storage", Imports: []string{"installer/pai", "installer/patch"}},
			"installer/storage imports installer/patch: the storage step reads pai's files through installer/pai"},
		{"storage's tests to patch", pkgImports{Path: "installer/storage", TestImports: []string{"installer/patch"}}, ""},
		{"patch to storage", pkgImports{Path: "installer/patch", Imports: []string{"installer/storage"}}, ""},
		{"pai to the installer", pkgImports{Path: "installer/pai", Imports: []string{"manifests/yamltext", "installer/nodes"}},
			"installer/pai imports installer/nodes: it is the bottom of the installer"},
		{"pai to the installer's root", pkgImports{Path: "installer/pai", Imports: []string{"installer"}},
			"installer/pai imports installer: it is the bottom of the installer"},
		{"pai's test aid to pai", pkgImports{Path: "installer/pai/paitest", Imports: []string{"installer/pai"}}, ""},
		{"quickstart to the step engine", pkgImports{Path: "installer/internal/quickstart", Imports: []string{"installer/pai", "installer/steps"}},
			"installer/internal/quickstart imports installer/steps: quickstart only runs pai's two scripts"},
		{"quickstart's tests to the step engine", pkgImports{Path: "installer/internal/quickstart", TestImports: []string{"installer/steps"}}, ""},
		{"the step engine to a step", pkgImports{Path: "installer/steps", Imports: []string{"manifests/atomicfile", "installer/internal/quickstart"}},
			"installer/steps imports installer/internal/quickstart: the step engine knows no step"},
		{"storage to the step engine", pkgImports{Path: "installer/storage", Imports: []string{"installer/steps"}}, ""},
		{"the listener to its files and CA", pkgImports{Path: "fileserver", Imports: []string{"fileserver/files", "fileserver/tlsca", "fileserver/logclip", "bundle"}}, ""},
		{"the files to the listener", pkgImports{Path: "fileserver/files", Imports: []string{"fileserver/logclip", "fileserver"}},
			"fileserver/files imports fileserver: the files and pages know nothing of the listener"},
		{"the files to the CA", pkgImports{Path: "fileserver/files", Imports: []string{"fileserver/tlsca"}},
			"fileserver/files imports fileserver/tlsca: the files and pages know nothing of the listener"},
		{"the files' tests to the listener", pkgImports{Path: "fileserver/files", TestImports: []string{"fileserver"}}, ""},
		{"the CA to the listener", pkgImports{Path: "fileserver/tlsca", Imports: []string{"fileserver"}},
			"fileserver/tlsca imports fileserver: the CA is the listener's"},
		{"the files to the registry", pkgImports{Path: "fileserver/files", Imports: []string{"registry"}},
			"fileserver/files imports registry: fileserver may import"},
		{"everyone to redact", pkgImports{Path: "bundle/internal/fetch", Imports: []string{"manifests/redact"}}, ""},
		{"the listener to redact", pkgImports{Path: "fileserver", Imports: []string{"manifests/redact"}}, ""},
		{"redact to the manifest", pkgImports{Path: "manifests/redact", Imports: []string{"manifests"}},
			"manifests/redact imports manifests: it is the one rule of what a URL may show"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := importViolations([]pkgImports{tt.pkg})
			if tt.want == "" {
				if len(got) != 0 {
					t.Errorf("violations %q, want none", got)
				}
				return
			}
			if len(got) != 1 || !strings.HasPrefix(got[0], tt.want) {
				t.Errorf("violations %q, want one starting %q", got, tt.want)
			}
		})
	}
}
