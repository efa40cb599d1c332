//go:build linux

package quickstart

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// errNoProcInfo means /proc cannot tell what the script's processes are
// doing (no /proc, or /proc/PID/syscall unreadable or unknown on this
// architecture).
var errNoProcInfo = errors.New("process state not available")

// procInfo is what RunScript reads from /proc/PID/stat.
type procInfo struct {
	pid     int
	state   byte
	session int
}

// sessionProcs returns the live (not zombie) processes of session sid.
func sessionProcs(sid int) ([]procInfo, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []procInfo
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		p, ok := readStat(pid)
		if !ok || p.session != sid || p.state == 'Z' || p.state == 'X' {
			continue
		}
		out = append(out, p)
	}
	return out, nil
}

// readStat parses /proc/PID/stat: "pid (comm) state ppid pgrp session ...";
// comm may hold spaces and parentheses, so fields are counted from the last
// ')'.
func readStat(pid int) (procInfo, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return procInfo{}, false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procInfo{}, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 4 || len(f[0]) != 1 {
		return procInfo{}, false
	}
	sess, err := strconv.Atoi(f[3])
	if err != nil {
		return procInfo{}, false
	}
	return procInfo{pid: pid, state: f[0][0], session: sess}, true
}

// readingStdin reports whether a process of session sid is blocked in a
// read of the pipe with inode stdinIno (the script's stdin), from the
// syscall it sleeps in (/proc/PID/syscall) and the file its fd argument
// names (/proc/PID/fd/N).
func readingStdin(sid int, stdinIno uint64) (bool, error) {
	if len(readSyscalls) == 0 {
		return false, errNoProcInfo
	}
	procs, err := sessionProcs(sid)
	if err != nil {
		return false, fmt.Errorf("%w: %v", errNoProcInfo, err)
	}
	want := fmt.Sprintf("pipe:[%d]", stdinIno)
	seen := false
	for _, p := range procs {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/syscall", p.pid))
		if err != nil {
			continue
		}
		seen = true
		f := strings.Fields(string(b)) // "NR arg1 ... sp pc", or "running"
		if len(f) < 2 {
			continue
		}
		nr, err := strconv.Atoi(f[0])
		if err != nil || !slices.Contains(readSyscalls, nr) {
			continue
		}
		fd, err := strconv.ParseUint(strings.TrimPrefix(f[1], "0x"), 16, 32)
		if err != nil {
			continue
		}
		if link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%d", p.pid, fd)); err == nil && link == want {
			return true, nil
		}
	}
	if !seen && len(procs) > 0 {
		return false, errNoProcInfo
	}
	return false, nil
}

// signalSession sends sig to the process group sid and to every other
// process of session sid (one that moved to a group of its own).
func signalSession(sid int, sig syscall.Signal) {
	syscall.Kill(-sid, sig)
	procs, _ := sessionProcs(sid)
	for _, p := range procs {
		syscall.Kill(p.pid, sig)
	}
}

// waitSessionGone waits up to d for session sid to have no live process
// and reports whether it has none. It polls: a process that is not a child
// cannot be waited for.
func waitSessionGone(sid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		procs, err := sessionProcs(sid)
		if err != nil || len(procs) == 0 {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(wait)
	}
}
