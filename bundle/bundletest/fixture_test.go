package bundletest_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/paimirror/paimirror/bundle/bundletest"
)

// childEnv tells this test binary, run again by a test, which part it plays:
// "fixture" prints the small fixture's path (under RunTests), "bare" asks
// for it with TestMain not calling RunTests.
const childEnv = "PAIMIRROR_BUNDLETEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "bare" {
		os.Exit(m.Run())
	}
	os.Exit(bundletest.RunTests(m))
}

// TestFixtureBuiltOnce asks for the small fixture from many goroutines: all
// get the same bundle, open, with the upstream's bytes for each file.
func TestFixtureBuiltOnce(t *testing.T) {
	got := make([]*bundletest.Fixture, 8)
	var wg sync.WaitGroup
	for i := range got {
		wg.Go(func() { got[i] = bundletest.SmallBundle(t) })
	}
	wg.Wait()
	f := got[0]
	for i, g := range got {
		if g != f {
			t.Fatalf("call %d got another fixture (%s) than call 0 (%s)", i, g.Path, f.Path)
		}
	}
	if st, err := os.Stat(f.Path); err != nil || st.Size() != f.Bundle.Size {
		t.Fatalf("the fixture's file: %v, %v; want %d bytes", st, err, f.Bundle.Size)
	}
	if n := len(f.Bundle.Lock.Images); n != 3 {
		t.Errorf("the small fixture has %d images, want SmallManifest's default 3", n)
	}
	if len(f.Bundle.Lock.Files) == 0 {
		t.Fatal("the small fixture has no files")
	}
	for _, file := range f.Bundle.Lock.Files {
		sum := sha256.Sum256(f.FileData[file.URL])
		if file.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("FileData[%s] is not the bundle's file", file.URL)
		}
	}
}

// TestFixtureRemovedAtExit runs this binary again on a test that builds the
// small fixture: when the binary has ended, the fixture's directory is
// gone, and so is the one a binary that has ended left behind, but not
// that of a binary still running (this one).
func TestFixtureRemovedAtExit(t *testing.T) {
	if os.Getenv(childEnv) == "fixture" {
		os.Stdout.WriteString("fixture=" + bundletest.SmallBundle(t).Path + "\n")
		return
	}
	ended := exec.Command(os.Args[0], "-test.run=^$")
	if err := ended.Run(); err != nil {
		t.Fatal(err)
	}
	stale := fixtureDir(t, ended.Process.Pid)
	running := fixtureDir(t, os.Getpid())
	out, err := runChild("fixture", "TestFixtureRemovedAtExit")
	if err != nil {
		t.Fatalf("the child: %v\n%s", err, out)
	}
	_, after, ok := bytes.Cut(out, []byte("fixture="))
	if !ok {
		t.Fatalf("the child printed no fixture path:\n%s", out)
	}
	path := string(after[:bytes.IndexByte(after, '\n')])
	if !filepath.IsAbs(path) || !strings.HasPrefix(filepath.Base(filepath.Dir(path)), "paimirror-fixtures-") {
		t.Fatalf("the fixture is at %q, want a temporary paimirror-fixtures-* directory", path)
	}
	if _, err := os.Stat(filepath.Dir(path)); !os.IsNotExist(err) {
		os.RemoveAll(filepath.Dir(path))
		t.Fatalf("the fixture's directory %s outlived the test binary (stat: %v)", filepath.Dir(path), err)
	}
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("the fixture directory %s of a binary that has ended is still there (stat: %v)", stale, err)
	}
	if _, err := os.Stat(running); err != nil {
		t.Errorf("the fixture directory of this running binary was removed: %v", err)
	}
}

// fixtureDir makes a directory named as the test binary of PID pid names
// its fixtures', removed when the test ends.
func fixtureDir(t *testing.T, pid int) string {
	t.Helper()
	dir, err := os.MkdirTemp("", fmt.Sprintf("paimirror-fixtures-%d-", pid))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "small.tar"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestFixtureNeedsRunTests runs this binary again with a TestMain that does
// not call RunTests: asking for a fixture fails, saying what to do.
func TestFixtureNeedsRunTests(t *testing.T) {
	if os.Getenv(childEnv) == "bare" {
		bundletest.SmallBundle(t)
		os.Stdout.WriteString("fixture built\n")
		return
	}
	out, err := runChild("bare", "TestFixtureNeedsRunTests")
	if err == nil || bytes.Contains(out, []byte("fixture built")) {
		t.Fatalf("a fixture without RunTests did not fail the test (%v):\n%s", err, out)
	}
	if want := "os.Exit(bundletest.RunTests(m))"; !bytes.Contains(out, []byte(want)) {
		t.Errorf("the failure does not say to call %s:\n%s", want, out)
	}
}

// runChild runs the test named run in this binary again, as role, and
// returns its output and how it ended.
func runChild(role, run string) ([]byte, error) {
	cmd := exec.Command(os.Args[0], "-test.run=^"+run+"$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+role)
	return cmd.CombinedOutput()
}
