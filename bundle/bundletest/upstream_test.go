package bundletest_test

import (
	"testing"

	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/manifests"
)

// TestPinFiles checks that Pin gives a manifest the sha256 of the files
// the upstream generated, as Start's own Manifest has them, and leaves a
// file without one alone.
func TestPinFiles(t *testing.T) {
	m, err := manifests.Parse("small.yaml", []byte(bundletest.SmallManifest))
	if err != nil {
		t.Fatal(err)
	}
	u, err := bundletest.Start(m, bundletest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer u.Close()
	pinned := u.Pin(m)
	for i, f := range pinned.Files {
		if f.SHA256 != u.Manifest.Files[i].SHA256 {
			t.Errorf("%s: %q, Start gave %q", f.URL, f.SHA256, u.Manifest.Files[i].SHA256)
		}
	}
	if pinned.Files[0].SHA256 == m.Files[0].SHA256 || pinned.Files[1].SHA256 != "" {
		t.Errorf("pinned files: %+v", pinned.Files)
	}
}
