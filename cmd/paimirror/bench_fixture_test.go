package main

// Fixtures for the benchmarks in bench_test.go: bundles of generated images
// and files, built by bundle.Build from a local upstream and cached on disk.

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/manifests"
)

// benchGenVersion is part of every cached fixture's name: bump it when the
// generated content or the manifest changes.
const benchGenVersion = 1

const (
	kib = int64(1) << 10
	mib = int64(1) << 20
)

// benchSpec describes a generated bundle. Every image has one layer shared by
// all images (a base image) and OwnLayers layers of its own; a layer is an
// uncompressed tar holding one file of pseudo-random bytes (incompressible,
// so no layer of the transfer can cheat), an OCI layer as a real build
// stores it.
type benchSpec struct {
	Name      string
	Images    int
	BaseSize  int64   // content bytes of the shared layer
	OwnLayers int     // own layers per image
	OwnSizes  []int64 // content bytes of own layer k (over all images), cycled
	FileSizes []int64 // one plain file each
}

var (
	// pullSpec is the fixture of the throughput benchmarks: 32 images of
	// 12-19 MiB (a 4 MiB shared base and two own layers of 1-8 MiB) and four
	// files of 16-64 MiB.
	pullSpec = benchSpec{
		Name: "pull", Images: 32, BaseSize: 4 * mib, OwnLayers: 2,
		OwnSizes:  []int64{1 * mib, 8 * mib, 2 * mib, 6 * mib, 3 * mib, 5 * mib, 4 * mib, 7 * mib, 8 * mib},
		FileSizes: []int64{16 * mib, 32 * mib, 48 * mib, 64 * mib},
	}
	// smallSpec and largeSpec have the same shape (images, layers, files)
	// and differ only in bytes: about 10 MiB against about 4 GiB.
	smallSpec = benchSpec{
		Name: "small", Images: 8, BaseSize: 512 * kib, OwnLayers: 2,
		OwnSizes: []int64{512 * kib}, FileSizes: []int64{1 * mib, 1 * mib},
	}
	largeSpec = benchSpec{
		Name: "large", Images: 8, BaseSize: 240 * mib, OwnLayers: 2,
		OwnSizes: []int64{240 * mib}, FileSizes: []int64{64 * mib, 64 * mib},
	}
)

// key names the spec's cached bundle.
func (s benchSpec) key() string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%d %d %+v", benchGenVersion, bundle.FormatVersion, s))
	return s.Name + "-" + hex.EncodeToString(sum[:6])
}

// benchCacheDir is ${PAIMIRROR_CACHE:-$HOME/.cache/paimirror}, where .ci/bench.sh
// also keeps the baseline registry binary.
func benchCacheDir() string {
	if d := os.Getenv("PAIMIRROR_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "paimirror")
	}
	return ""
}

