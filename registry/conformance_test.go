package registry

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The OCI distribution-spec conformance suite, as served by the Go module
// proxy. Its results against this package are recorded in CONFORMANCE.md.
const (
	conformanceModule  = "github.com/opencontainers/distribution-spec/conformance"
	conformanceVersion = "v0.0.0-20260831232431-97274622c111"
)

var conformanceBin struct {
	sync.Once
	path string
	err  error
}

// conformanceBinary builds the suite once and caches the binary under
// $PAIMIRROR_CACHE (default: the user cache dir's paimirror/), keyed by
// version. The module is fetched with go mod download and built in a
// temporary copy (the module cache is read-only). The suite says "go
// test" is its deprecated entry point, so it is built with go build.
func conformanceBinary(t *testing.T) string {
	t.Helper()
	conformanceBin.Do(func() {
		cache := os.Getenv("PAIMIRROR_CACHE")
		if cache == "" {
			dir, err := os.UserCacheDir()
			if err != nil {
				conformanceBin.err = err
				return
			}
			cache = filepath.Join(dir, "paimirror")
		}
		bin := filepath.Join(cache, "oci-conformance-"+conformanceVersion)
		if _, err := os.Stat(bin); err == nil {
			conformanceBin.path = bin
			return
		}
		conformanceBin.path, conformanceBin.err = buildConformance(bin)
	})
	if conformanceBin.err != nil {
		t.Fatalf("building the conformance suite: %v", conformanceBin.err)
	}
	return conformanceBin.path
}

func buildConformance(bin string) (string, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return "", err
	}
	work, err := os.MkdirTemp("", "oci-conformance-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	goCmd := func(dir string, args ...string) ([]byte, error) {
		cmd := exec.Command(goBin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod", "GOWORK=off")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
		}
		return out, nil
	}
	out, err := goCmd(work, "mod", "download", "-json", conformanceModule+"@"+conformanceVersion)
	if err != nil {
		return "", err
	}
	var mod struct{ Dir string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return "", fmt.Errorf("go mod download: no module directory in %q", out)
	}
	src := filepath.Join(work, "src")
	if err := os.CopyFS(src, os.DirFS(mod.Dir)); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	tmp := bin + ".tmp"
	if _, err := goCmd(src, "build", "-buildvcs=false", "-o", tmp, "."); err != nil {
		return "", err
	}
	return bin, os.Rename(tmp, bin)
}

// conformanceCase is one leaf test of the suite's report.
type conformanceCase struct {
	Name   string
	Status string // Pass, FAIL, Skip, Disabled, Error
	Errs   []string
}

// runConformance runs the suite against host with env (OCI_* settings) and
// returns its leaf test cases and its printed report. The cases come from
// the printed "Test results" tree: with push disabled the suite crashes
// while writing results.yaml, before its JUnit report, but after printing.
func runConformance(t *testing.T, host string, env ...string) ([]conformanceCase, string) {
	t.Helper()
	bin := conformanceBinary(t)
	dir := t.TempDir()
	cmd := exec.Command(bin)
	cmd.Dir = dir // the suite reads ./oci-conformance.yaml if present
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OCI_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"OCI_REGISTRY="+host,
		"OCI_TLS=disabled",
		"OCI_RESULTS_DIR="+filepath.Join(dir, "results"),
	)
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Logf("conformance exited with %v", err)
	}
	cases := parseConformance(stdout.String())
	if len(cases) == 0 {
		t.Fatalf("no test results from the suite:\n%s\n%s", stdout.String(), stderr.String())
	}
	return cases, stdout.String()
}

var resultLine = regexp.MustCompile(`^( *)(OCI Conformance Test[^:]*): (Pass|FAIL|Skip|Disabled|Error|Unknown)$`)

