//go:build !linux

package fileserver

import (
	"errors"
	"os"
)

// reopen has no way to open the file f is open on other than by its name,
// which may now be another file; sendRegion copies instead.
func reopen(*os.File) (*os.File, error) {
	return nil, errors.New("reopening an open file is supported on Linux only")
}
