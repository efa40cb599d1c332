package fileserver

import (
	"errors"
	"os"
	"strconv"
)

// reopen returns a new descriptor, with an offset of its own, onto the file
// f is open on, even when f's path now names another file or none:
// /proc/self/fd/N opens the file itself, not its name. (dup would share
// f's offset.) The caller closes it.
func reopen(f *os.File) (*os.File, error) {
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
