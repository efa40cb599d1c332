package bundle_test

// Builds from distribution's real registry through real bad links:
// toxiproxy cutting and throttling connections, and the fronts of
// bundletest/badlink standing in for CDNs, token services and servers that
// ignore Range or answer 429.

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/bundletest/badlink"
)

// badImages pushes n images of one random layer of layerSize bytes each
// to reg (as lab/imgI:v1) and returns a manifest naming them under
// docker.io, with the layers' digests and the bytes that are unique.
func badImages(t *testing.T, reg *badlink.Reg, n int, layerSize int64) (manifest string, layers []string, unique int64) {
	t.Helper()
	var sb strings.Builder
	sb.WriteString("name: badlink\nimages:\n")
	for i := range n {
		data := make([]byte, layerSize)
		rand.Read(data)
		img, err := mutate.AppendLayers(empty.Image, static.NewLayer(data, types.DockerLayer))
		if err != nil {
			t.Fatal(err)
		}
		img = mutate.MediaType(img, types.DockerManifestSchema2)
		img = mutate.ConfigMediaType(img, types.DockerConfigJSON)
		repo := fmt.Sprintf("lab/img%d", i)
		reg.Push(t, repo, "v1", img)
		fmt.Fprintf(&sb, "  - ref: docker.io/%s:v1\n", repo)
		ls, _ := img.Layers()
		d, _ := ls[0].Digest()
		layers = append(layers, d.String())
		unique += layerSize + imageOverhead(t, img)
	}
	return sb.String(), layers, unique
}

// imageOverhead is the bytes of an image besides its layers: manifest and
// config.
func imageOverhead(t *testing.T, img v1.Image) int64 {
	t.Helper()
	mf, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	return int64(len(mf) + len(cf))
}

// staticKeychain answers every registry with one authenticator.
type staticKeychain struct{ auth authn.Authenticator }

func (k staticKeychain) Resolve(authn.Resource) (authn.Authenticator, error) { return k.auth, nil }

func badBuild(t *testing.T, manifest string, to *url.URL, auth authn.Authenticator, mod func(*bundle.BuildOptions)) (*bundle.Result, error) {
	t.Helper()
	if auth == nil {
		auth = authn.Anonymous
	}
	opts := bundle.BuildOptions{
		Output:    filepath.Join(t.TempDir(), "b.tar"),
		Mirrors:   []bundle.Mirror{{From: "docker.io", To: "http://" + to.Host}},
		Transport: bundletest.LoopbackTransport(),
		Keychain:  staticKeychain{auth},
	}
	if mod != nil {
		mod(&opts)
	}
	res, err := bundle.Build(context.Background(), parse(t, manifest), opts)
	if err == nil {
		openVerified(t, res.Path)
	}
	return res, err
}

// TestBuildCutLink: every connection to the registry (htpasswd) is cut
// after 3 MiB, each layer is 12 MiB: no layer can arrive in one
// connection. The build completes, verified, receiving little more than
// the unique bytes.
func TestBuildCutLink(t *testing.T) {
	reg := badlink.Registry(t, badlink.RegistryOptions{Htpasswd: true})
	m, _, unique := badImages(t, reg, 3, 12<<20)
	px := badlink.Toxiproxy(t).Proxy(t, "registry", reg.Host)
	px.LimitData(t, 3<<20)
	for _, conns := range []int{1, 4} {
		t.Run(fmt.Sprintf("connections=%d", conns), func(t *testing.T) {
			res, err := badBuild(t, m, px.URL(), reg.Auth(), func(o *bundle.BuildOptions) { o.Connections = conns })
			if err != nil {
				t.Fatal(err)
			}
			if r := float64(res.Fetched) / float64(unique); r > 1.05 {
				t.Errorf("fetched %d bytes for %d unique: %.3f, want at most 1.05", res.Fetched, unique, r)
			}
		})
	}
}

