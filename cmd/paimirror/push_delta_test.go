package main

import (
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/bundletest/badlink"
	"github.com/paimirror/paimirror/manifests"
)

// TestPushDelta pushes a base bundle into distribution's registry, then
// the base with a delta over it, then with a second delta over that one
// whose new state keeps none of the earlier images. Each push sends, by
// the registry's access log, exactly the blobs the earlier pushes did not
// (once each): the layer every image shares is in the registry from the
// base's push, so it is mounted, never sent again, even into the second
// delta's repositories, none of which the earlier images went to. Every
// name of each new state pulls back whole with the lock's digest. A delta
// given without its base is refused with exit status 2 before anything is
// written, saying how to push it.
func TestPushDelta(t *testing.T) {
	all := firstImages(t, 8)
	u, err := bundletest.Start(all, bundletest.Options{LayerSize: 16 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	dir := t.TempDir()
	// state returns the upstream's manifest with only images [from, to).
	state := func(from, to int) *manifests.Manifest {
		m := *u.Manifest
		m.Images = slices.Clone(u.Manifest.Images[from:to])
		return &m
	}
	build := func(m *manifests.Manifest, file string, base ...string) string {
		t.Helper()
		opts := bundle.BuildOptions{Output: filepath.Join(dir, file), Mirrors: u.Mirrors(), Transport: bundletest.LoopbackTransport()}
		if len(base) > 0 {
			rb, err := bundle.ReadBase(base...)
			if err != nil {
				t.Fatal(err)
			}
			opts.Base = rb
		}
		if _, err := bundle.Build(context.Background(), m, opts); err != nil {
			t.Fatalf("building %s: %v", file, err)
		}
		return opts.Output
	}
	// The base: four images; delta 1: those and two more; delta 2: two
	// others only, sharing nothing with the earlier states but the layer
	// every image has.
	basePath := build(state(0, 4), "base.tar")
	d1Path := build(state(0, 6), "delta1.tar", basePath)
	d2Path := build(state(6, 8), "delta2.tar", d1Path)
	open := func(paths ...string) *bundle.Bundle {
		t.Helper()
		b, err := bundle.Open(paths...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.Close() })
		return b
	}
	base, d1, d2 := open(basePath), open(basePath, d1Path), open(basePath, d1Path, d2Path)

	reg := badlink.Registry(t, badlink.RegistryOptions{})
	prefix := reg.Host + "/lab"
	push := func(paths ...string) string {
		t.Helper()
		out, err := paimirror(t, append(append([]string{"push"}, paths...), prefix, "--insecure")...).CombinedOutput()
		if err != nil {
			t.Fatalf("push %s: %v\n%s", strings.Join(paths, " "), err, out)
		}
		return string(out)
	}
	// sent pushes and returns the blobs whose bytes it sent, by the access
	// log: the digest of each upload's closing PUT, and how many uploads
	// it opened.
	sent := func(paths ...string) (map[digest.Digest]int, int) {
		t.Helper()
		before := len(reg.AccessLog())
		push(paths...)
		got, opened := map[digest.Digest]int{}, 0
		for _, e := range reg.AccessLog()[before:] {
			switch {
			case e.Method == http.MethodPost && !strings.Contains(e.URI, "mount="):
				opened++
			case e.Method == http.MethodPut && strings.Contains(e.Path, "/blobs/uploads/"):
				u, err := url.ParseRequestURI(e.URI)
				if err != nil {
					t.Fatal(err)
				}
				got[digest.Digest(u.Query().Get("digest"))]++
			}
		}
		return got, opened
	}
	// check says what each push should have sent: the blobs of now's
	// images that no earlier state has, each once.
	check := func(what string, got map[digest.Digest]int, opened int, now *bundle.Bundle, earlier ...*bundle.Bundle) {
		t.Helper()
		want := uniqueBlobs(now)
		for _, e := range earlier {
			for d := range uniqueBlobs(e) {
				delete(want, d)
			}
		}
		if len(want) == 0 {
			t.Fatalf("%s: the new state has no blob of its own", what)
		}
		for d, n := range got {
			switch {
			case !want[d]:
				t.Errorf("%s: sent blob %s, which the registry held from an earlier push", what, d)
			case n > 1:
				t.Errorf("%s: sent blob %s %d times", what, d, n)
			}
		}
		for d := range want {
			if got[d] == 0 {
				t.Errorf("%s: did not send blob %s, which no earlier push did", what, d)
			}
		}
		if opened != len(want) {
			t.Errorf("%s: opened %d uploads, want one per new blob: %d", what, opened, len(want))
		}
	}

	got, opened := sent(basePath)
	check("push base.tar", got, opened, base)
	checkPushed(t, base, prefix)

	// A delta alone holds only the new blobs: refused before any write,
	// saying what to give.
	before := len(reg.AccessLog())
	out, err := paimirror(t, "push", d1Path, prefix, "--insecure").CombinedOutput()
	if code := exitCode(err); code != exitUsage {
		t.Fatalf("push delta1.tar alone: exit %d, want %d\n%s", code, exitUsage, out)
	}
	for _, want := range []string{"delta1.tar is a delta bundle", sha256hex(base.LockBytes()), "paimirror push base.tar " + d1Path + " " + prefix} {
		if !strings.Contains(string(out), want) {
			t.Errorf("push delta1.tar alone does not say %q:\n%s", want, out)
		}
	}
	for _, e := range reg.AccessLog()[before:] {
		if e.Method != http.MethodGet && e.Method != http.MethodHead {
			t.Errorf("push delta1.tar alone wrote to the registry: %s %s", e.Method, e.URI)
		}
	}

	got, opened = sent(basePath, d1Path)
	check("push base.tar delta1.tar", got, opened, d1, base)
	checkPushed(t, d1, prefix)

	got, opened = sent(basePath, d1Path, d2Path)
	check("push base.tar delta1.tar delta2.tar", got, opened, d2, base, d1)
	checkPushed(t, d2, prefix)

	// Once pushed, the same command sends nothing.
	if got, opened := sent(basePath, d1Path, d2Path); len(got) != 0 || opened != 0 {
		t.Errorf("a rerun sent %d blobs (%d uploads opened)", len(got), opened)
	}
}
