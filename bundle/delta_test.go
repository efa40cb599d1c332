package bundle_test

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/manifests"
)

// deltaNewImages are the three images the new state adds to the small
// manifest's.
const deltaNewImages = `
  - ref: docker.io/library/nginx:1.17
    groups: [base]
  - ref: quay.io/prometheus/node-exporter:v0.18.1
    groups: [base]
  - ref: gcr.io/google-containers/pause:3.1
    groups: [base]
`

// deltaFixture is a base bundle of the small manifest and the upstream
// that serves it and the new state (the small manifest plus three
// images), so that both are built from the same content.
type deltaFixture struct {
	u          *bundletest.Upstream
	base, next *manifests.Manifest
	basePath   string
	dir        string
}

func newDeltaFixture(t *testing.T) *deltaFixture {
	t.Helper()
	base := parse(t, smallManifest)
	// The new state: the same manifest with three more images.
	text := strings.Replace(smallManifest, "\nfiles:", strings.TrimRight(deltaNewImages, "\n")+"\nfiles:", 1)
	next := parse(t, text)
	if len(next.Images) != len(base.Images)+3 {
		t.Fatalf("the new manifest has %d images, want %d", len(next.Images), len(base.Images)+3)
	}
	u, err := bundletest.Start(next, bundletest.Options{LayerSize: 4096, FileSize: 2048})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	f := &deltaFixture{u: u, base: u.Pin(base), next: u.Manifest, dir: t.TempDir()}
	f.basePath = f.build(t, f.base, "base.tar", nil)
	return f
}

func (f *deltaFixture) build(t *testing.T, m *manifests.Manifest, name string, base *bundle.Base) string {
	t.Helper()
	out := filepath.Join(f.dir, name)
	if _, err := bundle.Build(context.Background(), m, bundle.BuildOptions{Output: out, Mirrors: f.u.Mirrors(),
		Transport: bundletest.LoopbackTransport(), Base: base}); err != nil {
		t.Fatalf("building %s: %v", name, err)
	}
	return out
}

// tarMembers returns the blob digests and the metadata sizes of a
// bundle's tar.
func tarMembers(t *testing.T, path string) (blobs map[string]int64, meta map[string]int64) {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	blobs, meta = map[string]int64{}, map[string]int64{}
	tr := tar.NewReader(fh)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return blobs, meta
		}
		if err != nil {
			t.Fatal(err)
		}
		if rest, ok := strings.CutPrefix(h.Name, "blobs/sha256/"); ok && rest != "" {
			blobs["sha256:"+rest] = h.Size
		} else if h.Typeflag == tar.TypeReg {
			meta[h.Name] = h.Size
		}
	}
}

// lockDigests maps every blob a lock names to its size.
func lockDigests(l *bundle.Lock) map[string]int64 {
	out := map[string]int64{}
	for _, img := range l.Images {
		out[string(img.Digest)] = img.Size
		for _, b := range append(img.Blobs(), img.LayoutIndex) {
			out[string(b.Digest)] = b.Size
		}
	}
	for _, f := range l.Files {
		out[string(f.Digest())] = f.Size
	}
	for _, f := range l.PythonFiles() {
		out[string(f.Digest())] = f.Size
	}
	for _, f := range l.AptServed() {
		out[string(f.Digest())] = f.Size
	}
	return out
}