// TestBuildExpiringRedirects: blob GETs redirect to a CDN whose URLs
// expire after 300ms, and the link to the CDN is cut every 2 MiB and
// throttled, so a layer takes several redirects. Expired URLs are asked
// for again through the registry.
func TestBuildExpiringRedirects(t *testing.T) {
	reg := badlink.Registry(t, badlink.RegistryOptions{})
	m, _, _ := badImages(t, reg, 2, 8<<20)
	front := badlink.RedirectFront(t, reg.URL, 300*time.Millisecond)
	cdn := badlink.Toxiproxy(t).Proxy(t, "cdn", front.CDN.Host)
	cdn.LimitData(t, 2<<20)
	cdn.Bandwidth(t, 16_000) // 16 MB/s per connection
	// The redirects point at the CDN's own address; the transport sends
	// them through the proxy.
	tr := bundletest.LoopbackTransport()
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if addr == front.CDN.Host {
			addr = cdn.Addr()
		}
		return dial(ctx, network, addr)
	}
	if _, err := badBuild(t, m, front.URL, nil, func(o *bundle.BuildOptions) { o.Transport = tr }); err != nil {
		t.Fatal(err)
	}
	if front.Count(badlink.CDNExpired) == 0 {
		t.Errorf("no CDN URL expired (%d redirects): the test did not test renewal", front.Count(badlink.Redirected))
	}
}

// TestBuildTokenExpires: the registry's bearer tokens last 1s; a layer
// takes longer through a 4 MB/s link cut every 2 MiB. The build gets new
// tokens in the middle of layers.
func TestBuildTokenExpires(t *testing.T) {
	reg := badlink.Registry(t, badlink.RegistryOptions{Htpasswd: true})
	m, _, _ := badImages(t, reg, 1, 10<<20)
	front := badlink.TokenFront(t, reg.URL, time.Second, reg.FrontOptions()...)
	px := badlink.Toxiproxy(t).Proxy(t, "front", front.Host)
	px.Bandwidth(t, 4_000)
	px.LimitData(t, 2<<20)
	if _, err := badBuild(t, m, px.URL(), nil, func(o *bundle.BuildOptions) { o.Connections = 1 }); err != nil {
		t.Fatal(err)
	}
	if front.Count(badlink.TokenExpired) == 0 || front.Count(badlink.TokenIssued) < 2 {
		t.Errorf("%d tokens issued, %d requests with an expired one: want a token to expire during the build",
			front.Count(badlink.TokenIssued), front.Count(badlink.TokenExpired))
	}
}

// TestBuildRangeIgnored: a registry front that drops Range answers every
// blob GET with the whole body; the build takes it whole, once per layer.
func TestBuildRangeIgnored(t *testing.T) {
	reg := badlink.Registry(t, badlink.RegistryOptions{})
	m, layers, unique := badImages(t, reg, 2, 20<<20)
	front := badlink.NoRangeFront(t, reg.URL)
	res, err := badBuild(t, m, front.URL, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Fetched > unique*105/100 {
		t.Errorf("fetched %d bytes for %d unique", res.Fetched, unique)
	}
	for _, d := range layers {
		if n := reg.BlobGets(d); n != 1 {
			t.Errorf("layer %s was asked for %d times, want once", d[:19], n)
		}
	}
}

// TestBuildRetryAfterManifest: Docker Hub's pull limit answers manifest
// GETs, not blobs: the first three manifest GETs are answered 429 with
// Retry-After: 1. The build waits as asked each time and completes
// (go-containerregistry's own retry, 1 s then 3 s, gives up after three).
func TestBuildRetryAfterManifest(t *testing.T) {
	reg := badlink.Registry(t, badlink.RegistryOptions{})
	m, _, _ := badImages(t, reg, 1, 64<<10)
	front := badlink.RetryAfterFront(t, reg.URL, 3, time.Second, badlink.WithManifests())
	start := time.Now()
	if _, err := badBuild(t, m, front.URL, nil, nil); err != nil {
		t.Fatal(err)
	}
	if n := front.Count(badlink.Throttled); n != 3 {
		t.Errorf("%d requests throttled, want 3", n)
	}
	if time.Since(start) < 3*time.Second {
		t.Error("the build did not wait out Retry-After")
	}
}

// TestBuildRetryAfter: the first two blob GETs are answered 429 with
// Retry-After: 1; the build waits and completes.
func TestBuildRetryAfter(t *testing.T) {
	reg := badlink.Registry(t, badlink.RegistryOptions{})
	m, _, _ := badImages(t, reg, 1, 1<<20)
	front := badlink.RetryAfterFront(t, reg.URL, 2, time.Second)
	start := time.Now()
	if _, err := badBuild(t, m, front.URL, nil, nil); err != nil {
		t.Fatal(err)
	}
	if n := front.Count(badlink.Throttled); n != 2 {
		t.Errorf("%d requests throttled, want 2", n)
	}
	if time.Since(start) < time.Second {
		t.Error("the build did not wait out Retry-After")
	}
}
