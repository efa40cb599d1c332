package fileserver

import (
	"slices"
	"testing"

	"github.com/paimirror/paimirror/manifests"
)

// TestMetricsPathIsReserved keeps /metrics out of reach of a manifest's
// file paths: manifests refuses it.
func TestMetricsPathIsReserved(t *testing.T) {
	if !slices.Contains(manifests.ReservedPaths, PathMetrics) {
		t.Errorf("%s is a page but not in manifests.ReservedPaths", PathMetrics)
	}
}
