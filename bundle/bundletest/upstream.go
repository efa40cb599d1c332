// Package bundletest stands in for the internet in tests and demos: a local
// registry (go-containerregistry's in-memory registry) holding random images
// under a manifest's real names, a local file server holding generated
// files, for a manifest with a python section a small package index
// (pypitest's: PyPI's JSON API, the simple API and the files), and for
// its apt entries signed apt repositories (apttest's), all reachable
// through build's --mirror redirections.
//
// The package index holds one tiny pure-Python wheel (py2.py3-none-any,
// no dependencies) for every requirement of the section's installs: the
// pinned version for "name==X", else the lowest version the requirement
// allows among its own clauses' versions and "1.0". That is exactly enough
// for the section to resolve, for every target, against the fake index; it
// says nothing about the real packages' dependencies. Options.PythonDists
// replaces the generated wheels of the projects it names, for tests that
// need dependencies, sdists or markers. The index answers at the
// section's index and simple URLs (mirrored to "<file server>/<host>"), and
// its files are at https://files.pythonhosted.org (PythonFileHost), as
// PyPI's JSON API gives them.
//
// Every apt repository URL of the manifest gets one signed repository
// (served under "<file server>/<host><path>"), holding for each suite of
// the entries at that URL, in each entry's first component, one package
// per entry package and architecture: the pinned version of
// "name=version", else as for Python ("1.0", or the lowest a relation
// allows). Each depends on AptLibrary (versioned), which depends on a
// virtual package that one package provides, so resolution has real
// work; those two have a version of their own per repository
// ("1.0+r1", "1.0+r2", ...), so where several repositories serve one
// target the highest is unambiguous. The other components are empty.
// Each package holds a README, or the files Options.AptFiles gives it.
// Pool file names keep epochs as "%3a", as Docker's repository does.
// Each key URL serves a fresh ed25519 key and the key of every
// repository an entry pinning it is signed with (a ".gpg" URL binary,
// others armored); Upstream.Manifest carries the fake fingerprints.
//
// Both servers count, per path, the requests (Requests), the body bytes
// sent (BytesSent) and the Range headers asked (Ranges), and
// Options.Stall holds a response after part of its body, so a test can
// interrupt a build inside one item and see what a rerun fetches again.
//
// Build builds a bundle from a fresh upstream for one test. DefaultBundle
// and SmallBundle are read-only bundles of the default and the small
// manifest built once per test binary, in a temporary directory that
// RunTests (called from the package's TestMain) removes at exit; they
// are safe to ask for from concurrent tests.
//
// It replaces only the upstream registries, download sites, package
// index and apt repositories; everything of paimirror's own runs for
// real against it.
package bundletest

import (
	"bytes"
	"cmp"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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
	"github.com/paimirror/paimirror/bundle/apt/apttest"
	"github.com/paimirror/paimirror/bundle/pypi"
	"github.com/paimirror/paimirror/bundle/pypi/pypitest"
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
	// PythonDists are files the package index holds instead of the
	// wheels it would generate for the projects they belong to.
	PythonDists []*pypitest.Dist
	// FileContent gives, by URL, what a file of the manifest holds instead
	// of random bytes (a source archive a test unpacks, say).
	FileContent map[string][]byte
	// AptFiles gives, by package name, the files the generated apt
	// packages of that name hold instead of a README (a large file makes
	// a large .deb, say).
	AptFiles map[string]map[string][]byte
	// Stall, when set, decides per request after how many bytes of its
	// body the response stalls: it sends that many, then blocks until the
	// client goes away (or the upstream is closed). A negative answer
	// lets the response through. It applies to the registry's and the
	// file server's responses alike (files, python files and .debs), so
	// a test can interrupt a build at a known point of one item.
	Stall func(r *http.Request) int64
}

// PythonFileHost is where the fake package index says its files are.
const PythonFileHost = "https://files.pythonhosted.org"

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
	// PyPI is the package index serving the manifest's python section,
	// or nil when it has none.
	PyPI *pypitest.Index
	// Apt maps each apt repository URL of the manifest (without a
	// trailing "/") to the signed repository served for it under
	// "/<host><path>".
	Apt map[string]*apttest.Repo
	// AptKeys maps each apt key URL to the keyring served there.
	AptKeys map[string][]byte

	mu       sync.Mutex
	requests map[string]int
	sent     map[string]int64    // path → body bytes written
	ranges   map[string][]string // path → each GET's Range header
	closing  chan struct{}       // closed by Close: stalled responses end
	closed   sync.Once
	conns    atomic.Int64 // connections both servers accepted
}

