package patch

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/diff"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// testMirror is the mirror address the golden files use.
const testMirror = "10.0.0.9:5000"

// fixture copies testdata/pai, a tree with the shape of pai v1.8.0's
// files, into a temporary directory and returns it.
func fixture(t *testing.T) string {
	t.Helper()
	dst := t.TempDir()
	if err := os.CopyFS(dst, os.DirFS(filepath.Join("testdata", "pai"))); err != nil {
		t.Fatal(err)
	}
	return dst
}

// golden compares got with testdata/golden/name, or rewrites that file
// with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "golden", filepath.FromSlash(name))
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", name, diff.Diff("want", want, "got", got))
	}
}

// joinLines renders a list one item a line.
func joinLines[T any](items []T, str func(T) string) []byte {
	var b strings.Builder
	for _, it := range items {
		b.WriteString(str(it))
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

func findingsText(fs []Finding) []byte {
	return joinLines(fs, Finding.String)
}

func warningsText(ws []string) []byte {
	return joinLines(ws, func(s string) string { return s })
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func writeFile(t *testing.T, path string, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