func openOK(t *testing.T, paths ...string) *bundle.Bundle {
	t.Helper()
	b, err := bundle.Open(paths...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// TestDelta builds a delta of the small bundle plus three images: it
// stores exactly the blobs the base lacks (none of the base's layers or
// files is downloaded), its size is the new content plus the lock and the
// tar's headers, base and delta open and verify as the new state, and
// each blob of the new lock is served from one or the other.
func TestDelta(t *testing.T) {
	f := newDeltaFixture(t)
	base := openOK(t, f.basePath)
	baseBlobs := lockDigests(base.Lock)

	gets := f.u.Requests()
	rb, err := bundle.ReadBase(f.basePath)
	if err != nil {
		t.Fatal(err)
	}
	deltaPath := f.build(t, f.next, "delta.tar", rb)
	after := f.u.Requests()
	for d := range baseBlobs {
		for p, n := range after {
			if strings.HasSuffix(p, "/blobs/"+d) && n > gets[p] && d != "" {
				// Configs are read (not stored) to check their
				// platform; nothing else of the base is fetched.
				if !isConfig(base.Lock, d) {
					t.Errorf("the delta build downloaded %s (%s), which the base holds", d, p)
				}
			}
		}
	}
	for _, fl := range base.Lock.Files {
		if fl.Unpinned {
			continue // its digest is known only from its bytes
		}
		for _, src := range append([]string{fl.URL}, fl.Source) {
			if i := strings.Index(src, "://"); i >= 0 {
				p := "/" + src[i+3:]
				if after[p] > gets[p] {
					t.Errorf("the delta build downloaded the file %s again", p)
				}
			}
		}
	}

	// The delta holds exactly what the base lacks, and its lock is the
	// whole new state's.
	delta := openDelta(t, deltaPath)
	newBlobs := lockDigests(delta.Lock)
	stored, meta := tarMembers(t, deltaPath)
	var newBytes int64
	for d, size := range newBlobs {
		_, inBase := baseBlobs[d]
		_, inDelta := stored[d]
		if inBase == inDelta {
			t.Errorf("blob %s: in the base %v, in the delta %v", d, inBase, inDelta)
		}
		if !inBase {
			newBytes += size
		}
	}
	if len(stored) != len(newBlobs)-countIn(newBlobs, baseBlobs) {
		t.Errorf("the delta stores %d blobs, want %d", len(stored), len(newBlobs)-countIn(newBlobs, baseBlobs))
	}
	// Size: the new blobs and the metadata, each member padded to 512
	// bytes with a header of at most three blocks (PAX), two directory
	// members and the end marker.
	const hdr = 3 * 512
	bound := int64(2*hdr + 2*512)
	for _, size := range stored {
		bound += hdr + round512(size)
	}
	for _, size := range meta {
		bound += hdr + round512(size)
	}
	st, _ := os.Stat(deltaPath)
	if st.Size() > bound {
		t.Errorf("the delta is %d bytes, more than %d (new content %d bytes, lock %d bytes and headers)", st.Size(), bound, newBytes, meta[bundle.LockName])
	}
	if ceiling := newBytes + meta[bundle.LockName] + meta[bundle.IndexName] + 64<<10; st.Size() > ceiling {
		t.Errorf("the delta is %d bytes: more than the new images' %d bytes plus the lock's %d by over 64 KiB", st.Size(), newBytes, meta[bundle.LockName])
	}
	if lb := delta.Lock.Base; lb == nil || lb.LockSHA256 != sha256hexOf(base.LockBytes()) || lb.Manifest != "small" || lb.File != "base.tar" {
		t.Errorf("the delta's lock records base %+v; want the base's lock sha256 %s", lb, sha256hexOf(base.LockBytes()))
	}
	if len(delta.Lock.Images) != len(base.Lock.Images)+3 || len(delta.Lock.Files) != len(base.Lock.Files) {
		t.Errorf("the delta's lock has %d images and %d files, want the whole new state's %d and %d",
			len(delta.Lock.Images), len(delta.Lock.Files), len(base.Lock.Images)+3, len(base.Lock.Files))
	}

	// Base and delta together: the new state, every blob there.
	both := openOK(t, f.basePath, deltaPath)
	if string(both.LockBytes()) != string(delta.LockBytes()) {
		t.Error("base and delta do not serve the delta's lock")
	}
	for d := range newBlobs {
		r, err := both.Blob(digest.Digest(d))
		if err != nil {
			t.Errorf("blob %s: %v", d, err)
			continue
		}
		h := sha256.New()
		io.Copy(h, r)
		if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != d {
			t.Errorf("blob %s reads as %s", d, got)
		}
		if _, _, ok := both.BlobRegion(digest.Digest(d)); !ok {
			t.Errorf("blob %s has no region to send", d)
		}
	}
	rep, err := both.Verify(context.Background(), bundle.VerifyOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("verify of base and delta: %v %v", err, rep.Problems)
	}
	if rep.Blobs != len(base.Digests())+len(stored) {
		t.Errorf("verify hashed %d blobs, want %d", rep.Blobs, len(base.Digests())+len(stored))
	}

	// What is new: exactly the three images, with the base; the same
	// three, as new, from the delta alone.
	for name, c := range map[string]*bundle.Changes{"with its base": both.Changes(), "alone": delta.Changes()} {
		want := bundle.ChangeAdded
		if name == "alone" {
			want = bundle.ChangeNew
		}
		if c == nil || len(c.Images) != 3 || len(c.Files) != 0 {
			t.Fatalf("changes %s: %+v", name, c)
		}
		for i, ch := range c.Images {
			if ref := delta.Lock.Images[len(base.Lock.Images)+i].Ref; ch.Change != want || ch.Name != ref || ch.Bytes <= 0 {
				t.Errorf("changes %s: image %d is %+v, want %s %s", name, i, ch, want, ref)
			}
		}
		if c.Blobs != len(stored) {
			t.Errorf("changes %s: %d blobs, want %d", name, c.Blobs, len(stored))
		}
	}
	if base.Changes() != nil {
		t.Error("a whole bundle has changes")
	}

	// The lock as `inspect --lock` prints it is as good a base.
	lockFile := filepath.Join(f.dir, "base.json")
	os.WriteFile(lockFile, append(base.LockBytes(), '\n'), 0o644)
	fromLock, err := bundle.ReadBase(lockFile)
	if err != nil {
		t.Fatal(err)
	}
	if string(fromLock.Lock) != string(rb.Lock) || fromLock.File != "" {
		t.Errorf("the base read from its lock differs from the base read from the bundle")
	}
}

func isConfig(l *bundle.Lock, d string) bool {
	for _, img := range l.Images {
		if string(img.Config.Digest) == d {
			return true
		}
	}
	return false
}

func countIn(a, b map[string]int64) int {
	n := 0
	for d := range a {
		if _, ok := b[d]; ok {
			n++
		}
	}
	return n
}

func round512(n int64) int64 { return (n + 511) &^ 511 }

func sha256hexOf(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func openDelta(t *testing.T, path string) *bundle.Bundle {
	t.Helper()
	b, err := bundle.OpenWith(bundle.OpenOptions{NoBase: true}, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	rep, err := b.Verify(context.Background(), bundle.VerifyOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("verify of the delta alone: %v %v", err, rep.Problems)
	}
	return b
}

// TestDeltaRefused: a delta alone, after the wrong base, or a whole
// bundle given as a delta is refused with ErrWrongBase, naming the files
// and the digests; a base given in parts, and a chain of deltas, open.
func TestDeltaRefused(t *testing.T) {
	f := newDeltaFixture(t)
	rb, err := bundle.ReadBase(f.basePath)
	if err != nil {
		t.Fatal(err)
	}
	deltaPath := f.build(t, f.next, "delta.tar", rb)
	// Another bundle: the new state, whole.
	otherPath := f.build(t, f.next, "other.tar", nil)
	other := openOK(t, otherPath)
	baseSHA := sha256hexOf(rb.Lock)

	for _, tc := range []struct {
		name  string
		paths []string
		want  []string
	}{
		{"delta alone", []string{deltaPath}, []string{deltaPath, "is a delta bundle", baseSHA, "base.tar", "name its base first"}},
		{"wrong base", []string{otherPath, deltaPath}, []string{deltaPath, otherPath, baseSHA, sha256hexOf(other.LockBytes()), "give the base"}},
		{"two whole bundles", []string{f.basePath, otherPath}, []string{otherPath, "is a whole bundle, not a delta"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bundle.Open(tc.paths...)
			if !errors.Is(err, bundle.ErrWrongBase) {
				t.Fatalf("err = %v, want ErrWrongBase", err)
			}
			if errors.Is(err, bundle.ErrCorrupt) {
				t.Errorf("a wrong base is reported as damage: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
		})
	}

	// The base in parts, then the delta.
	data, err := os.ReadFile(f.basePath)
	if err != nil {
		t.Fatal(err)
	}
	p1, p2 := filepath.Join(f.dir, "base.part1"), filepath.Join(f.dir, "base.part2")
	os.WriteFile(p1, data[:len(data)/2+100], 0o644)
	os.WriteFile(p2, data[len(data)/2+100:], 0o644)
	b := openOK(t, p1, p2, deltaPath)
	if rep, err := b.Verify(context.Background(), bundle.VerifyOptions{}); err != nil || !rep.OK() {
		t.Errorf("verify of a base in parts and its delta: %v %v", err, rep)
	}
	// The base's second part missing: damage, said as such.
	if _, err := bundle.Open(p1, deltaPath); !errors.Is(err, bundle.ErrCorrupt) {
		t.Errorf("base part 1 and the delta: %v, want damage", err)
	}

	// A delta over the delta: base, delta, delta2 open as the new state;
	// base and delta2 do not.
	rd, err := bundle.ReadBase(deltaPath)
	if err != nil {
		t.Fatal(err)
	}
	delta2 := f.build(t, f.next, "delta2.tar", rd)
	if blobs, _ := tarMembers(t, delta2); len(blobs) != 0 {
		t.Errorf("a delta of the same state stores %d blobs, want none", len(blobs))
	}
	chain := openOK(t, f.basePath, deltaPath, delta2)
	if rep, err := chain.Verify(context.Background(), bundle.VerifyOptions{}); err != nil || !rep.OK() {
		t.Errorf("verify of a chain: %v %v", err, rep)
	}
	if _, err := bundle.Open(f.basePath, delta2); !errors.Is(err, bundle.ErrWrongBase) || !strings.Contains(err.Error(), "delta.tar") {
		t.Errorf("base and the second delta: %v, want ErrWrongBase naming delta.tar", err)
	}
}

// TestDeltaDamagedBase: a base whose lock no longer matches its own
// index.json is reported as damage, not as the wrong base.
func TestDeltaDamagedBase(t *testing.T) {
	f := newDeltaFixture(t)
	rb, err := bundle.ReadBase(f.basePath)
	if err != nil {
		t.Fatal(err)
	}
	deltaPath := f.build(t, f.next, "delta.tar", rb)
	data, err := os.ReadFile(f.basePath)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndex(string(data), `"name": "small"`)
	if i < 0 {
		t.Fatal("the base's lock has no manifest name")
	}
	data[i+len(`"name": "smal`)] = 'x'
	damaged := filepath.Join(f.dir, "damaged.tar")
	os.WriteFile(damaged, data, 0o644)
	_, err = bundle.Open(damaged, deltaPath)
	if !errors.Is(err, bundle.ErrCorrupt) || errors.Is(err, bundle.ErrWrongBase) || !strings.Contains(err.Error(), "copy "+damaged+" again") {
		t.Errorf("a base with a damaged lock: %v, want damage naming it", err)
	}
}

// TestDeltaLeavesOutKeptBaseBlobs resumes a delta build from a partial
// file holding every blob of the new state (an earlier whole build of the
// same output): the delta leaves out those its base holds.
func TestDeltaLeavesOutKeptBaseBlobs(t *testing.T) {
	f := newDeltaFixture(t)
	whole := f.build(t, f.next, "whole.tar", nil)
	out := filepath.Join(f.dir, "delta.tar")
	data, err := os.ReadFile(whole)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out+".partial", data, 0o644); err != nil {
		t.Fatal(err)
	}
	rb, err := bundle.ReadBase(f.basePath)
	if err != nil {
		t.Fatal(err)
	}
	f.build(t, f.next, "delta.tar", rb)
	base := openOK(t, f.basePath)
	baseBlobs := lockDigests(base.Lock)
	stored, _ := tarMembers(t, out)
	for d := range stored {
		if _, ok := baseBlobs[d]; ok {
			t.Errorf("the delta stores %s, which its base holds", d)
		}
	}
	delta := openDelta(t, out)
	if want := len(lockDigests(delta.Lock)) - countIn(lockDigests(delta.Lock), baseBlobs); len(stored) != want {
		t.Errorf("the delta stores %d blobs, want %d", len(stored), want)
	}
	openOK(t, f.basePath, out)
}
