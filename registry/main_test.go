package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/manifests"
)

func TestMain(m *testing.M) {
	// crane is installed with go install; make it findable.
	for _, p := range []string{os.Getenv("GOBIN"), filepath.Join(os.Getenv("HOME"), "go", "bin")} {
		if p != "" {
			os.Setenv("PATH", os.Getenv("PATH")+string(os.PathListSeparator)+p)
		}
	}
	os.Exit(bundletest.RunTests(m))
}

// fixture is one of bundletest's fixtures under the names these tests use.
type fixture struct {
	path string
	b    *bundle.Bundle
}

// defaultBundle returns a bundle of every image and file of the embedded
// default manifest (OpenPAI v1.8.0), built once per test binary against
// bundletest's upstream and opened in place. Tests must not close it.
func defaultBundle(t testing.TB) *fixture {
	t.Helper()
	f := bundletest.DefaultBundle(t)
	return &fixture{path: f.Path, b: f.Bundle}
}

// smallBundle returns a three-image bundle (bundletest.SmallManifest's
// default groups) built once per test binary.
func smallBundle(t testing.TB) *fixture {
	t.Helper()
	f := bundletest.SmallBundle(t)
	return &fixture{path: f.Path, b: f.Bundle}
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
