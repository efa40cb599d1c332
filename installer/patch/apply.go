package patch

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/paimirror/paimirror/installer/pai"
	"github.com/paimirror/paimirror/manifests/atomicfile"
)

// Apply writes the changes of r, all or nothing.
//
// It first checks that every file still holds what Plan read (else an
// error wrapping ErrChanged). Then it stages every change without touching
// a file of the tree: the new content is written to a temporary file
// beside the file it replaces (in the same directory, with its
// permissions, synced to disk and read back); the original is kept as
// <file>.paimirror-orig, written the same way, unless that exists already
// as a regular file that reads back whole (so the first original survives
// any number of runs). A <file>.paimirror-orig that is not a regular file
// (a directory, a symbolic link) is an error wrapping ErrOriginalNotFile.
// Only when every change is staged are the files renamed into place: the
// kept originals first, then the new contents. A failure before the
// renames (a full disk, no inodes, a read-only directory) removes the
// temporary files and leaves the tree as it was; a rename that fails puts
// the files already renamed back (their old content, written the same
// way) and removes the originals kept by this run. Either way the error
// says "nothing was changed", or, when putting a file back failed too,
// which files are left patched and where their originals are. A symbolic
// link stays in place and its target is rewritten.
//
// Cost: every file is written twice at most (new content and original),
// read back once, and fsynced, with its directory; the pai files are a
// few kilobytes each. Apply must not run concurrently with anything else
// writing the same files.
func Apply(r *Result) error {
	for _, c := range r.Changes {
		cur, err := os.ReadFile(c.Path)
		if err != nil {
			return fmt.Errorf("applying: %w", err)
		}
		if !bytes.Equal(cur, c.Old) {
			return fmt.Errorf("applying: %s: %w", c.Path, ErrChanged)
		}
	}
	tx := &transaction{dir: r.PaiDir}
	if err := tx.stage(r.Changes); err != nil {
		tx.discard()
		return fmt.Errorf("applying: %w; nothing was changed", err)
	}
	if err := tx.commit(); err != nil {
		if rerr := tx.rollback(); rerr != nil {
			return fmt.Errorf("applying: %w; putting the files back failed too, so the tree is partly patched: %w", err, rerr)
		}
		return fmt.Errorf("applying: %w; nothing was changed", err)
	}
	tx.syncDirs()
	return nil
}

// applyFault, set only by tests, is called before each file system step
// of Apply that can fail on a healthy system: op "write" before a
// temporary file is written beside path, op "rename" before a file is
// renamed to path. An error it returns fails that step.
var applyFault func(op, path string) error

// transaction is Apply's work: one step per change.
type transaction struct {
	dir   string // the pai checkout, for messages
	steps []*applyStep
}

// applyStep is one change being applied.
type applyStep struct {
	c Change
	// target is the file the new content replaces: c.Path, or the file
	// its symbolic link points to; perm its permissions.
	target string
	perm   fs.FileMode
	// orig is where the original is kept, c.Path+pai.OrigSuffix.
	orig string
	// keep: orig does not exist yet, and this run keeps the original
	// there.
	keep bool
	// tmp holds the new content beside target; origTmp the original
	// beside orig. Each is "" until written and once renamed or removed.
	tmp, origTmp string
	// kept: this run renamed origTmp to orig; replaced: tmp to target.
	kept, replaced bool
}

// stage checks every change's files and writes every temporary file.
func (tx *transaction) stage(changes []Change) error {
	for _, c := range changes {
		s := &applyStep{c: c, orig: c.Path + pai.OrigSuffix}
		// A symbolic link stays one: its target is what gets rewritten.
		target, err := filepath.EvalSymlinks(c.Path)
		if err != nil {
			return err
		}
		info, err := os.Stat(target)
		if err != nil {
			return err
		}
		s.target, s.perm = target, info.Mode().Perm()
		oi, err := os.Lstat(s.orig)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			s.keep = true
		case err != nil:
			return fmt.Errorf("checking the kept original of %s: %w", tx.name(c.Path), err)
		case !oi.Mode().IsRegular():
			kind := "not a regular file"
			switch {
			case oi.IsDir():
				kind = "a directory"
			case oi.Mode()&fs.ModeSymlink != 0:
				kind = "a symbolic link"
			}
			return fmt.Errorf("%s is %s, not the file that keeps the original of %s (%w): move it away, or replace it with that file, and run again",
				tx.name(s.orig), kind, tx.name(c.Path), ErrOriginalNotFile)
		default:
			// Kept by an earlier run: the first original, which may
			// differ from what the file holds now. It must read back.
			if _, err := os.ReadFile(s.orig); err != nil {
				return fmt.Errorf("reading the kept original of %s: %w", tx.name(c.Path), err)
			}
		}
		tx.steps = append(tx.steps, s)
	}
	for _, s := range tx.steps {
		var err error
		if s.keep {
			if s.origTmp, err = writeTemp(s.orig, s.c.Old, s.perm); err != nil {
				return fmt.Errorf("keeping the original of %s: %w", tx.name(s.c.Path), err)
			}
		}
		if s.tmp, err = writeTemp(s.target, s.c.New, s.perm); err != nil {
			return fmt.Errorf("writing the new %s: %w", tx.name(s.c.Path), err)
		}
	}
	return nil
}

