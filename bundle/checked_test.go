package bundle_test

import (
	"errors"
	"sync"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/manifests"
)

func TestCheckBlob(t *testing.T) {
	small := bundletest.SmallBundle(t)
	img := small.Bundle.Lock.Images[0]
	bad, good := img.Layers[len(img.Layers)-1].Digest, img.Config.Digest
	b := bundletest.Damage(t, small.Copy(t), bad)

	if err := b.CheckBlob(good); err != nil || !b.Good(good) {
		t.Fatalf("a whole blob: %v, good %v", err, b.Good(good))
	}
	for range 2 { // a damaged blob is never remembered
		err := b.CheckBlob(bad)
		var de *bundle.DamagedError
		if !errors.As(err, &de) || !errors.Is(err, bundle.ErrCorrupt) || de.Digest != bad || de.Got == bad {
			t.Fatalf("a damaged blob: %v", err)
		}
		if b.Good(bad) {
			t.Fatal("a damaged blob is recorded as good")
		}
	}
	if err := b.CheckBlob("sha256:0000000000000000000000000000000000000000000000000000000000000000"); !errors.Is(err, bundle.ErrNotFound) {
		t.Errorf("a blob the bundle lacks: %v", err)
	}
}

// TestCheckBlobOnce has many goroutines ask for the same unchecked blob at
// once, as the nodes of a cluster fetch the same file when an install
// starts: it is read and hashed once, and every caller gets the answer.
func TestCheckBlobOnce(t *testing.T) {
	m, err := manifests.Parse("one.yaml", []byte("name: one\nimages:\n  - ref: docker.io/library/busybox:1.31.1\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, path := bundletest.Build(t, m, bundletest.Options{LayerSize: 32 << 20})
	for _, damaged := range []bool{false, true} {
		b, err := bundle.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		layer := b.Lock.Images[0].Layers[0].Digest
		if damaged {
			b.Close()
			b = bundletest.Damage(t, path, layer)
		}
		start := make(chan struct{})
		errs := make([]error, 16)
		var wg sync.WaitGroup
		for i := range errs {
			wg.Go(func() {
				<-start
				errs[i] = b.CheckBlob(layer)
			})
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			if (err != nil) != damaged {
				t.Errorf("damaged %v: %v", damaged, err)
			}
		}
		if n := bundle.Hashings(b); n != 1 {
			t.Errorf("damaged %v: %d callers at once hashed the blob %d times, want once", damaged, len(errs), n)
		}
		if !damaged {
			b.Close()
		}
	}
}
