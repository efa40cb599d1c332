package bundle

import (
	"errors"
	"os"
	"strconv"
)

// Reopen returns a new descriptor, with an offset of its own, onto the file
// f is open on, even when f's path now names another file or none:
// /proc/self/fd/N opens the file itself, not its name (dup would share
// f's offset). The caller closes it. It costs an open and two fstats. The
// registry and the file server use it to hand a region of the bundle (see
// Bundle.BlobRegion) to sendfile(2) without sharing an offset.
func Reopen(f *os.File) (*os.File, error) {
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	var fd uintptr
	if err := sc.Control(func(d uintptr) { fd = d }); err != nil {
		return nil, err
	}
	g, err := os.Open("/proc/self/fd/" + strconv.FormatUint(uint64(fd), 10))
	if err != nil {
		return nil, err
	}
	a, errA := f.Stat()
	b, errB := g.Stat()
	if errA != nil || errB != nil || !os.SameFile(a, b) {
		g.Close()
		return nil, errors.New("reopening the bundle: /proc/self/fd gave another file")
	}
	return g, nil
}
