package bundletest

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/manifests"
)

// Build builds m from a fresh local upstream (Start with opts) into a
// bundle in a temp directory of t, opens it in place and returns it with
// its path. The upstream is closed before Build returns; the bundle is closed when the
// test ends. It fails the test on any error.
func Build(t testing.TB, m *manifests.Manifest, opts Options) (*bundle.Bundle, string) {
	t.Helper()
	u, err := Start(m, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	res, err := bundle.Build(context.Background(), u.Manifest, bundle.BuildOptions{
		Output:    filepath.Join(t.TempDir(), m.Name+".tar"),
		Mirrors:   u.Mirrors(),
		Transport: LoopbackTransport(),
		Jobs:      8,
	})
	if err != nil {
		t.Fatalf("building the test bundle: %v", err)
	}
	b, err := bundle.Open(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, res.Path
}
