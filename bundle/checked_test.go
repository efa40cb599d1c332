package bundle_test

import (
	"errors"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
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
