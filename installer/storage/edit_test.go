package storage

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/diff"
	"github.com/rogpeppe/go-internal/txtar"
)

var update = flag.Bool("update", false, "rewrite the want.yaml and error sections of testdata/{layout,services}/*.txtar")

// section returns the named file of ar, or nil.
func section(ar *txtar.Archive, name string) []byte {
	for _, f := range ar.Files {
		if f.Name == name {
			return f.Data
		}
	}
	return nil
}

// runGolden runs edit on the input file of each testdata/<dir>/*.txtar and
// compares the result with its want.yaml (or the error with its error
// section). Each case also proves the edit idempotent: editing the result
// again changes nothing.
func runGolden(t *testing.T, dir, input string, edit func(ar *txtar.Archive, data []byte) ([]byte, bool, error)) {
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.txtar"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases in testdata/%s: %v", dir, err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			ar, err := txtar.ParseFile(file)
			if err != nil {
				t.Fatal(err)
			}
			in := section(ar, input)
			if in == nil {
				t.Fatalf("no %s section", input)
			}
			got, changed, err := edit(ar, in)
			var gotErr []byte
			if err != nil {
				gotErr = []byte(err.Error() + "\n")
				got = nil
			}
			if *update {
				var kept []txtar.File
				for _, f := range ar.Files {
					if f.Name != "want.yaml" && f.Name != "error" {
						kept = append(kept, f)
					}
				}
				if err != nil {
					kept = append(kept, txtar.File{Name: "error", Data: gotErr})
				} else {
					kept = append(kept, txtar.File{Name: "want.yaml", Data: got})
				}
				ar.Files = kept
				if err := os.WriteFile(file, txtar.Format(ar), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if want := section(ar, "error"); want != nil {
				if !bytes.Equal(gotErr, want) {
					t.Fatalf("error %q, want %q", gotErr, want)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			want := section(ar, "want.yaml")
			if !bytes.Equal(got, want) {
				t.Fatalf("result differs (go test -update rewrites it):\n%s", diff.Diff("want", want, "got", got))
			}
			if changed != !bytes.Equal(in, want) {
				t.Errorf("changed = %v, but the file did%s change", changed, map[bool]string{true: "", false: " not"}[!bytes.Equal(in, want)])
			}
			again, changed, err := edit(ar, got)
			if err != nil || changed || !bytes.Equal(again, got) {
				t.Errorf("a second edit: changed %v, err %v; it must find the work done", changed, err)
			}
		})
	}
}

// TestMarkStorage proves the layout.yaml edit on the shapes layout.yaml
// takes (the guide's block entries, openpai-v1.8.0.md's flow entries,
// CRLF, an existing pai-storage) keeps every other byte, and refuses the
// shapes it does not edit.
func TestMarkStorage(t *testing.T) {
	runGolden(t, "layout", "layout.yaml", func(ar *txtar.Archive, data []byte) ([]byte, bool, error) {
		node := strings.TrimSpace(string(section(ar, "node")))
		return markStorage(data, node)
	})
}

// TestEnableStorageManager proves the services-configuration.yaml edit on
// the file pai generates (commented section) and on the shapes a user may
// have left, keeping every other byte.
func TestEnableStorageManager(t *testing.T) {
	runGolden(t, "services", "services-configuration.yaml", func(ar *txtar.Archive, data []byte) ([]byte, bool, error) {
		lp := strings.TrimSpace(string(section(ar, "localpath")))
		if lp == "" {
			lp = DefaultSharePath
		}
		return enableStorageManager(data, lp)
	})
}

// TestEditFile proves the originals are kept once (the first original
// survives a second edit) and that files are replaced with their
// permissions.
func TestEditFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "services-configuration.yaml")
	orig := []byte("webportal:\n  server-port: 9286\n")
	if err := os.WriteFile(p, orig, 0o640); err != nil {
		t.Fatal(err)
	}
	set := func(lp string) bool {
		t.Helper()
		changed, err := editFile(p, func(b []byte) ([]byte, bool, error) { return enableStorageManager(b, lp) })
		if err != nil {
			t.Fatal(err)
		}
		return changed
	}
	if !set("/share") {
		t.Fatal("first edit changed nothing")
	}
	if set("/share") {
		t.Error("the same edit again changed the file")
	}
	if !set("/disk2") {
		t.Fatal("a new localpath changed nothing")
	}
	got, _ := os.ReadFile(p)
	if want := "webportal:\n  server-port: 9286\n\nstorage-manager:\n  localpath: /disk2\n"; string(got) != want {
		t.Errorf("file:\n%s\nwant:\n%s", got, want)
	}
	kept, err := os.ReadFile(p + ".paimirror-orig")
	if err != nil || !bytes.Equal(kept, orig) {
		t.Errorf("original kept as %q (%v), want the first original %q", kept, err, orig)
	}
	for _, f := range []string{p, p + ".paimirror-orig"} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: mode %v (%v), want 0640", f, fi.Mode().Perm(), err)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d files, want the file and its original (no temporary files left)", len(entries))
	}

	// A refused edit writes nothing.
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("storage-manager: [x]\n"), 0o644)
	if _, err := editFile(bad, func(b []byte) ([]byte, bool, error) { return enableStorageManager(b, "/share") }); !errors.Is(err, ErrEdit) {
		t.Errorf("editing a list section: %v, want ErrEdit", err)
	}
	if _, err := os.Stat(bad + ".paimirror-orig"); err == nil {
		t.Error("a refused edit kept an original")
	}
}

// FuzzMarkStorage: markStorage never panics on any layout.yaml, and what it
// writes parses, differs only by the mark (checked inside) and is marked.
func FuzzMarkStorage(f *testing.F) {
	for _, file := range must(filepath.Glob(filepath.Join("testdata", "layout", "*.txtar"))) {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(section(ar, "layout.yaml"), strings.TrimSpace(string(section(ar, "node"))))
	}
	f.Fuzz(func(t *testing.T, data []byte, node string) {
		out, changed, err := markStorage(data, node)
		if err != nil || !changed {
			return
		}
		again, changed, err := markStorage(out, node)
		if err != nil || changed || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: changed %v, err %v\n%s", changed, err, out)
		}
	})
}

// FuzzEnableStorageManager: the same for services-configuration.yaml.
func FuzzEnableStorageManager(f *testing.F) {
	for _, file := range must(filepath.Glob(filepath.Join("testdata", "services", "*.txtar"))) {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(section(ar, "services-configuration.yaml"))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		out, changed, err := enableStorageManager(data, "/share")
		if err != nil || !changed {
			return
		}
		again, changed, err := enableStorageManager(out, "/share")
		if err != nil || changed || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: changed %v, err %v\n%s", changed, err, out)
		}
	})
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
