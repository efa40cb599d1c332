// Package bundletest stands in for the internet in tests and demos: a local
// registry (go-containerregistry's in-memory registry) holding random images
// under a manifest's real names, and a local file server holding generated
// files, reachable through build's --mirror redirections.
//
// It replaces only the upstream registries and download sites; everything of
// paimirror's own runs for real against it.
package bundletest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/manifests"
)

// Options configures Start. The zero value makes small images (one shared
// base layer plus one own layer of 2 KiB each).
type Options struct {
	// LayerSize is the size of each image's own random layer; default 2048.
	LayerSize int64
	// FileSize is the size of each generated file; default 4096.
	FileSize int64
	// Delay, when set, holds every blob and file response this long before
	// its body, so a test can interrupt a build half way.
	Delay time.Duration
	// OCI lists upstream references whose images are OCI-typed; the others
	// are Docker schema 2, as most of OpenPAI's images are.
	OCI map[string]bool
	// Tamper, when set, decides per request whether the response body is
	// corrupted (one byte flipped) on its way out.
	Tamper func(r *http.Request) bool
}

// Upstream is a running fake internet.
type Upstream struct {
	// Registry serves every image under "<upstream host>/<repository>".
	Registry *httptest.Server
	// Files serves every file under "/<upstream host>/<path>".
	Files *httptest.Server
	// Manifest is the manifest the upstream was filled for: the input's
	// images, and files whose sha256 match the generated content.
	Manifest *manifests.Manifest
	// Images maps each upstream reference to the image stored for it.
	Images map[string]v1.Image
	// FileData maps each file URL to its content.
	FileData map[string][]byte

	mu       sync.Mutex
	requests map[string]int
}

// Start fills a registry with a random image for every image of m and a file
// server with random content for every file of m. Files of m are rewritten
// (in Upstream.Manifest) to carry the sha256 of that content; a file whose
// entry says no_checksum keeps saying so.
func Start(m *manifests.Manifest, opts Options) (*Upstream, error) {
	if opts.LayerSize == 0 {
		opts.LayerSize = 2048
	}
	if opts.FileSize == 0 {
		opts.FileSize = 4096
	}
	u := &Upstream{Images: map[string]v1.Image{}, FileData: map[string][]byte{}, requests: map[string]int{}}
	quiet := log.New(io.Discard, "", 0)
	u.Registry = httptest.NewServer(u.wrap(ggcrregistry.New(ggcrregistry.Logger(quiet)), opts))
	files := http.NewServeMux()
	u.Files = httptest.NewServer(u.wrap(files, opts))

	base, err := random.Layer(opts.LayerSize, types.DockerLayer)
	if err != nil {
		return nil, err
	}
	regHost := strings.TrimPrefix(u.Registry.URL, "http://")
	for _, img := range m.Images {
		registry, repository, tag := img.Upstream()
		own, err := random.Layer(opts.LayerSize, types.DockerLayer)
		if err != nil {
			return nil, err
		}
		im, err := mutate.AppendLayers(empty.Image, base, own)
		if err != nil {
			return nil, err
		}
		if opts.OCI[img.Ref] {
			im = mutate.MediaType(im, types.OCIManifestSchema1)
			im = mutate.ConfigMediaType(im, types.OCIConfigJSON)
		} else {
			im = mutate.MediaType(im, types.DockerManifestSchema2)
			im = mutate.ConfigMediaType(im, types.DockerConfigJSON)
		}
		ref, err := name.ParseReference(fmt.Sprintf("%s/%s/%s:%s", regHost, registry, repository, tag))
		if err != nil {
			return nil, err
		}
		if err := remote.Write(ref, im); err != nil {
			return nil, fmt.Errorf("seeding %s: %w", ref, err)
		}
		u.Images[img.Ref] = im
	}

	out := *m
	out.Files = nil
	for _, f := range m.Files {
		data := u.FileData[f.URL]
		if data == nil {
			data = make([]byte, opts.FileSize)
			rand.Read(data)
		}
		for _, src := range f.Sources() {
			if u.FileData[src] != nil {
				continue
			}
			pu, err := url.Parse(src)
			if err != nil {
				return nil, err
			}
			files.HandleFunc("GET /"+pu.Host+pu.Path, func(w http.ResponseWriter, r *http.Request) {
				http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
			})
			u.FileData[src] = data
		}
		if f.SHA256 != "" {
			sum := sha256.Sum256(data)
			f.SHA256 = hex.EncodeToString(sum[:])
		}
		out.Files = append(out.Files, f)
	}
	u.mu.Lock()
	u.Manifest = &out
	clear(u.requests) // seeding is not what tests count
	u.mu.Unlock()
	return u, nil
}

