//go:build !linux

package bundle

import (
	"errors"
	"os"
)

// Reopen has no way to open the file f is open on other than by its name,
// which may now be another file; callers copy through memory instead.
func Reopen(*os.File) (*os.File, error) {
	return nil, errors.New("reopening an open file is supported on Linux only")
}
