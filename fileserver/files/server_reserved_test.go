package files

import (
	"slices"
	"testing"

	"github.com/paimirror/paimirror/manifests"
)

// TestPagesAreReserved keeps the server's own pages out of reach of a
// manifest's file paths: manifests refuses every one of them.
func TestPagesAreReserved(t *testing.T) {
	for _, p := range []string{PathLock, PathConfigText, PathConfigYAML, PathDaemonJSON, PathHealth} {
		if !slices.Contains(manifests.ReservedPaths, p) {
			t.Errorf("%s is a page but not in manifests.ReservedPaths", p)
		}
	}
}

// TestPyPIPrefixIsReserved keeps the package index's prefix out of reach of
// a manifest's file paths.
func TestPyPIPrefixIsReserved(t *testing.T) {
	if manifests.PythonPrefix != PathPyPI {
		t.Errorf("manifests reserves %s, the package index is at %s", manifests.PythonPrefix, PathPyPI)
	}
}