// Mirrors returns the --mirror redirections that send every registry and
// every file host of the manifest to this upstream.
func (u *Upstream) Mirrors() []bundle.Mirror {
	var out []bundle.Mirror
	seen := map[string]bool{}
	regHost := strings.TrimPrefix(u.Registry.URL, "http://")
	for _, img := range u.Manifest.Images {
		registry, _, _ := img.Upstream()
		if !seen[registry] {
			seen[registry] = true
			out = append(out, bundle.Mirror{From: registry, To: "http://" + regHost + "/" + registry})
		}
	}
	for _, f := range u.Manifest.Files {
		for _, src := range f.Sources() {
			pu, _ := url.Parse(src)
			origin := pu.Scheme + "://" + pu.Host
			if !seen[origin] {
				seen[origin] = true
				out = append(out, bundle.Mirror{From: origin, To: u.Files.URL + "/" + pu.Host})
			}
		}
	}
	return out
}

// MirrorFlags returns Mirrors as --mirror flag values.
func (u *Upstream) MirrorFlags() []string {
	var out []string
	for _, m := range u.Mirrors() {
		out = append(out, m.From+"="+m.To)
	}
	return out
}

// Requests returns how many requests each path received, for tests that
// check nothing was fetched twice.
func (u *Upstream) Requests() map[string]int {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make(map[string]int, len(u.requests))
	for k, v := range u.requests {
		out[k] = v
	}
	return out
}

// BlobGets returns the paths of blob and file downloads, sorted.
func (u *Upstream) BlobGets() []string {
	var out []string
	for p, n := range u.Requests() {
		if !strings.HasPrefix(p, "GET ") {
			continue
		}
		if strings.Contains(p, "/blobs/sha256:") || !strings.HasPrefix(p, "GET /v2/") {
			for range n {
				out = append(out, p)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Close stops both servers.
func (u *Upstream) Close() {
	u.Registry.Close()
	u.Files.Close()
}

func (u *Upstream) wrap(h http.Handler, opts Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.requests[r.Method+" "+r.URL.Path]++
		seeded := u.Manifest != nil
		u.mu.Unlock()
		if seeded && opts.Delay > 0 && r.Method == http.MethodGet && (strings.Contains(r.URL.Path, "/blobs/") || !strings.HasPrefix(r.URL.Path, "/v2/")) {
			select {
			case <-time.After(opts.Delay):
			case <-r.Context().Done():
				return
			}
		}
		if opts.Tamper != nil && opts.Tamper(r) {
			w = &flipWriter{ResponseWriter: w}
		}
		h.ServeHTTP(w, r)
	})
}

// flipWriter corrupts the first byte of a response body.
type flipWriter struct {
	http.ResponseWriter
	flipped bool
}

func (f *flipWriter) Write(p []byte) (int, error) {
	if !f.flipped && len(p) > 0 {
		f.flipped = true
		q := append([]byte{}, p...)
		q[0] ^= 0xff
		return f.ResponseWriter.Write(q)
	}
	return f.ResponseWriter.Write(p)
}

// ClosedAddr returns a loopback address nothing listens on, for tests of
// unreachable hosts.
func ClosedAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	l.Close()
	return addr, nil
}

// RandomImage returns a single-layer Docker schema 2 image.
func RandomImage(layerSize int64) (v1.Image, error) {
	l, err := random.Layer(layerSize, types.DockerLayer)
	if err != nil {
		return nil, err
	}
	return mutate.AppendLayers(empty.Image, l)
}

// Index returns a multi-platform index of the given images, keyed by
// "os/arch".
func Index(images map[string]v1.Image) v1.ImageIndex {
	var adds []mutate.IndexAddendum
	keys := make([]string, 0, len(images))
	for k := range images {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p, _ := v1.ParsePlatform(k)
		adds = append(adds, mutate.IndexAddendum{Add: images[k], Descriptor: v1.Descriptor{Platform: p}})
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
}
