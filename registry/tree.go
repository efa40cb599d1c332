package registry

import (
	"fmt"
	"log/slog"
	"path"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/manifests"
)

// Paths of distribution's storage layout (registry/storage/paths.go of
// distribution v3). Every path the registry asks its driver for starts with
// root.
const (
	root      = "/docker/registry/v2"
	reposRoot = root + "/repositories"
	blobsRoot = root + "/blobs"
)

// tagRegexp is the OCI/distribution tag grammar.
var tagRegexp = regexp.MustCompile(`^[\w][\w.-]{0,127}$`)

// node is one entry of the synthesized tree: a directory, a link file (its
// content is a digest string) or a blob's data file (a section of the
// bundle).
type node struct {
	dir      bool
	children []string      // full paths, sorted; directories only
	link     []byte        // link files only
	blob     digest.Digest // data files only: the blob's digest
	size     int64
}

// tree is distribution's storage layout synthesized from a bundle's lock.
// It is built once and never changes, so any number of goroutines may read
// it.
type tree struct {
	nodes   map[string]*node
	modTime time.Time
	// blobs maps the digest of every image blob to its data node.
	blobs map[digest.Digest]*node

	// repos maps a repository name to what the bundle holds in it; the
	// registry's write checks use it.
	repos map[string]*bundleRepo
}

// bundleRepo is what one repository of the bundle holds.
type bundleRepo struct {
	tags      map[string]digest.Digest // tag -> manifest digest
	manifests map[digest.Digest]bool   // manifest digests
	blobs     map[digest.Digest]bool   // config and layer digests
}

// newTree synthesizes the layout for every image blob and every mirror name
// of every image in b. The cost is proportional to the lock (images × names
// × blobs), never to the bundle's bytes: no blob is read.
func newTree(b *bundle.Bundle, log *slog.Logger) (*tree, error) {
	t := &tree{
		nodes:   map[string]*node{},
		modTime: b.Lock.Created,
		blobs:   map[digest.Digest]*node{},
		repos:   map[string]*bundleRepo{},
	}
	children := map[string]map[string]bool{}
	var addDir func(p string)
	addDir = func(p string) {
		if _, ok := children[p]; ok {
			return
		}
		children[p] = map[string]bool{}
		if p == "/" {
			return
		}
		parent := path.Dir(p)
		addDir(parent)
		children[parent][p] = true
	}
	addFile := func(p string, n *node) {
		if _, ok := t.nodes[p]; ok {
			return // the same blob or link reached through another image
		}
		t.nodes[p] = n
		parent := path.Dir(p)
		addDir(parent)
		children[parent][p] = true
	}
	addLink := func(p string, d digest.Digest) {
		addFile(p, &node{link: []byte(d), size: int64(len(d))})
	}
	addBlob := func(d digest.Digest) error {
		if err := d.Validate(); err != nil {
			return fmt.Errorf("blob %q: %w", d, err)
		}
		size, ok := b.BlobSize(d)
		if !ok {
			return fmt.Errorf("blob %s: %w", d, bundle.ErrNotFound)
		}
		if _, ok := t.blobs[d]; !ok {
			n := &node{blob: d, size: size}
			addFile(blobDataPath(d), n)
			t.blobs[d] = n
		}
		return nil
	}
	addDir(reposRoot)
	addDir(blobsRoot)

	for _, img := range b.Lock.Images {
		dgst := img.Digest
		if err := dgst.Validate(); err != nil {
			return nil, fmt.Errorf("image %s: manifest digest %q: %w", img.Ref, img.Digest, err)
		}
		if err := addBlob(dgst); err != nil {
			return nil, fmt.Errorf("image %s: %w", img.Ref, err)
		}
		var blobs []digest.Digest
		for _, bl := range img.Blobs() {
			if err := addBlob(bl.Digest); err != nil {
				return nil, fmt.Errorf("image %s: %w", img.Ref, err)
			}
			blobs = append(blobs, bl.Digest)
		}
		for _, name := range img.Names {
			repo, tag := manifests.RepoTag(name)
			if _, err := reference.WithName(repo); err != nil {
				log.Warn("image name is not a valid repository name; not served", "image", img.Ref, "name", name, "err", err)
				continue
			}
			if tag != "" && !tagRegexp.MatchString(tag) {
				log.Warn("image name has an invalid tag; not served", "image", img.Ref, "name", name)
				continue
			}
			br := t.repos[repo]
			if br == nil {
				br = &bundleRepo{tags: map[string]digest.Digest{}, manifests: map[digest.Digest]bool{}, blobs: map[digest.Digest]bool{}}
				t.repos[repo] = br
			}
			repoDir := path.Join(reposRoot, repo)
			addLink(path.Join(repoDir, "_manifests/revisions", dgst.Algorithm().String(), dgst.Encoded(), "link"), img.Digest)
			br.manifests[img.Digest] = true
			if tag != "" {
				if other, dup := br.tags[tag]; dup && other != img.Digest {
					log.Warn("two images share a name; the first one is served", "name", name, "served", other, "ignored", img.Digest)
				} else {
					br.tags[tag] = img.Digest
					tagDir := path.Join(repoDir, "_manifests/tags", tag)
					addLink(path.Join(tagDir, "current/link"), img.Digest)
					addLink(path.Join(tagDir, "index", dgst.Algorithm().String(), dgst.Encoded(), "link"), img.Digest)
				}
			}
			for _, bd := range blobs {
				addLink(path.Join(repoDir, "_layers", bd.Algorithm().String(), bd.Encoded(), "link"), bd)
				br.blobs[bd] = true
			}
		}
	}

	for p, kids := range children {
		n := &node{dir: true, children: make([]string, 0, len(kids))}
		for k := range kids {
			n.children = append(n.children, k)
		}
		slices.Sort(n.children)
		t.nodes[p] = n
	}
	return t, nil
}

// blobDataPath is distribution's blobDataPathSpec:
// <root>/blobs/<algorithm>/<first two hex>/<hex>/data.
func blobDataPath(d digest.Digest) string {
	enc := d.Encoded()
	return path.Join(blobsRoot, d.Algorithm().String(), enc[:2], enc, "data")
}

// lookup returns the node at p, which must be a clean absolute path.
func (t *tree) lookup(p string) (*node, bool) {
	n, ok := t.nodes[p]
	return n, ok
}

// contains reports whether p is a node of the tree or an ancestor of one
// (that is, whether deleting p would remove bundle content).
func (t *tree) contains(p string) bool {
	_, ok := t.nodes[p]
	return ok
}

// repoNames returns the bundle's repository names, sorted.
func (t *tree) repoNames() []string {
	out := make([]string, 0, len(t.repos))
	for r := range t.repos {
		out = append(out, r)
	}
	slices.Sort(out)
	return out
}

// cleanPath reports whether p is a path distribution may ask for: absolute,
// clean, with no trailing slash (except "/").
func cleanPath(p string) bool {
	return p == "/" || (strings.HasPrefix(p, "/") && path.Clean(p) == p)
}
