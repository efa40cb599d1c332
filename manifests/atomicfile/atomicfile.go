package atomicfile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteFile replaces the file at path with data and permissions perm
// (exactly perm: the umask does not apply), atomically and durably. It
// writes a temporary file beside path (mode 0600 until perm is set, so no
// one can read a secret meanwhile), fsyncs it, renames it over path and
// fsyncs the directory. A symbolic link at path is replaced, not followed.
// Its cost is writing len(data) bytes plus two fsyncs, which on a disk
// without a write cache is tens of milliseconds: it is for small files
// written now and then, not for a hot path.
//
// On an error before the rename, the temporary file is removed and path is
// untouched. Only the last step can fail after path holds the new content:
// the error then says the directory could not be synced, and the new
// content may not survive a crash. Errors name path.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	if perm&^(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0 {
		return fmt.Errorf("writing %s: mode %v is not a file permission (give permission bits such as 0o644, with setuid, setgid or sticky at most)", path, perm)
	}
	dir := filepath.Dir(path)
	tmp, err := WriteTemp(path, ".", data, perm)
	if err == nil {
		if err = os.Rename(tmp, path); err != nil {
			os.Remove(tmp)
		}
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("writing %s: the new content is in place but syncing directory %s failed, so it may not survive a crash: %w", path, dir, err)
	}
	return nil
}

// WriteTemp writes data to a new temporary file beside path, named
// "."+base(path)+sep+random, with permissions perm (mode 0600 until then),
// fsyncs it and returns its name: the first half of WriteFile, for a
// caller that renames several files together (the installer's patch). On
// an error no file is left. The cost is writing len(data) bytes and one
// fsync.
func WriteTemp(path, sep string, data []byte, perm fs.FileMode) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+sep+"*")
	if err != nil {
		return "", err
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return tmp, nil
}

// syncDir flushes dir's entries (a rename into it) to disk.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
