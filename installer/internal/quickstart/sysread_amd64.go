//go:build linux && amd64

package quickstart

// readSyscalls are the numbers of the syscalls that read a file
// descriptor given as their first argument: read, pread64, readv, preadv,
// preadv2.
var readSyscalls = []int{0, 17, 19, 295, 327}
