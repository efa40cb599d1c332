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
	b, path, _, err := buildOpen(m, opts, filepath.Join(t.TempDir(), m.Name+".tar"))
	if err != nil {
		t.Fatalf("building the test bundle: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b, path
}

// buildOpen builds m from a fresh local upstream (Start with opts) into
// out, closes the upstream and opens the bundle in place. It returns the
// bundle, its path and each file's content as the upstream served it, by
// URL.
func buildOpen(m *manifests.Manifest, opts Options, out string) (*bundle.Bundle, string, map[string][]byte, error) {
	u, err := Start(m, opts)
	if err != nil {
		return nil, "", nil, err
	}
	defer u.Close()
	res, err := bundle.Build(context.Background(), u.Manifest, bundle.BuildOptions{
		Output:    out,
		Mirrors:   u.Mirrors(),
		Transport: LoopbackTransport(),
		Jobs:      8,
	})
	if err != nil {
		return nil, "", nil, err
	}
	b, err := bundle.Open(res.Path)
	if err != nil {
		return nil, "", nil, err
	}
	return b, res.Path, u.FileData, nil
}