// benchBundle returns the path of the spec's bundle, building it once into
// the cache directory (or, without one, into a temp dir for this run).
// Concurrent runs wait for each other on a lock file.
func benchBundle(tb testing.TB, s benchSpec) string {
	tb.Helper()
	dir := filepath.Join(benchCacheDir(), "bench")
	if benchCacheDir() == "" || os.MkdirAll(dir, 0o755) != nil {
		dir = tb.TempDir()
	}
	path := filepath.Join(dir, s.key()+".tar")
	lock, err := os.OpenFile(path+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		tb.Fatal(err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)

	if _, err := os.Stat(path); err == nil {
		b, err := bundle.Open(path)
		if err == nil {
			b.Close()
			return path
		}
		tb.Logf("rebuilding the cached %s: %v", path, err)
	}
	// Fixtures of an older version or another shape of this spec go first:
	// the large one is several GB.
	if old, _ := filepath.Glob(filepath.Join(dir, s.Name+"-*.tar")); len(old) > 0 {
		for _, o := range old {
			if o != path {
				tb.Logf("removing the outdated fixture %s", o)
				os.Remove(o)
				os.Remove(o + ".lock")
			}
		}
	}
	start := time.Now()
	u, err := startBenchUpstream(s)
	if err != nil {
		tb.Fatal(err)
	}
	defer u.close()
	res, err := bundle.Build(context.Background(), u.manifest, bundle.BuildOptions{
		Output: path, Force: true, Mirrors: u.mirrors, Transport: bundletest.LoopbackTransport(),
		Jobs: 4, ToolVersion: "bench",
	})
	if err != nil {
		tb.Fatalf("building the %s benchmark bundle: %v", s.Name, err)
	}
	tb.Logf("built the %s benchmark bundle (%s) in %s: %s", s.Name, bundle.HumanSize(res.Size), time.Since(start).Round(time.Second), path)
	return path
}

// genBlob is the content of one upstream blob: fixed bytes, or a tar member
// header, n bytes of a seeded ChaCha8 stream, and the tar padding and end.
type genBlob struct {
	data   []byte
	header []byte // a layer's tar header; nil for a plain file's stream
	seed   uint64
	n      int64
	size   int64
	digest digest.Digest // set by digestAll
}

func fixedBlob(data []byte) *genBlob {
	return &genBlob{data: data, size: int64(len(data)), digest: digest.FromBytes(data)}
}

// streamBlob returns n pseudo-random bytes from seed; as a layer (tarName
// set) they are wrapped as the one member of an uncompressed tar.
func streamBlob(seed uint64, n int64, tarName string) *genBlob {
	g := &genBlob{seed: seed, n: n, size: n}
	if tarName != "" {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf) // WriteHeader writes the header block at once
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: tarName, Size: n, Mode: 0o644, ModTime: time.Unix(0, 0), Format: tar.FormatUSTAR}); err != nil {
			panic(err) // a fixed, valid header
		}
		g.header = buf.Bytes()
		g.size = int64(len(g.header)) + (n+511)&^511 + 1024
	}
	return g
}

func (g *genBlob) open() io.Reader {
	if g.data != nil {
		return bytes.NewReader(g.data)
	}
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], g.seed)
	stream := io.LimitReader(rand.NewChaCha8(seed), g.n)
	if g.header == nil {
		return stream
	}
	trailer := make([]byte, g.size-int64(len(g.header))-g.n)
	return io.MultiReader(bytes.NewReader(g.header), stream, bytes.NewReader(trailer))
}

// hash sets g.digest.
func (g *genBlob) hash() error {
	d := digest.SHA256.Digester()
	n, err := io.CopyBuffer(d.Hash(), g.open(), make([]byte, 1<<20))
	if err != nil {
		return err
	}
	if n != g.size {
		return fmt.Errorf("generated %d bytes, want %d", n, g.size)
	}
	g.digest = d.Digest()
	return nil
}

// layer describes g as an image layer.
func (g *genBlob) layer() ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: g.digest, Size: g.size}
}

// benchUpstream is the internet for one fixture build: go-containerregistry's
// registry serving manifests and the generated blobs (streamed, never held
// in memory), and a file server streaming the generated files.
type benchUpstream struct {
	registry, files *httptest.Server
	manifest        *manifests.Manifest
	mirrors         []bundle.Mirror

	mu    sync.Mutex
	blobs map[string]*genBlob // by digest
}

// fileHost is the upstream host of the fixture's files.
const fileHost = "storage.googleapis.com"

