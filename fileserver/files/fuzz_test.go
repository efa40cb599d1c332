package files

import (
	"net/url"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/manifests"
)

// defaultIndex is the path index of the default manifest's files (every
// group), as a bundle of it would hold them.
func defaultIndex(t testing.TB) (pathIndex, map[string]bool) {
	t.Helper()
	sel, err := manifests.Default().Select([]string{"device-plugins-extra"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var files []bundle.File
	lockPaths := map[string]bool{}
	for _, f := range sel.Files {
		files = append(files, bundle.File{Name: f.DisplayName(), SHA256: f.SHA256, Paths: f.MirrorPaths()})
		for _, p := range f.MirrorPaths() {
			lockPaths[p] = true
		}
	}
	return newPathIndex(files), lockPaths
}

// FuzzLookup feeds arbitrary request targets, parsed as net/http parses
// them, to the path lookup and asserts that only a lock path ever resolves,
// that it resolves to the file the lock gives that path, and never through
// an encoded slash, backslash, dot or NUL.
func FuzzLookup(f *testing.F) {
	ix, lockPaths := defaultIndex(f)
	for p := range lockPaths {
		f.Add(p)
	}
	for _, s := range []string{
		"/", "/../etc/passwd", "/%2e%2e/", "/k8s-share/../paimirror.json", "//etc/passwd",
		"/k8s-share%2fkubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm",
		`/k8s-share\kubernetes-release`, "/k8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm%00",
		"http://x/k8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm", "*",
		"/k8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubead%6d",
		"/k8s-share/./kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm",
		"/%6b8s-share/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return // net/http answers 400 before any handler runs
		}
		got, ok := ix.lookup(u)
		if !ok {
			return
		}
		if !lockPaths[u.Path] {
			t.Fatalf("%q resolved, but %q is no lock path", target, u.Path)
		}
		found := false
		for _, p := range got.Paths {
			found = found || p == u.Path
		}
		if !found {
			t.Fatalf("%q resolved to %s, which is not served at %q", target, got.Name, u.Path)
		}
		raw := strings.ToLower(u.EscapedPath())
		for _, bad := range []string{"%2f", "%5c", "%2e", "%00", `\`, "/./", "/../", "//"} {
			if strings.Contains(raw, bad) {
				t.Fatalf("%q resolved through %q", target, bad)
			}
		}
	})
}

// TestLookupEveryLockPath checks the other direction: every lock path
// resolves, as is.
func TestLookupEveryLockPath(t *testing.T) {
	ix, lockPaths := defaultIndex(t)
	if len(lockPaths) < 10 {
		t.Fatalf("only %d lock paths", len(lockPaths))
	}
	for p := range lockPaths {
		u, err := url.ParseRequestURI((&url.URL{Path: p}).EscapedPath())
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := ix.lookup(u); !ok {
			t.Errorf("%s does not resolve", p)
		}
	}
}
