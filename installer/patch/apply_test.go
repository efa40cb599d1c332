package patch

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/installer/pai"
)

// snapshot records every entry under dir: its type and permissions, and a
// file's content or a link's target.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		v := info.Mode().String()
		switch {
		case info.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			v += " " + string(data)
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			v += " -> " + target
		}
		out[filepath.ToSlash(rel)] = v
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameTree reports how after differs from before, entry by entry.
func sameTree(t *testing.T, before, after map[string]string) {
	t.Helper()
	var diffs []string
	for p, v := range before {
		if w, ok := after[p]; !ok {
			diffs = append(diffs, "removed "+p)
		} else if w != v {
			diffs = append(diffs, "changed "+p)
		}
	}
	for p := range after {
		if _, ok := before[p]; !ok {
			diffs = append(diffs, "added "+p)
		}
	}
	slices.Sort(diffs)
	if len(diffs) > 0 {
		t.Errorf("the tree is not as it was:\n  %s", strings.Join(diffs, "\n  "))
	}
}

// failNth makes Apply's nth file system step of kind op fail, for the
// test's duration, and returns how many such steps Apply took.
func failNth(t *testing.T, op string, n int) *int {
	t.Helper()
	count := new(int)
	applyFault = func(o, path string) error {
		if o != op {
			return nil
		}
		*count++
		if *count == n {
			return fmt.Errorf("injected %s failure at %s", op, filepath.Base(path))
		}
		return nil
	}
	t.Cleanup(func() { applyFault = nil })
	return count
}

// TestApplyAllOrNothing fails each write, then each rename, of Apply in
// turn, on a fresh checkout and on one patched before (whose originals
// are kept already): Apply must fail saying nothing changed, and leave
// the tree byte for byte as it was, with no temporary file and no new
// original.
func TestApplyAllOrNothing(t *testing.T) {
	for _, tc := range []struct {
		name    string
		patched bool // patched once before, with another mirror
		op      string
		// steps is how many steps of kind op Apply takes.
		steps func(changes int) int
	}{
		// A temporary file for each new content and each original.
		{"fresh write", false, "write", func(n int) int { return 2 * n }},
		// The originals exist: only the new contents.
		{"rerun write", true, "write", func(n int) int { return n }},
		{"fresh rename", false, "rename", func(n int) int { return 2 * n }},
		{"rerun rename", true, "rename", func(n int) int { return n }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := fixture(t)
			if tc.patched {
				r, err := Plan(dir, Options{Mirror: "mirror.lab.example:8443"})
				if err != nil {
					t.Fatal(err)
				}
				if err := Apply(r); err != nil {
					t.Fatal(err)
				}
			}
			// One plan for every run: a failed Apply leaves the tree as
			// Plan read it.
			r, err := Plan(dir, Options{Mirror: testMirror})
			if err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			for n := 1; ; n++ {
				count := failNth(t, tc.op, n)
				err = Apply(r)
				applyFault = nil
				if *count < n {
					// Every step has failed once.
					if err != nil {
						t.Fatalf("Apply without a fault: %v", err)
					}
					if want := tc.steps(len(r.Changes)); n-1 != want {
						t.Errorf("Apply took %d %s steps for %d changes, want %d", n-1, tc.op, len(r.Changes), want)
					}
					again, err := Plan(dir, Options{Mirror: testMirror})
					if err != nil || len(again.Changes) != 0 {
						t.Errorf("after Apply: %v, %d changes left", err, len(again.Changes))
					}
					return
				}
				if err == nil {
					t.Fatalf("%s %d failed, Apply did not", tc.op, n)
				}
				if !strings.Contains(err.Error(), "injected") || !strings.Contains(err.Error(), "nothing was changed") {
					t.Errorf("%s %d: the error does not say what failed and that nothing changed: %v", tc.op, n, err)
				}
				sameTree(t, before, snapshot(t, dir))
				if t.Failed() {
					t.Fatalf("%s %d failed: %v", tc.op, n, err)
				}
			}
		})
	}
}

// TestApplyOriginalNotAFile: a *.paimirror-orig that is a directory or a
// symbolic link cannot be the kept original; Apply says so, and what to
// do, and changes nothing.
func TestApplyOriginalNotAFile(t *testing.T) {
	for _, kind := range []string{"directory", "symbolic link"} {
		t.Run(kind, func(t *testing.T) {
			dir := fixture(t)
			script := filepath.Join(dir, filepath.FromSlash(pai.DevicePluginFile))
			orig := script + pai.OrigSuffix
			switch kind {
			case "directory":
				if err := os.Mkdir(orig, 0o755); err != nil {
					t.Fatal(err)
				}
				writeFile(t, filepath.Join(orig, "note"), "not the original\n")
			case "symbolic link":
				if err := os.Symlink(script, orig); err != nil {
					t.Skipf("no symbolic links: %v", err)
				}
			}
			r, err := Plan(dir, Options{Mirror: testMirror})
			if err != nil {
				t.Fatal(err)
			}
			before := snapshot(t, dir)
			err = Apply(r)
			if !errors.Is(err, ErrOriginalNotFile) {
				t.Fatalf("Apply = %v, want ErrOriginalNotFile", err)
			}
			t.Log(err)
			for _, want := range []string{pai.DevicePluginFile + pai.OrigSuffix, kind, "move it", "nothing was changed"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the error lacks %q: %v", want, err)
				}
			}
			sameTree(t, before, snapshot(t, dir))
		})
	}
}

// TestApplyRollbackFails: when a rename fails and putting back a file
// already renamed fails too, the error names that file as patched and
// where its original is, and that original is still there.
func TestApplyRollbackFails(t *testing.T) {
	dir := fixture(t)
	r, err := Plan(dir, Options{Mirror: testMirror})
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, filepath.FromSlash(pai.ConfigFile))
	cache := filepath.Join(dir, filepath.FromSlash(pai.DockerCacheFile))
	renamed := false
	applyFault = func(op, path string) error {
		switch {
		case op == "rename" && path == cache:
			// config.yaml, the first change, is in place by now.
			renamed = true
			return errors.New("injected rename failure")
		case op == "write" && renamed:
			return errors.New("injected write failure")
		}
		return nil
	}
	t.Cleanup(func() { applyFault = nil })
	err = Apply(r)
	if err == nil {
		t.Fatal("Apply did not fail")
	}
	t.Log(err)
	for _, want := range []string{"injected rename failure", "partly patched", pai.ConfigFile + " is patched (its original is " + pai.ConfigFile + pai.OrigSuffix + ")"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error lacks %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "nothing was changed") || strings.Contains(err.Error(), pai.DockerCacheFile+" is patched") {
		t.Errorf("the error says too much: %v", err)
	}
	if got := readFile(t, config+pai.OrigSuffix); string(got) != string(r.Changes[0].Old) {
		t.Errorf("the original of config.yaml is not kept")
	}
	if got := readFile(t, config); string(got) != string(r.Changes[0].New) {
		t.Errorf("config.yaml is not the patched one the error says")
	}
	for _, c := range r.Changes[1:] {
		if got := readFile(t, c.Path); string(got) != string(c.Old) {
			t.Errorf("%s changed", c.Path)
		}
		if _, err := os.Lstat(c.Path + pai.OrigSuffix); err == nil {
			t.Errorf("%s%s left behind", c.Path, pai.OrigSuffix)
		}
	}
}
