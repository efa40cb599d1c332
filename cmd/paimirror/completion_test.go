package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/manifests"
)

// complete runs cobra's hidden __complete command through run, as a shell's
// completion script does, and returns the candidates (without their
// descriptions) and the directive line.
func complete(t *testing.T, args ...string) (candidates []string, directive string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), append([]string{"__complete"}, args...), &stdout, &stderr); code != exitOK {
		t.Fatalf("__complete %q: exit %d\n%s", args, code, stderr.String())
	}
	for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if strings.HasPrefix(l, ":") {
			directive = l
			continue
		}
		name, _, _ := strings.Cut(l, "\t")
		candidates = append(candidates, name)
	}
	return candidates, directive
}

// TestCompletion checks what the shell completes: manifest names, the
// groups of the manifest a command builds for --include and --exclude,
// the formats of -o and the platforms of --platform.
func TestCompletion(t *testing.T) {
	var groups []string
	for _, g := range manifests.Default().Groups {
		groups = append(groups, g.Name)
	}
	if len(groups) == 0 {
		t.Fatal("the default manifest has no groups")
	}
	// A manifest of one's own, with groups of its own.
	own := filepath.Join(t.TempDir(), "own.yaml")
	if err := os.WriteFile(own, []byte(`name: own
groups:
  - name: alpha
  - name: beta
    default: false
images:
  - ref: docker.io/library/busybox:1.36
    groups: [alpha]
  - ref: docker.io/library/alpine:3.19
    groups: [beta]
`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := manifests.Load(own); err != nil {
		t.Fatalf("the test's manifest: %v", err)
	}
	for _, tc := range []struct {
		name string
		args []string
		want []string
		// exact: nothing else is offered.
		exact bool
	}{
		{"manifest names", []string{"manifest", ""}, manifests.EmbeddedNames(), true},
		{"build --include", []string{"build", "--include", ""}, groups, true},
		{"build --exclude", []string{"build", "--exclude", ""}, groups, true},
		{"build --exclude prefix", []string{"build", "--exclude", "devbox"}, []string{"devbox", "devbox-sources", "devbox-python"}, true},
		{"build -f FILE --include", []string{"build", "-f", own, "--include", ""}, []string{"alpha", "beta"}, true},
		{"inspect -o", []string{"inspect", "-o", ""}, inspectFormats(), true},
		{"version -o", []string{"version", "-o", ""}, []string{"text", "json"}, true},
		{"build --platform", []string{"build", "--platform", ""}, []string{"linux/amd64", "linux/arm64"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, directive := complete(t, tc.args...)
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("%q: %s is not offered (got %q)", tc.args, w, got)
				}
			}
			if tc.exact && len(got) != len(tc.want) {
				t.Errorf("%q: offered %q, want %q", tc.args, got, tc.want)
			}
			if directive != ":4" {
				t.Errorf("%q: directive %s, want :4 (no file names)", tc.args, directive)
			}
		})
	}
	// A manifest that cannot be read completes nothing, rather than the
	// default manifest's groups.
	got, _ := complete(t, "build", "-f", filepath.Join(t.TempDir(), "missing.yaml"), "--include", "")
	if len(got) != 0 {
		t.Errorf("groups offered for a missing manifest: %q", got)
	}
}
