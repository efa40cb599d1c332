package kubetest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
)

// fakeCache makes a cache directory (PAIMIRROR_CACHE) whose kube binaries
// are what mk makes, and a PATH holding only an etcd; it returns the
// binaries' directory and etcd's path.
func fakeCache(t *testing.T, mk func(path string)) (dir, etcd string) {
	t.Helper()
	cache, path := t.TempDir(), t.TempDir()
	t.Setenv("PAIMIRROR_CACHE", cache)
	t.Setenv("PATH", path)
	dir = filepath.Join(cache, "kube-"+Version)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"kube-apiserver", "kube-controller-manager"} {
		mk(filepath.Join(dir, name))
	}
	etcd = filepath.Join(path, "etcd")
	writeExec(t, etcd, 0o755)
	return dir, etcd
}

func writeExec(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
		t.Fatal(err)
	}
}

func TestBinDir(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("PAIMIRROR_CACHE", cache)
	if got, want := BinDir(), filepath.Join(cache, "kube-"+Version); got != want {
		t.Errorf("with PAIMIRROR_CACHE, BinDir = %s, want %s", got, want)
	}
	xdg := t.TempDir()
	t.Setenv("PAIMIRROR_CACHE", "")
	t.Setenv("XDG_CACHE_HOME", xdg)
	if got, want := BinDir(), filepath.Join(xdg, "paimirror", "kube-"+Version); got != want {
		t.Errorf("without PAIMIRROR_CACHE, BinDir = %s, want %s (where .ci/kube-binaries.sh builds)", got, want)
	}
}

// TestBinaries finds built binaries in the cache and etcd on PATH, and
// skips where a binary is missing, not executable or not a file.
func TestBinaries(t *testing.T) {
	t.Setenv(testenv.RequireEnv, "")
	t.Run("built", func(t *testing.T) {
		dir, etcd := fakeCache(t, func(p string) { writeExec(t, p, 0o755) })
		a, c, e := Binaries(t)
		if a != filepath.Join(dir, "kube-apiserver") || c != filepath.Join(dir, "kube-controller-manager") || e != etcd {
			t.Errorf("Binaries = %s, %s, %s; want those in %s and %s", a, c, e, dir, etcd)
		}
	})
	for _, tt := range []struct {
		name string
		mk   func(t *testing.T, p string)
	}{
		{"missing", func(*testing.T, string) {}},
		{"not executable", func(t *testing.T, p string) { writeExec(t, p, 0o644) }},
		{"a directory", func(t *testing.T, p string) {
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		var sub *testing.T
		t.Run(tt.name, func(t *testing.T) {
			sub = t
			fakeCache(t, func(p string) { tt.mk(t, p) })
			a, c, e := Binaries(t)
			t.Errorf("Binaries = %s, %s, %s; want a skip", a, c, e)
		})
		if !sub.Skipped() {
			t.Errorf("%s: Binaries did not skip the test", tt.name)
		}
	}
}

// TestBinariesFailWhereRequired runs this test binary again, with
// testenv.RequireEnv set, on a test whose kube binaries are missing: it
// must fail, saying what builds them.
func TestBinariesFailWhereRequired(t *testing.T) {
	if os.Getenv("PAIMIRROR_KUBETEST_CHILD") != "" {
		fakeCache(t, func(string) {})
		Binaries(t)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestBinariesFailWhereRequired$", "-test.v")
	cmd.Env = append(os.Environ(), "PAIMIRROR_KUBETEST_CHILD=1", testenv.RequireEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "--- FAIL") {
		t.Fatalf("missing kube binaries with %s set did not fail the test:\n%s", testenv.RequireEnv, out)
	}
	for _, want := range []string{"kube-apiserver " + Version, ".ci/kube-binaries.sh", testenv.RequireEnv + " is set"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the failure does not say %q:\n%s", want, out)
		}
	}
}
