package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
)

// Tests run serve under resource limits through the test binary itself:
// when it runs as paimirror with PAIMIRROR_TEST_RLIMIT_NOFILE or
// PAIMIRROR_TEST_RLIMIT_FSIZE set (a number), it lowers that limit, soft
// and hard, before main runs, so the test process keeps its own limits.
func init() {
	for _, l := range []struct {
		env      string
		resource int
	}{
		{"PAIMIRROR_TEST_RLIMIT_NOFILE", syscall.RLIMIT_NOFILE},
		{"PAIMIRROR_TEST_RLIMIT_FSIZE", syscall.RLIMIT_FSIZE},
	} {
		v := os.Getenv(l.env)
		if v == "" {
			continue
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err == nil {
			err = syscall.Setrlimit(l.resource, &syscall.Rlimit{Cur: n, Max: n})
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "%s=%s: %v\n", l.env, v, err)
			os.Exit(2)
		}
	}
}