func parseConformance(out string) []conformanceCase {
	_, tree, ok := strings.Cut(out, "Test results\n")
	if !ok {
		return nil
	}
	tree, _, _ = strings.Cut(tree, "\n\n")
	type entry struct {
		indent int
		c      conformanceCase
	}
	var entries []entry
	for _, line := range strings.Split(tree, "\n") {
		if m := resultLine.FindStringSubmatch(line); m != nil {
			entries = append(entries, entry{len(m[1]), conformanceCase{Name: m[2], Status: m[3]}})
		} else if len(entries) > 0 {
			last := &entries[len(entries)-1].c
			last.Errs = append(last.Errs, strings.TrimSpace(line))
		}
	}
	var cases []conformanceCase
	for i, e := range entries {
		if i+1 < len(entries) && entries[i+1].indent > e.indent {
			continue // not a leaf
		}
		cases = append(cases, e.c)
	}
	return cases
}

// expectedFailure names a group of conformance cases (by name prefix) that
// fail for a reason recorded in CONFORMANCE.md.
type expectedFailure struct {
	prefix, reason string
}

// checkConformance fails the test for every case that did not pass unless
// an expected failure covers it, and for every expected failure that no
// longer fails, so CONFORMANCE.md stays true.
func checkConformance(t *testing.T, cases []conformanceCase, out string, expected []expectedFailure) {
	t.Helper()
	counts := map[string]int{}
	used := map[string]bool{}
	for _, c := range cases {
		counts[c.Status]++
		if c.Status == "Pass" || c.Status == "Skip" || c.Status == "Disabled" {
			continue
		}
		i := slices.IndexFunc(expected, func(e expectedFailure) bool { return strings.HasPrefix(c.Name, e.prefix) })
		if i < 0 {
			t.Errorf("%s: %s\n  %s", c.Name, c.Status, strings.Join(c.Errs, "\n  "))
			continue
		}
		used[expected[i].prefix] = true
	}
	for _, e := range expected {
		if !used[e.prefix] {
			t.Errorf("%s* no longer fails (%s): update CONFORMANCE.md and this list", e.prefix, e.reason)
		}
	}
	t.Logf("%d cases: %d passed, %d failed as expected or not, %d disabled, %d skipped",
		len(cases), counts["Pass"], counts["FAIL"]+counts["Error"], counts["Disabled"], counts["Skip"])
	if t.Failed() || testing.Verbose() {
		t.Logf("report:\n%s", out)
	}
}

// TestConformancePull runs the suite's pull tests against the read-only
// default bundle, with library/busybox:1.31.1 as the preloaded content
// (push, delete and the data the suite would push are off).
func TestConformancePull(t *testing.T) {
	f := defaultBundle(t)
	_, host := serve(t, f.b)
	var img = f.b.Lock.Images[0]
	for _, i := range f.b.Lock.Images {
		if slices.Contains(i.Names, "library/busybox:1.31.1") {
			img = i
		}
	}
	var blobs []string
	for _, b := range img.Blobs() {
		blobs = append(blobs, string(b.Digest))
	}
	cases, out := runConformance(t, host,
		"OCI_REPO1=library/busybox",
		"OCI_REPO2=library/busybox",
		"OCI_API_PUSH=false",
		"OCI_API_BLOBS_DELETE=false",
		"OCI_API_MANIFESTS_DELETE=false",
		"OCI_API_TAGS_DELETE=false",
		"OCI_RO_DATA_TAGS=1.31.1",
		"OCI_RO_DATA_MANIFESTS="+string(img.Digest),
		"OCI_RO_DATA_BLOBS="+strings.Join(blobs, " "),
	)
	checkConformance(t, cases, out, nil)
}

// TestConformanceWritable runs the whole suite (push, pull, content
// discovery, management) against a writable registry over the small
// bundle.
func TestConformanceWritable(t *testing.T) {
	f := smallBundle(t)
	_, host := serve(t, f.b, WithWritable(t.TempDir()), WithLogger(testLogger(t, slog.LevelWarn)))
	cases, out := runConformance(t, host,
		"OCI_REPO1=conformance/repo1",
		"OCI_REPO2=conformance/repo2",
	)
	checkConformance(t, cases, out, []expectedFailure{
		{"OCI Conformance Test/sha512", "distribution v3.1.2 stores and names blobs by sha256 only"},
	})
}
