package bundle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle/internal/fetch"
)

// Base is the base of a delta build (BuildOptions.Base).
type Base struct {
	// Lock is the base's paimirror.json exactly as stored.
	Lock []byte
	// File is the base bundle's file name, recorded in the delta's lock
	// for messages; "" when only its lock was given.
	File string
}

// maxLockSize bounds a lock read into memory (Open's limit too).
const maxLockSize = 64 << 20

// ReadBase reads the base of a delta build from paths: a bundle (a file,
// or its parts in order; a delta too, opened without its base, whose lock
// is complete), or one file holding a lock as `paimirror inspect --lock`
// prints it (paimirror.json exactly as stored; trailing newlines, which
// paimirror never writes in a lock, are ignored). A lock file with CRLF
// line endings is refused: it was altered on its way, and its sha256 would
// name no bundle. Cost: a bundle's tar headers and lock, as OpenWith.
func ReadBase(paths ...string) (*Base, error) {
	if len(paths) == 0 {
		return nil, errors.New("reading the base: no file given")
	}
	if len(paths) == 1 {
		data, isJSON, err := readLockFile(paths[0])
		if err != nil {
			return nil, err
		}
		if isJSON {
			if _, err := parseLock(data); err != nil {
				return nil, fmt.Errorf("reading the base's lock %s: %w", paths[0], err)
			}
			return &Base{Lock: data}, nil
		}
	}
	b, err := OpenWith(OpenOptions{NoBase: true}, paths...)
	if err != nil {
		return nil, fmt.Errorf("reading the base: %w", err)
	}
	defer b.Close()
	return &Base{Lock: bytes.Clone(b.LockBytes()), File: filepath.Base(paths[0])}, nil
}

// readLockFile reads path whole if it is a lock (JSON), trimmed of
// trailing newlines; isJSON is false for anything else (a tar).
func readLockFile(path string) (data []byte, isJSON bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, false, fmt.Errorf("reading the base: %s does not exist", path)
		}
		return nil, false, fmt.Errorf("reading the base: %w", err)
	}
	defer f.Close()
	head := make([]byte, 1)
	if _, err := io.ReadFull(f, head); err != nil || head[0] != '{' {
		return nil, false, nil // not a lock; Open says what it is
	}
	data, err = io.ReadAll(io.MultiReader(bytes.NewReader(head), io.LimitReader(f, maxLockSize)))
	if err != nil {
		return nil, false, fmt.Errorf("reading the base's lock %s: %w", path, err)
	}
	if len(data) > maxLockSize {
		return nil, false, fmt.Errorf("reading the base's lock %s: more than %d bytes; is it a lock?", path, maxLockSize)
	}
	if bytes.Contains(data, []byte("\r\n")) {
		return nil, false, fmt.Errorf("the base's lock %s has CRLF line endings: it was altered on its way, and no bundle has that lock; export it again with 'paimirror inspect --lock BUNDLE > FILE' and copy it as binary", path)
	}
	return bytes.TrimRight(data, "\n"), true, nil
}

// lockBlobs maps every blob a lock names to its size: image manifests,
// configs, layers and layout indexes, files, python files, apt files and
// keys. These are what a bundle with that lock holds.
func lockBlobs(l *Lock) map[digest.Digest]int64 {
	out := map[digest.Digest]int64{}
	for _, img := range l.Images {
		out[img.Digest] = img.Size
		for _, bl := range append(img.Blobs(), img.LayoutIndex) {
			out[bl.Digest] = bl.Size
		}
	}
	for _, f := range l.Files {
		out[f.Digest()] = f.Size
	}
	for _, f := range l.PythonFiles() {
		out[f.Digest()] = f.Size
	}
	for _, f := range l.AptServed() {
		out[f.Digest()] = f.Size
	}
	return out
}

// inBaseBytes sums the blobs of lock that base holds, each once.
func inBaseBytes(lock *Lock, base map[digest.Digest]int64) int64 {
	var n int64
	for d, size := range lockBlobs(lock) {
		if _, ok := base[d]; ok {
			n += size
		}
	}
	return n
}