// Start fills a registry with a random image for every image of m and a file
// server with random content for every file of m, a package index for its
// python section and apt repositories for its apt entries (see the package
// documentation). Files of m are rewritten (in Upstream.Manifest) to carry
// the sha256 of that content, a file whose entry says no_checksum keeps
// saying so, and apt entries to pin the fingerprints of the fake keys.
func Start(m *manifests.Manifest, opts Options) (*Upstream, error) {
	if opts.LayerSize == 0 {
		opts.LayerSize = 2048
	}
	if opts.FileSize == 0 {
		opts.FileSize = 4096
	}
	u := &Upstream{Images: map[string]v1.Image{}, FileData: map[string][]byte{}, requests: map[string]int{},
		sent: map[string]int64{}, ranges: map[string][]string{}, closing: make(chan struct{}),
		Apt: map[string]*apttest.Repo{}, AptKeys: map[string][]byte{}}
	quiet := log.New(io.Discard, "", 0)
	u.Registry = u.start(u.wrap(ggcrregistry.New(ggcrregistry.Logger(quiet)), opts))
	files := http.NewServeMux()
	u.Files = u.start(u.wrap(files, opts))

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
	served := map[string]bool{} // mux patterns
	for _, f := range m.Files {
		data := u.FileData[f.URL]
		if data == nil {
			data = opts.FileContent[f.URL]
		}
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
			served["GET /"+pu.Host+pu.Path] = true
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
	if m.Python != nil {
		if err := u.startPyPI(files, m.Python, opts.PythonDists); err != nil {
			return nil, err
		}
	}
	if len(m.Apt) > 0 {
		if out.Apt, err = u.startApt(files, m.Apt, opts.AptFiles, served); err != nil {
			return nil, err
		}
	}
	u.mu.Lock()
	u.Manifest = &out
	clear(u.requests) // seeding is not what tests count
	clear(u.sent)
	clear(u.ranges)
	u.mu.Unlock()
	return u, nil
}

// Pin returns a copy of m, a manifest whose items this upstream serves
// (m itself or a part of what Start was given), pinned to what it
// serves: each file with a sha256 gets the sha256 of the generated
// content, each apt entry the fingerprint of its fake repository's key.
// Items the upstream does not serve are left as they are.
func (u *Upstream) Pin(m *manifests.Manifest) *manifests.Manifest {
	out := *m
	out.Files = slices.Clone(m.Files)
	for i, f := range out.Files {
		if data, ok := u.FileData[f.URL]; ok && f.SHA256 != "" {
			sum := sha256.Sum256(data)
			out.Files[i].SHA256 = hex.EncodeToString(sum[:])
		}
	}
	out.Apt = slices.Clone(m.Apt)
	for i, e := range out.Apt {
		if repo, ok := u.Apt[strings.TrimRight(e.URL, "/")]; ok {
			out.Apt[i].Key.Fingerprint = repo.Fingerprint()
		}
	}
	return &out
}

// Mirrors returns the --mirror redirections that send every registry and
// every file, package index, apt repository and apt key host of the
// manifest to this upstream.
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
	var urls []string
	for _, f := range u.Manifest.Files {
		urls = append(urls, f.Sources()...)
	}
	if u.PyPI != nil {
		urls = append(urls, pythonURLs(u.Manifest.Python)...)
	}
	for _, a := range u.Manifest.Apt {
		urls = append(urls, a.URL, a.Key.URL)
	}
	for _, src := range urls {
		pu, _ := url.Parse(src)
		origin := pu.Scheme + "://" + pu.Host
		if !seen[origin] {
			seen[origin] = true
			out = append(out, bundle.Mirror{From: origin, To: u.Files.URL + "/" + pu.Host})
		}
	}
	return out
}

// pythonURLs are the URLs the python section reaches: its index, or
// PyPI's by default, its simple API root, and the file host.
func pythonURLs(py *manifests.Python) []string {
	var out []string
	if py.Index != "" || py.Simple == "" {
		out = append(out, cmp.Or(py.Index, manifests.DefaultPythonIndex))
	}
	if py.Simple != "" {
		out = append(out, py.Simple)
	}
	return append(out, PythonFileHost)
}

// startPyPI serves a package index satisfying py on the file server, under
// "/<host><path>" of each of py's index URLs and of PythonFileHost.
func (u *Upstream) startPyPI(mux *http.ServeMux, py *manifests.Python, extra []*pypitest.Dist) error {
	dists, err := pythonDists(py, extra)
	if err != nil {
		return err
	}
	u.PyPI = pypitest.NewIndex(dists)
	u.PyPI.FileBase = PythonFileHost
	mounted := map[string]bool{}
	for _, raw := range pythonURLs(py) {
		pu, err := url.Parse(strings.TrimRight(raw, "/"))
		if err != nil {
			return fmt.Errorf("python index %q: %w", raw, err)
		}
		// The index answers /pypi/... and /simple/... under its root.
		prefix := "/" + pu.Host + strings.TrimSuffix(pu.Path, "/simple")
		if !mounted[prefix] {
			mounted[prefix] = true
			mux.Handle(prefix+"/", http.StripPrefix(prefix, u.PyPI))
		}
	}
	return nil
}

