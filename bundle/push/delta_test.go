package push_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/bundletest/badlink"
	"github.com/paimirror/paimirror/bundle/push"
	"github.com/paimirror/paimirror/manifests"
)

// TestPushDeltaOpenedAlone pushes a delta opened without its base
// (bundle.OpenOptions.NoBase), which lacks the blobs only its base holds.
// Into an empty registry Push refuses it before writing anything
// (ErrWrongBase, naming the base and the command that pushes both), in a
// dry run too. Into a registry that holds the base's images already, it
// has every blob it needs from the delta or the registry: it sends the
// delta's new blobs only and every name pulls back as the lock pins it.
func TestPushDeltaOpenedAlone(t *testing.T) {
	base, err := manifests.Parse("three.yaml", []byte(threeImages))
	if err != nil {
		t.Fatal(err)
	}
	next, err := manifests.Parse("four.yaml", []byte(threeImages+"  - ref: docker.io/library/nginx:1.17\n"))
	if err != nil {
		t.Fatal(err)
	}
	u, err := bundletest.Start(next, bundletest.Options{LayerSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	dir := t.TempDir()
	build := func(m *manifests.Manifest, file string, b *bundle.Base) string {
		t.Helper()
		out := filepath.Join(dir, file)
		if _, err := bundle.Build(context.Background(), m, bundle.BuildOptions{Output: out, Mirrors: u.Mirrors(),
			Transport: bundletest.LoopbackTransport(), Base: b}); err != nil {
			t.Fatalf("building %s: %v", file, err)
		}
		return out
	}
	basePath := build(base, "base.tar", nil)
	rb, err := bundle.ReadBase(basePath)
	if err != nil {
		t.Fatal(err)
	}
	deltaPath := build(u.Manifest, "delta.tar", rb)
	whole, err := bundle.Open(basePath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { whole.Close() })
	alone, err := bundle.OpenWith(bundle.OpenOptions{NoBase: true}, deltaPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { alone.Close() })

	reg := badlink.Registry(t, badlink.RegistryOptions{})
	target, err := push.ParseTarget(reg.Host+"/lab", true)
	if err != nil {
		t.Fatal(err)
	}
	opts := push.Options{Auth: authn.Anonymous}
	for _, dry := range []bool{true, false} {
		o := opts
		o.DryRun = dry
		res, err := push.Push(t.Context(), alone, target, o)
		if !errors.Is(err, bundle.ErrWrongBase) || res != nil {
			t.Fatalf("dry run %v: the delta alone into an empty registry: %+v, %v; want ErrWrongBase", dry, res, err)
		}
		for _, want := range []string{"given without its base", alone.Lock.Base.LockSHA256, "paimirror push base.tar " + deltaPath} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("dry run %v: the error does not say %q: %v", dry, want, err)
			}
		}
	}
	if up, mo, ma, ot := writes(reg.AccessLog()); up+mo+ma+ot != 0 {
		t.Fatalf("the refused push wrote to the registry: %d uploads, %d mounts, %d manifests, %d other", up, mo, ma, ot)
	}

	if _, err := push.Push(t.Context(), whole, target, opts); err != nil {
		t.Fatal(err)
	}
	before := len(reg.AccessLog())
	res, err := push.Push(t.Context(), alone, target, opts)
	if err != nil {
		t.Fatalf("the delta alone into a registry holding its base: %v", err)
	}
	// The new image's own layer and config: the delta's only blobs
	// besides its manifest and layout index.
	if res.Uploaded != 2 || res.Pushed != 1 || res.Images != 4 {
		t.Errorf("push = %+v, want the new image's 2 blobs sent, 1 of 4 images pushed", res)
	}
	if up, _, _, _ := writes(reg.AccessLog()[before:]); up != 2 {
		t.Errorf("the registry saw %d uploads, want 2", up)
	}
	crane := bundletest.Tool(t, "crane")
	for _, img := range alone.Lock.Images {
		for _, n := range img.Names {
			ref := reg.Host + "/lab/" + n
			out, err := runTool(os.Environ(), crane, "digest", "--insecure", ref)
			if err != nil {
				t.Fatalf("crane digest %s: %v\n%s", ref, err, out)
			}
			if got := strings.TrimSpace(out); got != string(img.Digest) {
				t.Errorf("%s: digest %s, the lock says %s", ref, got, img.Digest)
			}
			if out, err := runTool(os.Environ(), crane, "validate", "--insecure", "--remote", ref); err != nil {
				t.Errorf("crane validate --remote %s: %v\n%s", ref, err, out)
			}
		}
	}
}