func startBenchUpstream(s benchSpec) (*benchUpstream, error) {
	u := &benchUpstream{blobs: map[string]*genBlob{}}
	quiet := log.New(io.Discard, "", 0)
	u.registry = httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(quiet), ggcrregistry.WithBlobHandler(u)))
	fileMux := http.NewServeMux()
	u.files = httptest.NewServer(fileMux)
	regHost := strings.TrimPrefix(u.registry.URL, "http://")
	u.mirrors = []bundle.Mirror{
		{From: "docker.io", To: "http://" + regHost + "/docker.io"},
		{From: "https://" + fileHost, To: u.files.URL + "/" + fileHost},
	}

	// Layers and files: hash them all first, in parallel.
	base := streamBlob(1, s.BaseSize, "base/data")
	own := make([][]*genBlob, s.Images)
	var all []*genBlob
	all = append(all, base)
	for i := range s.Images {
		for j := range s.OwnLayers {
			k := i*s.OwnLayers + j
			g := streamBlob(uint64(1000+k), s.OwnSizes[k%len(s.OwnSizes)], fmt.Sprintf("img-%02d/layer-%d", i, j))
			own[i] = append(own[i], g)
			all = append(all, g)
		}
	}
	files := make([]*genBlob, len(s.FileSizes))
	for i, n := range s.FileSizes {
		files[i] = streamBlob(uint64(900_000+i), n, "")
		all = append(all, files[i])
	}
	if err := hashAll(all); err != nil {
		u.close()
		return nil, err
	}
	for _, g := range all {
		u.blobs[g.digest.String()] = g
	}

	var text strings.Builder
	fmt.Fprintf(&text, "name: paimirror-bench-%s\ndescription: generated by cmd/paimirror's benchmarks\nimages:\n", s.Name)
	for i := range s.Images {
		layers := []ocispec.Descriptor{base.layer()}
		for _, g := range own[i] {
			layers = append(layers, g.layer())
		}
		cfg := ocispec.Image{
			Created:  new(time.Unix(0, 0).UTC()),
			Platform: ocispec.Platform{Architecture: "amd64", OS: "linux"},
			Config:   ocispec.ImageConfig{Cmd: []string{"/bin/true"}},
			RootFS:   ocispec.RootFS{Type: "layers"},
		}
		for _, l := range layers {
			cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.Digest) // uncompressed: the same
		}
		cfgJSON, err := json.Marshal(cfg)
		if err != nil {
			u.close()
			return nil, err
		}
		cfgBlob := fixedBlob(cfgJSON)
		u.blobs[cfgBlob.digest.String()] = cfgBlob
		cfgDesc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cfgBlob.digest, Size: cfgBlob.size}
		mf, err := json.Marshal(ocispec.Manifest{
			Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			Config: cfgDesc, Layers: layers,
		})
		if err != nil {
			u.close()
			return nil, err
		}
		repo := fmt.Sprintf("paimirror-bench/img-%02d", i)
		if err := u.putManifest("docker.io/"+repo, "v1", ocispec.MediaTypeImageManifest, mf); err != nil {
			u.close()
			return nil, err
		}
		fmt.Fprintf(&text, "  - ref: docker.io/%s:v1\n", repo)
	}
	if len(files) > 0 {
		text.WriteString("files:\n")
	}
	for i, g := range files {
		p := fmt.Sprintf("/paimirror-bench/file-%d.bin", i)
		fileMux.HandleFunc("GET /"+fileHost+p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", strconv.FormatInt(g.size, 10))
			io.Copy(w, g.open())
		})
		fmt.Fprintf(&text, "  - url: https://%s%s\n    sha256: %s\n    paths: [/k8s-share%s]\n", fileHost, p, g.digest.Encoded(), p)
	}
	m, err := manifests.Parse("bench-"+s.Name+".yaml", []byte(text.String()))
	if err != nil {
		u.close()
		return nil, err
	}
	u.manifest = m
	return u, nil
}

// hashAll hashes the blobs, GOMAXPROCS at a time.
func hashAll(blobs []*genBlob) error {
	errs := make([]error, len(blobs))
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for i, g := range blobs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			errs[i] = g.hash()
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (u *benchUpstream) putManifest(repo, tag, mediaType string, data []byte) error {
	req, err := http.NewRequest(http.MethodPut, u.registry.URL+"/v2/"+repo+"/manifests/"+tag, bytes.NewReader(data))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", mediaType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("pushing the manifest of %s:%s to the fixture upstream: %s", repo, tag, resp.Status)
	}
	return nil
}

func (u *benchUpstream) blob(h v1.Hash) (*genBlob, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	g, ok := u.blobs[h.String()]
	if !ok {
		return nil, ggcrregistry.ErrNotFound
	}
	return g, nil
}

// Stat implements go-containerregistry's registry.BlobStatHandler.
func (u *benchUpstream) Stat(_ context.Context, _ string, h v1.Hash) (int64, error) {
	g, err := u.blob(h)
	if err != nil {
		return 0, err
	}
	return g.size, nil
}

// Get implements go-containerregistry's registry.BlobHandler.
func (u *benchUpstream) Get(_ context.Context, _ string, h v1.Hash) (io.ReadCloser, error) {
	g, err := u.blob(h)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(g.open()), nil
}

func (u *benchUpstream) close() {
	u.registry.Close()
	u.files.Close()
}