// pythonDists returns extra, and a generated wheel for each requirement of
// py on a project extra does not name (see the package documentation).
func pythonDists(py *manifests.Python, extra []*pypitest.Dist) ([]*pypitest.Dist, error) {
	given := map[string]bool{}
	for _, d := range extra {
		given[d.Project] = true
	}
	out := append([]*pypitest.Dist{}, extra...)
	made := map[string]bool{}
	for _, in := range py.Installs {
		for _, s := range in.Requirements {
			r, err := pypi.ParseRequirement(s)
			if err != nil || given[r.Project()] {
				continue // build reports a bad requirement
			}
			v := fittingVersion(r.Specifier)
			if made[r.Project()+" "+v] {
				continue
			}
			made[r.Project()+" "+v] = true
			d, err := pypitest.Wheel(pypitest.Package{Name: r.Name, Version: v}, "py2.py3-none-any")
			if err != nil {
				return nil, err
			}
			out = append(out, d)
		}
	}
	return out, nil
}

// fittingVersion returns a version ss allows: the lowest of its clauses'
// own versions and "1.0" that it contains, else "1.0".
func fittingVersion(ss pypi.SpecifierSet) string {
	var cands []pypi.Version
	for _, c := range append([]string{"1.0"}, clauseVersions(ss)...) {
		if v, err := pypi.ParseVersion(c); err == nil && ss.Contains(v, true) {
			cands = append(cands, v)
		}
	}
	if len(cands) == 0 {
		return "1.0"
	}
	low := cands[0]
	for _, v := range cands[1:] {
		if v.Compare(low) < 0 {
			low = v
		}
	}
	return low.Raw()
}

func clauseVersions(ss pypi.SpecifierSet) []string {
	var out []string
	for _, c := range ss {
		out = append(out, strings.TrimSuffix(c.Version, ".*"))
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

// BytesSent returns how many body bytes the responses to requests for
// path (as Requests gives it, without the method) carried, for tests
// that check what a rerun fetched again.
func (u *Upstream) BytesSent(path string) int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.sent[path]
}

// Ranges returns the Range header of each GET of path, in order: "" for
// a request without one.
func (u *Upstream) Ranges(path string) []string {
	u.mu.Lock()
	defer u.mu.Unlock()
	return slices.Clone(u.ranges[path])
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

// start starts a test server for h that counts the connections it accepts.
func (u *Upstream) start(h http.Handler) *httptest.Server {
	s := httptest.NewUnstartedServer(h)
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			u.conns.Add(1)
		}
	}
	s.Start()
	return s
}

// Connections returns how many connections the registry and the file
// server have accepted so far.
func (u *Upstream) Connections() int64 { return u.conns.Load() }

// Close ends stalled responses and stops both servers.
func (u *Upstream) Close() {
	u.closed.Do(func() { close(u.closing) })
	u.Registry.Close()
	u.Files.Close()
}

func (u *Upstream) wrap(h http.Handler, opts Options) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.requests[r.Method+" "+r.URL.Path]++
		if r.Method == http.MethodGet {
			u.ranges[r.URL.Path] = append(u.ranges[r.URL.Path], r.Header.Get("Range"))
		}
		seeded := u.Manifest != nil
		u.mu.Unlock()
		w = &countWriter{ResponseWriter: w, u: u, path: r.URL.Path}
		if seeded && opts.Delay > 0 && r.Method == http.MethodGet && (strings.Contains(r.URL.Path, "/blobs/") || !strings.HasPrefix(r.URL.Path, "/v2/")) {
			select {
			case <-time.After(opts.Delay):
			case <-r.Context().Done():
				return
			}
		}
		if seeded && opts.Stall != nil {
			if n := opts.Stall(r); n >= 0 {
				w = &stallWriter{ResponseWriter: w, left: n, gone: r.Context().Done(), closing: u.closing}
			}
		}
		if opts.Tamper != nil && opts.Tamper(r) {
			w = &flipWriter{ResponseWriter: w}
		}
		h.ServeHTTP(w, r)
	})
}

// countWriter adds the body bytes of a response to the upstream's count
// for its path.
type countWriter struct {
	http.ResponseWriter
	u    *Upstream
	path string
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.u.mu.Lock()
	c.u.sent[c.path] += int64(n)
	c.u.mu.Unlock()
	return n, err
}

// Unwrap lets http.ResponseController reach the server's writer.
func (c *countWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// errStalled ends the body of a stalled response once its client is gone.
var errStalled = errors.New("bundletest: response stalled")

// stallWriter passes the first left bytes of a body on, flushed, then
// blocks until the client goes away or the upstream closes.
type stallWriter struct {
	http.ResponseWriter
	left    int64
	gone    <-chan struct{}
	closing <-chan struct{}
}

func (s *stallWriter) Write(p []byte) (int, error) {
	if int64(len(p)) <= s.left {
		n, err := s.ResponseWriter.Write(p)
		s.left -= int64(n)
		return n, err
	}
	n, err := s.ResponseWriter.Write(p[:s.left])
	s.left -= int64(n)
	if err != nil {
		return n, err
	}
	http.NewResponseController(s.ResponseWriter).Flush()
	select {
	case <-s.gone:
	case <-s.closing:
	}
	return n, errStalled
}

// Unwrap lets http.ResponseController reach the server's writer.
func (s *stallWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

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
