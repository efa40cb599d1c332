package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/manifests"
)

// fixtureDir holds the bundles built once per test binary.
var fixtureDir string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "paimirror-registry-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fixtureDir = dir
	// crane is installed with go install; make it findable.
	for _, p := range []string{os.Getenv("GOBIN"), filepath.Join(os.Getenv("HOME"), "go", "bin")} {
		if p != "" {
			os.Setenv("PATH", os.Getenv("PATH")+string(os.PathListSeparator)+p)
		}
	}
	code := m.Run()
	for _, f := range []*fixture{defaultFix.f, smallFix.f} {
		if f != nil {
			f.b.Close()
		}
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// fixture is a bundle built from a local upstream.
type fixture struct {
	path string
	b    *bundle.Bundle
}

type once struct {
	sync.Once
	f   *fixture
	err error
}

var defaultFix, smallFix once

// defaultBundle returns a bundle of every image and file of the embedded
// default manifest (OpenPAI v1.8.0), built once per test binary against
// bundletest's upstream and opened in place. Tests must not close it.
func defaultBundle(t testing.TB) *fixture {
	t.Helper()
	return buildOnce(t, &defaultFix, "default.tar", manifests.Default())
}

const smallManifest = `name: small
images:
  - ref: docker.io/library/busybox:1.31.1
  - ref: gcr.io/google-containers/kube-apiserver:v1.15.11
    aliases: [siaimes/kube-apiserver:v1.15.11]
  - ref: quay.io/coreos/etcd:v3.3.10
`

// smallBundle returns a three-image bundle built once per test binary.
func smallBundle(t testing.TB) *fixture {
	t.Helper()
	m, err := manifests.Parse("small.yaml", []byte(smallManifest))
	if err != nil {
		t.Fatal(err)
	}
	return buildOnce(t, &smallFix, "small.tar", m)
}

func buildOnce(t testing.TB, o *once, name string, m *manifests.Manifest) *fixture {
	t.Helper()
	o.Do(func() {
		path, err := buildBundle(m, filepath.Join(fixtureDir, name))
		if err != nil {
			o.err = err
			return
		}
		b, err := bundle.Open(path)
		if err != nil {
			o.err = err
			return
		}
		o.f = &fixture{path: path, b: b}
	})
	if o.err != nil {
		t.Fatalf("building the test bundle: %v", o.err)
	}
	return o.f
}

// buildBundle builds m from a fresh local upstream into out.
func buildBundle(m *manifests.Manifest, out string) (string, error) {
	u, err := bundletest.Start(m, bundletest.Options{})
	if err != nil {
		return "", err
	}
	defer u.Close()
	res, err := bundle.Build(context.Background(), u.Manifest, bundle.BuildOptions{
		Output:    out,
		Mirrors:   u.Mirrors(),
		Transport: bundletest.LoopbackTransport(),
		Jobs:      8,
	})
	if err != nil {
		return "", err
	}
	return res.Path, nil
}

// serve starts a Registry for b behind an httptest server on 127.0.0.1 and
// returns it with its host:port.
func serve(t testing.TB, b *bundle.Bundle, opts ...Option) (*Registry, string) {
	t.Helper()
	r, err := New(context.Background(), b, opts...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(r)
	t.Cleanup(func() {
		srv.Close()
		r.Close()
	})
	return r, strings.TrimPrefix(srv.URL, "http://")
}

// testLogger returns a logger that writes through t.Log.
func testLogger(t testing.TB, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: level}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// fileHash returns the sha256 of a file's bytes.
func fileHash(t testing.TB, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// tool finds a real client program, or skips (fails under
// bundletest.RequireEnv) when it is missing.
func tool(t testing.TB, name string) string {
	t.Helper()
	return bundletest.Tool(t, name)
}

// names returns every (repository, tag, image) the bundle serves.
type servedName struct {
	repo, tag string
	img       bundle.Image
}

func servedNames(b *bundle.Bundle) []servedName {
	var out []servedName
	for _, img := range b.Lock.Images {
		for _, n := range img.Names {
			repo, tag := manifests.RepoTag(n)
			out = append(out, servedName{repo, tag, img})
		}
	}
	return out
}