// fetchMemory downloads a small blob (an image config a delta's base
// holds) through the engine, checks it against its digest and returns
// its bytes without storing them.
func (b *builder) fetchMemory(ctx context.Context, item string, d digest.Digest, size int64, sources []fetch.Source) ([]byte, error) {
	var buf bytes.Buffer
	_, err := b.fetchApart(ctx, item, d, size, sources, &buf)
	return buf.Bytes(), err
}

// fetchApart downloads a blob a delta's base holds through the engine
// (resumable, verified), at most Jobs at once like every download, and
// copies it to w instead of storing it: the delta must not hold it, but
// the build needs to read it. It returns the bytes copied.
func (b *builder) fetchApart(ctx context.Context, item string, d digest.Digest, size int64, sources []fetch.Source, w io.Writer) (int64, error) {
	select {
	case b.sem <- struct{}{}:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	defer func() { <-b.sem }()
	var n int64
	_, err := b.eng.Fetch(ctx, fetch.Request{
		Item: item, Digest: d, Size: size, Sources: sources,
		Commit: func(f *os.File, _ digest.Digest, size int64) error {
			var err error
			n, err = io.Copy(w, io.LimitReader(f, size))
			return err
		},
	})
	return n, err
}

// Change says how an item of a delta differs from its base.
type Change string

const (
	// ChangeAdded: the item is not in the base.
	ChangeAdded Change = "added"
	// ChangeChanged: the base has the item with other content (or names,
	// or paths).
	ChangeChanged Change = "changed"
	// ChangeRemoved: the base has the item; the new state does not.
	ChangeRemoved Change = "removed"
	// ChangeNew: added or changed; the base's lock was not at hand to
	// tell (a delta opened alone), and the delta stores the item's
	// content.
	ChangeNew Change = "new"
)

// Changes is what a delta bundle brings over its base. Its JSON form is
// stable; fields are only ever added.
type Changes struct {
	// Exact reports whether the base's lock was at hand (the base was
	// opened with the delta), so that Images, Files, PythonFiles and
	// AptPackages say what was added, changed and removed. Without it
	// they list what the delta stores content for (ChangeNew): an item
	// added under a new name with content the base has already, or one
	// removed, does not show.
	Exact bool `json:"exact"`
	// Images are compared by upstream reference; an image changes with
	// its digest or mirror names.
	Images []ItemChange `json:"images"`
	// Files are compared by URL; a file changes with its sha256 or paths.
	Files []ItemChange `json:"files"`
	// PythonFiles are compared by file name.
	PythonFiles []ItemChange `json:"pythonFiles,omitempty"`
	// AptPackages are the .deb files, compared by repository and
	// "name=version".
	AptPackages []ItemChange `json:"aptPackages,omitempty"`
	// Blobs and Bytes are the blobs the delta stores and their size.
	Blobs int   `json:"blobs"`
	Bytes int64 `json:"bytes"`
}

// ItemChange is one item of Changes.
type ItemChange struct {
	// Name is the image's reference, the file's URL, the python file's
	// name, or the .deb's "repository name=version".
	Name   string `json:"name"`
	Change Change `json:"change"`
	// Digest is the item's digest in the new state ("" when removed).
	Digest digest.Digest `json:"digest,omitempty"`
	// Bytes is what the delta stores of the item: its blobs the base
	// lacks (a blob several items share counts for each).
	Bytes int64 `json:"bytes"`
}

// Locks returns the lock of each bundle Open was given, base first: one
// for a bundle without deltas (or a delta opened alone), the base's and
// each delta's for a base and its deltas. The last is Lock. Callers must
// not modify them.
func (b *Bundle) Locks() []*Lock {
	out := make([]*Lock, len(b.layers))
	for i, l := range b.layers {
		out[i] = l.lock
	}
	return out
}

// Changes returns what the bundle, a delta, brings over its base; nil for
// a whole bundle. See Changes.Exact for what it can tell when the delta
// was opened alone. Cost: a walk over both locks.
func (b *Bundle) Changes() *Changes {
	if b.Lock.Base == nil {
		return nil
	}
	top := b.layers[len(b.layers)-1]
	var base *Lock
	if len(b.layers) > 1 {
		base = b.layers[len(b.layers)-2].lock
	}
	c := &Changes{Exact: base != nil, Images: []ItemChange{}, Files: []ItemChange{}, Blobs: len(top.blobs)}
	for _, e := range top.blobs {
		c.Bytes += e.Size
	}
	stored := func(digests ...digest.Digest) int64 {
		var n int64
		seen := map[digest.Digest]bool{}
		for _, d := range digests {
			if e, ok := top.blobs[d]; ok && !seen[d] {
				seen[d] = true
				n += e.Size
			}
		}
		return n
	}
	// diff compares the items of the new state (keys, with their identity
	// and digests) with the base's.
	type item struct {
		name, ident string
		digest      digest.Digest
		blobs       []digest.Digest
	}
	diff := func(now, before []item) []ItemChange {
		out := []ItemChange{}
		old := map[string]string{}
		for _, it := range before {
			old[it.name] = it.ident
		}
		names := map[string]bool{}
		for _, it := range now {
			names[it.name] = true
			ch := ItemChange{Name: it.name, Digest: it.digest, Bytes: stored(it.blobs...)}
			switch ident, ok := old[it.name]; {
			case base == nil && ch.Bytes > 0:
				ch.Change = ChangeNew
			case base == nil:
				continue
			case !ok:
				ch.Change = ChangeAdded
			case ident != it.ident:
				ch.Change = ChangeChanged
			default:
				continue
			}
			out = append(out, ch)
		}
		for _, it := range before {
			if !names[it.name] {
				out = append(out, ItemChange{Name: it.name, Change: ChangeRemoved})
				names[it.name] = true
			}
		}
		sort.SliceStable(out, func(i, j int) bool { return changeOrder(out[i].Change) < changeOrder(out[j].Change) })
		return out
	}
	images := func(l *Lock) []item {
		var out []item
		if l == nil {
			return nil
		}
		for _, img := range l.Images {
			blobs := []digest.Digest{img.Digest, img.LayoutIndex.Digest}
			for _, bl := range img.Blobs() {
				blobs = append(blobs, bl.Digest)
			}
			out = append(out, item{name: img.Ref, digest: img.Digest, ident: fmt.Sprint(img.Digest, img.Names), blobs: blobs})
		}
		return out
	}
	files := func(l *Lock) []item {
		var out []item
		if l == nil {
			return nil
		}
		for _, f := range l.Files {
			out = append(out, item{name: f.URL, digest: f.Digest(), ident: fmt.Sprint(f.SHA256, f.Paths), blobs: []digest.Digest{f.Digest()}})
		}
		return out
	}
	python := func(l *Lock) []item {
		var out []item
		if l == nil {
			return nil
		}
		for _, f := range l.PythonFiles() {
			out = append(out, item{name: f.Filename, digest: f.Digest(), ident: f.SHA256, blobs: []digest.Digest{f.Digest()}})
		}
		return out
	}
	debs := func(l *Lock) []item {
		var out []item
		if l == nil {
			return nil
		}
		for _, r := range l.AptRepositories() {
			for _, f := range r.Files {
				if f.Package != "" {
					out = append(out, item{name: r.Name + " " + f.Package, digest: f.Digest(), ident: f.SHA256, blobs: []digest.Digest{f.Digest()}})
				}
			}
		}
		return out
	}
	c.Images = diff(images(b.Lock), images(base))
	c.Files = diff(files(b.Lock), files(base))
	if p := diff(python(b.Lock), python(base)); len(p) > 0 {
		c.PythonFiles = p
	}
	if d := diff(debs(b.Lock), debs(base)); len(d) > 0 {
		c.AptPackages = d
	}
	return c
}

func changeOrder(c Change) int {
	switch c {
	case ChangeAdded, ChangeNew:
		return 0
	case ChangeChanged:
		return 1
	}
	return 2
}
