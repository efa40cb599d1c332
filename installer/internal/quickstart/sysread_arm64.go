//go:build linux && arm64

package quickstart

// readSyscalls are the numbers of the syscalls that read a file
// descriptor given as their first argument: read, readv, pread64, preadv,
// preadv2.
var readSyscalls = []int{63, 65, 67, 69, 286}
