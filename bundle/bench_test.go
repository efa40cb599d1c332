package bundle_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
)

// BenchmarkBuild pulls the same images (the small manifest, 4 MiB layers)
// from a local upstream two ways: paimirror's build into a bundle, and the
// baseline, go-containerregistry writing an OCI layout (what `crane pull
// --format oci` does). Bytes per op are the images' bytes, so MB/s compare
// directly; B/op shows memory stays flat.
func BenchmarkBuild(b *testing.B) {
	m, err := parseB(smallManifest)
	if err != nil {
		b.Fatal(err)
	}
	u, err := bundletest.Start(m, bundletest.Options{LayerSize: 4 << 20})
	if err != nil {
		b.Fatal(err)
	}
	defer u.Close()
	sel, _ := u.Manifest.Select(nil, nil)
	var total int64
	for _, img := range sel.Images {
		ls, _ := u.Images[img.Ref].Layers()
		for _, l := range ls {
			n, _ := l.Size()
			total += n
		}
	}
	b.Run("paimirror", func(b *testing.B) {
		b.SetBytes(total)
		for b.Loop() {
			out := filepath.Join(b.TempDir(), "b.tar")
			if _, err := bundle.Build(context.Background(), u.Manifest, bundle.BuildOptions{
				Output: out, Mirrors: u.Mirrors(), Transport: bundletest.LoopbackTransport(), Include: nil,
			}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ggcr-layout", func(b *testing.B) {
		b.SetBytes(total)
		host := strings.TrimPrefix(u.Registry.URL, "http://")
		for b.Loop() {
			p, err := layout.Write(b.TempDir(), empty.Index)
			if err != nil {
				b.Fatal(err)
			}
			for _, img := range sel.Images {
				reg, repo, tag := img.Upstream()
				ref, _ := name.ParseReference(host + "/" + reg + "/" + repo + ":" + tag)
				im, err := remote.Image(ref, remote.WithTransport(bundletest.LoopbackTransport()))
				if err != nil {
					b.Fatal(err)
				}
				if err := p.AppendImage(im); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
