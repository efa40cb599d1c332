package bundletest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/manifests"
)

// Fixture is a bundle built once per test binary from a local upstream
// and shared by every test of the binary that asks for it. It is
// read-only: a test must not close Bundle nor change the file at Path (a
// test that damages a bundle copies it first).
type Fixture struct {
	// Path is the bundle file, in a temporary directory RunTests removes.
	Path string
	// Bundle is the bundle, opened in place; RunTests closes it.
	Bundle *bundle.Bundle
	// FileData is each file's content as the upstream served it, by URL.
	FileData map[string][]byte
}

// Copy copies the fixture's bundle file into a temp directory of t, for a
// test to change (sign, damage, split) and open, and returns the copy's
// path. It costs one read and one write of the file.
func (f *Fixture) Copy(t testing.TB) string {
	t.Helper()
	data, err := os.ReadFile(f.Path)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), filepath.Base(f.Path))
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// DefaultBundle returns the fixture of the embedded default manifest
// (manifests.Default(), OpenPAI v1.8.0): every image, file, Python package
// and apt package of it, images with layers of 2048 random bytes and files
// of 3000 (not a whole number of tar's 512-byte blocks, so the padding
// after them is exercised). The first call builds it, which takes seconds
// and under 1 MB of disk; later calls, from any goroutine, return the
// same fixture. A build that failed fails every test that asks for it.
// The test binary's TestMain must run its tests through RunTests.
func DefaultBundle(t testing.TB) *Fixture {
	t.Helper()
	return fixtures.get(t, "default", manifests.Default, Options{FileSize: 3000})
}

// SmallBundle returns the fixture of SmallManifest's default groups
// (three images, one with an alias, and two files), layers and files of
// 512 random bytes: a bundle small enough to copy and damage per test.
// It is built once, as DefaultBundle is.
func SmallBundle(t testing.TB) *Fixture {
	t.Helper()
	return fixtures.get(t, "small", func() *manifests.Manifest {
		m, err := manifests.Parse("small.yaml", []byte(SmallManifest))
		if err != nil {
			panic(fmt.Sprintf("bundletest.SmallManifest does not parse: %v", err)) // a constant
		}
		return m
	}, Options{LayerSize: 512, FileSize: 512})
}

// RunTests runs the tests of m (a *testing.M), then closes the fixtures
// they built and removes their directory, and returns m's exit code. A
// package whose tests use DefaultBundle or SmallBundle calls it from its
// TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(bundletest.RunTests(m)) }
//
// Without it the fixtures would outlive the test binary in the temp dir,
// so they fail the test that asks for them instead. The fixtures of a
// binary that ended without the clean-up (killed, or panicking at go
// test's -timeout) are removed by the next one that builds a fixture.
func RunTests(m interface{ Run() int }) int {
	fixtures.running.Store(true)
	defer fixtures.running.Store(false)
	code := m.Run()
	if err := fixtures.remove(); err != nil {
		fmt.Fprintf(os.Stderr, "bundletest: removing the test fixtures: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// fixturePrefix starts the name of a test binary's fixture directory in
// the temp dir; the binary's PID and a dash follow.
const fixturePrefix = "paimirror-fixtures-"

// fixtures are this test binary's fixtures.
var fixtures fixtureSet

type fixtureSet struct {
	running atomic.Bool // inside RunTests

	mu    sync.Mutex
	dir   string                   // made by the first build; "" before
	built map[string]*fixtureBuild // by name
}

// fixtureBuild is one fixture, built at most once.
type fixtureBuild struct {
	once sync.Once
	f    *Fixture
	err  error
}

// get returns the fixture name, building the manifest m returns with opts
// the first time.
func (s *fixtureSet) get(t testing.TB, name string, m func() *manifests.Manifest, opts Options) *Fixture {
	t.Helper()
	if !s.running.Load() {
		t.Fatalf("the bundletest fixture %q needs the test binary's TestMain to run the tests through bundletest.RunTests, which removes it afterwards: func TestMain(m *testing.M) { os.Exit(bundletest.RunTests(m)) }", name)
	}
	s.mu.Lock()
	if s.built == nil {
		s.built = map[string]*fixtureBuild{}
	}
	fb := s.built[name]
	if fb == nil {
		fb = &fixtureBuild{}
		s.built[name] = fb
	}
	s.mu.Unlock()
	fb.once.Do(func() { fb.f, fb.err = s.build(name, m(), opts) })
	if fb.err != nil {
		t.Fatalf("building the %s test bundle: %v", name, fb.err)
	}
	return fb.f
}

func (s *fixtureSet) build(name string, m *manifests.Manifest, opts Options) (*Fixture, error) {
	s.mu.Lock()
	if s.dir == "" {
		removeStale()
		dir, err := os.MkdirTemp("", fmt.Sprintf("%s%d-", fixturePrefix, os.Getpid()))
		if err != nil {
			s.mu.Unlock()
			return nil, err
		}
		s.dir = dir
	}
	dir := s.dir
	s.mu.Unlock()
	b, path, data, err := buildOpen(m, opts, filepath.Join(dir, name+".tar"))
	if err != nil {
		return nil, err
	}
	return &Fixture{Path: path, Bundle: b, FileData: data}, nil
}

// remove closes every fixture built and removes their directory; the
// next get builds afresh.
func (s *fixtureSet) remove() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, fb := range s.built {
		if fb.f != nil {
			fb.f.Bundle.Close()
		}
	}
	s.built = nil
	var err error
	if s.dir != "" {
		err = os.RemoveAll(s.dir)
	}
	s.dir = ""
	return err
}

// removeStale removes the fixture directories of test binaries that ended
// without RunTests' clean-up (killed, or panicking at go test's -timeout):
// the directories named after a PID no process has. That of a running
// binary stays, as does anything it cannot tell about or that is not a
// directory (a symbolic link is not followed). It costs a glob of the temp
// dir and a signal 0 per directory found.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), fixturePrefix+"*-*"))
	for _, d := range dirs {
		pidText, _, _ := strings.Cut(strings.TrimPrefix(filepath.Base(d), fixturePrefix), "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid <= 0 || pid == os.Getpid() {
			continue
		}
		if fi, err := os.Lstat(d); err != nil || !fi.IsDir() {
			continue
		}
		if p, err := os.FindProcess(pid); err == nil && !errors.Is(p.Signal(syscall.Signal(0)), os.ErrProcessDone) {
			continue
		}
		os.RemoveAll(d)
	}
}

// FlipByte flips one byte in the middle of blob d's data in the bundle
// file at path (not open for writing elsewhere), as a disk error or a bad
// copy would. The tar and the lock stay well formed, so only hashing the
// blob finds the damage.
func FlipByte(path string, d digest.Digest) error {
	b, err := bundle.Open(path)
	if err != nil {
		return err
	}
	sr, err := b.Blob(d)
	b.Close()
	if err != nil {
		return err
	}
	_, off, _ := sr.Outer()
	at := off + sr.Size()/2
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	one := make([]byte, 1)
	if _, err := f.ReadAt(one, at); err != nil {
		f.Close()
		return err
	}
	one[0] ^= 0xff
	if _, err := f.WriteAt(one, at); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Damage flips a byte of blob d in the bundle file at path (FlipByte) and
// returns the bundle opened again (closed when t ends).
func Damage(t testing.TB, path string, d digest.Digest) *bundle.Bundle {
	t.Helper()
	if err := FlipByte(path, d); err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