// commit renames the kept originals, then the new contents, into place.
func (tx *transaction) commit() error {
	for _, s := range tx.steps {
		if !s.keep {
			continue
		}
		if err := rename(s.origTmp, s.orig); err != nil {
			return fmt.Errorf("keeping the original of %s: %w", tx.name(s.c.Path), err)
		}
		s.origTmp, s.kept = "", true
	}
	for _, s := range tx.steps {
		if err := rename(s.tmp, s.target); err != nil {
			return fmt.Errorf("putting the new %s in place: %w", tx.name(s.c.Path), err)
		}
		s.tmp, s.replaced = "", true
	}
	return nil
}

// rollback puts back the old content of every file commit replaced,
// removes the originals this run kept (but not one whose file could not
// be put back) and the temporary files. The error names each file left
// patched.
func (tx *transaction) rollback() error {
	var errs []error
	for _, s := range tx.steps {
		if !s.replaced {
			continue
		}
		tmp, err := writeTemp(s.target, s.c.Old, s.perm)
		if err == nil {
			if err = rename(tmp, s.target); err != nil {
				os.Remove(tmp)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s is patched (its original is %s): %w", tx.name(s.c.Path), tx.name(s.orig), err))
			continue
		}
		s.replaced = false
	}
	for _, s := range tx.steps {
		if s.kept && !s.replaced {
			if err := os.Remove(s.orig); err != nil {
				errs = append(errs, fmt.Errorf("removing %s: %w", tx.name(s.orig), err))
			}
		}
	}
	tx.discard()
	tx.syncDirs()
	return errors.Join(errs...)
}

// discard removes the temporary files not renamed.
func (tx *transaction) discard() {
	for _, s := range tx.steps {
		for _, p := range []string{s.tmp, s.origTmp} {
			if p != "" {
				os.Remove(p)
			}
		}
		s.tmp, s.origTmp = "", ""
	}
}

// syncDirs syncs the directories of the renamed files, so that the renames
// survive a crash. It is best effort: a file system that cannot sync a
// directory has the renames all the same.
func (tx *transaction) syncDirs() {
	seen := map[string]bool{}
	for _, s := range tx.steps {
		for _, d := range []string{filepath.Dir(s.target), filepath.Dir(s.orig)} {
			if seen[d] {
				continue
			}
			seen[d] = true
			if f, err := os.Open(d); err == nil {
				f.Sync()
				f.Close()
			}
		}
	}
}

// name names a file for messages: relative to the pai checkout when inside.
func (tx *transaction) name(path string) string {
	return displayName(tx.dir, path)
}

// writeTemp writes data to a new temporary file beside path (named
// ".BASE.paimirror-*", which Scan skips) with permissions perm, syncs it,
// reads it back and returns its name. On failure it leaves no file.
func writeTemp(path string, data []byte, perm fs.FileMode) (string, error) {
	if applyFault != nil {
		if err := applyFault("write", path); err != nil {
			return "", err
		}
	}
	tmp, err := atomicfile.WriteTemp(path, ".paimirror-", data, perm)
	if err != nil {
		return "", err
	}
	if back, err := os.ReadFile(tmp); err != nil || !bytes.Equal(back, data) {
		os.Remove(tmp)
		if err == nil {
			err = fmt.Errorf("%s reads back different from what was written", tmp)
		}
		return "", err
	}
	return tmp, nil
}

// rename renames from to to.
func rename(from, to string) error {
	if applyFault != nil {
		if err := applyFault("rename", to); err != nil {
			return err
		}
	}
	return os.Rename(from, to)
}
