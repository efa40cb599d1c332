package registry

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path"
	"slices"
	"strings"
	"testing"

	storagedriver "github.com/distribution/distribution/v3/registry/storage/driver"
	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/manifests"
)

func newBundleDriver(t *testing.T) (*bundleDriver, *fixture) {
	t.Helper()
	f := defaultBundle(t)
	tr, err := newTree(f.b, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return &bundleDriver{b: f.b, tree: tr}, f
}

// TestTreeLayout checks the synthesized tree against distribution's path
// layout for every name of every image: revision, tag and layer links hold
// the right digests and blob data reads back the bundle's bytes.
func TestTreeLayout(t *testing.T) {
	d, f := newBundleDriver(t)
	ctx := context.Background()
	link := func(p string) string {
		t.Helper()
		data, err := d.GetContent(ctx, p)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		return string(data)
	}
	for _, img := range f.b.Lock.Images {
		dg := img.Digest
		for _, name := range img.Names {
			repo, tag := manifests.RepoTag(name)
			rd := path.Join(reposRoot, repo)
			for _, p := range []string{
				rd + "/_manifests/revisions/sha256/" + dg.Encoded() + "/link",
				rd + "/_manifests/tags/" + tag + "/current/link",
				rd + "/_manifests/tags/" + tag + "/index/sha256/" + dg.Encoded() + "/link",
			} {
				if got := link(p); got != string(img.Digest) {
					t.Errorf("%s holds %q, want %s", p, got, img.Digest)
				}
			}
			for _, bl := range img.Blobs() {
				p := rd + "/_layers/sha256/" + bl.Digest.Encoded() + "/link"
				if got := link(p); got != string(bl.Digest) {
					t.Errorf("%s holds %q, want %s", p, got, bl.Digest)
				}
			}
		}
		for _, bl := range append(img.Blobs(), img.Config) {
			p := blobDataPath(digest.Digest(bl.Digest))
			fi, err := d.Stat(ctx, p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.IsDir() || fi.Size() != bl.Size {
				t.Errorf("%s: dir %v size %d, want a file of %d", p, fi.IsDir(), fi.Size(), bl.Size)
			}
			want, err := f.b.ReadBlob(bl.Digest, 1<<30)
			if err != nil {
				t.Fatal(err)
			}
			// Reader at an offset is the rest of the blob.
			off := bl.Size / 3
			rc, err := d.Reader(ctx, p, off)
			if err != nil {
				t.Fatal(err)
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if !bytes.Equal(got, want[off:]) {
				t.Errorf("%s from %d: %d bytes differ from the bundle's", p, off, len(got))
			}
		}
		mf, err := d.GetContent(ctx, blobDataPath(dg))
		if err != nil {
			t.Fatal(err)
		}
		if digest.FromBytes(mf) != dg {
			t.Errorf("%s: manifest bytes hash to %s", img.Ref, digest.FromBytes(mf))
		}
	}
	// The plain files of the bundle are no registry blobs.
	for _, file := range f.b.Lock.Files {
		if _, err := d.Stat(ctx, blobDataPath(digest.Digest(file.Digest()))); !notFound(err) {
			t.Errorf("file %s is visible as a registry blob: %v", file.URL, err)
		}
	}
}

// TestTreeConsistent walks the whole tree and checks that Walk, List and
// Stat agree, that every file can be read, and that Walk honours the start
// hint the catalog uses.
func TestTreeConsistent(t *testing.T) {
	d, _ := newBundleDriver(t)
	ctx := context.Background()
	var walked []string
	err := d.Walk(ctx, "/", func(fi storagedriver.FileInfo) error {
		walked = append(walked, fi.Path())
		st, err := d.Stat(ctx, fi.Path())
		if err != nil {
			return err
		}
		if st.IsDir() != fi.IsDir() || st.Size() != fi.Size() {
			t.Errorf("%s: Walk and Stat disagree", fi.Path())
		}
		if fi.IsDir() {
			kids, err := d.List(ctx, fi.Path())
			if err != nil {
				return err
			}
			if len(kids) == 0 {
				t.Errorf("%s: empty directory", fi.Path())
			}
			for _, k := range kids {
				if path.Dir(k) != fi.Path() {
					t.Errorf("%s lists %s", fi.Path(), k)
				}
			}
			return nil
		}
		rc, err := d.Reader(ctx, fi.Path(), 0)
		if err != nil {
			return err
		}
		n, _ := io.Copy(io.Discard, rc)
		rc.Close()
		if n != fi.Size() {
			t.Errorf("%s: read %d bytes, Stat says %d", fi.Path(), n, fi.Size())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(walked) != len(d.tree.nodes)-1 { // every node but the root
		t.Errorf("walk visited %d paths, the tree has %d nodes", len(walked), len(d.tree.nodes))
	}
	if !slices.IsSortedFunc(walked, func(a, b string) int {
		return strings.Compare(strings.ReplaceAll(a, "/", "\x00"), strings.ReplaceAll(b, "/", "\x00"))
	}) {
		t.Error("walk is not in depth-first lexical order")
	}

	// Walking the repositories with a start hint, as the catalog's "last"
	// does, resumes after the hint.
	repos := d.tree.repoNames()
	hint := path.Join(reposRoot, repos[len(repos)/2], "_manifests")
	var after []string
	err = d.Walk(ctx, reposRoot, func(fi storagedriver.FileInfo) error {
		if path.Base(fi.Path()) == "_manifests" {
			after = append(after, strings.TrimSuffix(strings.TrimPrefix(fi.Path(), reposRoot+"/"), "/_manifests"))
			return storagedriver.ErrSkipDir
		}
		return nil
	}, storagedriver.WithStartAfterHint(hint))
	if err != nil {
		t.Fatal(err)
	}
	if want := repos[len(repos)/2+1:]; !slices.Equal(after, want) {
		t.Errorf("repositories after %s:\n got %v\nwant %v", repos[len(repos)/2], after, want)
	}
}

func TestDriverErrors(t *testing.T) {
	d, f := newBundleDriver(t)
	ctx := context.Background()
	img := f.b.Lock.Images[0]
	blob := blobDataPath(digest.Digest(img.Layers[0].Digest))
	tests := []struct {
		name string
		call func() error
		want func(error) bool
	}{
		{"stat missing", func() error { _, err := d.Stat(ctx, reposRoot+"/nope/_manifests"); return err }, notFound},
		{"list a file", func() error { _, err := d.List(ctx, blob); return err }, notFound},
		{"content of a dir", func() error { _, err := d.GetContent(ctx, reposRoot); return err }, notFound},
		{"unclean path", func() error { _, err := d.Stat(ctx, reposRoot+"/../x"); return err }, isType[storagedriver.InvalidPathError]},
		{"offset past the end", func() error { _, err := d.Reader(ctx, blob, img.Layers[0].Size+1); return err }, isType[storagedriver.InvalidOffsetError]},
		{"put", func() error { return d.PutContent(ctx, "/x", nil) }, is(ErrReadOnly)},
		{"writer", func() error { _, err := d.Writer(ctx, "/x", false); return err }, is(ErrReadOnly)},
		{"move", func() error { return d.Move(ctx, blob, "/x") }, is(ErrReadOnly)},
		{"delete", func() error { return d.Delete(ctx, blob) }, is(ErrReadOnly)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.call(); !tt.want(err) {
				t.Errorf("got %v (%T)", err, err)
			}
		})
	}
	// Reading at the very end gives an empty reader, not an error.
	rc, err := d.Reader(ctx, blob, img.Layers[0].Size)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := io.Copy(io.Discard, rc); n != 0 {
		t.Errorf("read %d bytes at the end", n)
	}
}

func isType[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

func is(target error) func(error) bool {
	return func(err error) bool { return errors.Is(err, target) }
}

// BenchmarkNewTree measures start-up work for the default manifest's lock.
func BenchmarkNewTree(b *testing.B) {
	f := defaultBundle(b)
	log := slog.New(slog.DiscardHandler)
	for b.Loop() {
		if _, err := newTree(f.b, log); err != nil {
			b.Fatal(err)
		}
	}
}
