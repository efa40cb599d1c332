//go:build !linux

package quickstart

import (
	"errors"
	"syscall"
	"time"
)

var errNoProcInfo = errors.New("process state not available")

// readingStdin cannot look into processes without Linux's /proc; RunScript
// falls back to whether the unfinished line looks like a question.
func readingStdin(sid int, stdinIno uint64) (bool, error) { return false, errNoProcInfo }

// signalSession sends sig to the process group sid.
func signalSession(sid int, sig syscall.Signal) { syscall.Kill(-sid, sig) }

// waitSessionGone waits up to d for process group sid to be empty.
func waitSessionGone(sid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		if err := syscall.Kill(-sid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(wait)
	}
}
