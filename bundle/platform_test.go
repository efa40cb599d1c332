package bundle_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
)

// platformImage returns a random single-layer image whose config says it
// is for platform ("os/arch[/variant]").
func platformImage(t *testing.T, platform string) v1.Image {
	t.Helper()
	p, err := v1.ParsePlatform(platform)
	if err != nil {
		t.Fatal(err)
	}
	img := randomImage(t)
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant = p.OS, p.Architecture, p.Variant
	if img, err = mutate.ConfigFile(img, cf); err != nil {
		t.Fatal(err)
	}
	return img
}

// TestBuildSingleImagePlatform builds images whose references name one
// image, not a multi-platform index: the platform its config states must
// be the one asked for (--platform, else the manifest's platforms), and is
// the one the lock records.
func TestBuildSingleImagePlatform(t *testing.T) {
	u := startUpstream(t, parse(t, "name: empty\n"), bundletest.Options{})
	regHost := strings.TrimPrefix(u.Registry.URL, "http://")
	push := func(repo string, img v1.Image) {
		t.Helper()
		ref, err := name.ParseReference(regHost + "/docker.io/" + repo)
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Write(ref, img); err != nil {
			t.Fatal(err)
		}
	}
	push("library/busybox:1.31.1", platformImage(t, "linux/amd64"))
	push("library/nginx:1.15", platformImage(t, "linux/arm64/v8"))
	build := func(manifest, platform string) (*bundle.Result, error) {
		return bundle.Build(context.Background(), parse(t, manifest), bundle.BuildOptions{
			Output:    filepath.Join(t.TempDir(), "b.tar"),
			Mirrors:   []bundle.Mirror{{From: "docker.io", To: "http://" + regHost + "/docker.io"}},
			Transport: bundletest.LoopbackTransport(),
			Platform:  platform,
		})
	}
	const busybox = `name: one
groups:
  - name: tools
images:
  - ref: docker.io/library/busybox:1.31.1
    groups: [tools]
`

	t.Run("--platform the image is not for", func(t *testing.T) {
		_, err := build(busybox, "linux/arm64")
		var pe *bundle.PlatformError
		if !errors.As(err, &pe) {
			t.Fatalf("want a PlatformError, got %v", err)
		}
		if pe.Image != "docker.io/library/busybox:1.31.1" || pe.Have != "linux/amd64" || pe.Want != "linux/arm64" {
			t.Errorf("PlatformError %+v", pe)
		}
		for _, want := range []string{"docker.io/library/busybox:1.31.1", "linux/amd64", "linux/arm64", "--platform", "--exclude tools"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the error does not say %q: %v", want, err)
			}
		}
	})
	t.Run("manifest platform the image is not for", func(t *testing.T) {
		_, err := build(strings.Replace(busybox, "    groups: [tools]\n", "    groups: [tools]\n    platforms: [linux/arm64]\n", 1), "")
		var pe *bundle.PlatformError
		if !errors.As(err, &pe) || pe.Have != "linux/amd64" || pe.Want != "linux/arm64" {
			t.Fatalf("want a PlatformError for linux/amd64 against linux/arm64, got %v", err)
		}
		if !strings.Contains(err.Error(), "platforms") || strings.Contains(err.Error(), "drop --platform") {
			t.Errorf("the error should point at the manifest's platforms, not --platform: %v", err)
		}
	})
	t.Run("the platform asked for", func(t *testing.T) {
		res, err := build(busybox+"  - ref: docker.io/library/nginx:1.15\n    groups: [tools]\n    platforms: [linux/arm64]\n", "")
		if err != nil {
			t.Fatal(err)
		}
		b := openVerified(t, res.Path)
		// The lock says what each image is, variant and all.
		for i, want := range []string{"linux/amd64", "linux/arm64/v8"} {
			if got := b.Lock.Images[i].Platform; got != want {
				t.Errorf("%s: lock platform %q, want %q", b.Lock.Images[i].Ref, got, want)
			}
		}
	})
	t.Run("--platform it satisfies", func(t *testing.T) {
		res, err := build("name: one\nimages:\n  - ref: docker.io/library/nginx:1.15\n", "linux/arm64")
		if err != nil {
			t.Fatal(err)
		}
		if got := openVerified(t, res.Path).Lock.Images[0].Platform; got != "linux/arm64/v8" {
			t.Errorf("lock platform %q, want linux/arm64/v8", got)
		}
	})
}
