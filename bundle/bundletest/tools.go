package bundletest

import (
	"net"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle/bundletest/badlink"
)

// RequireEnv is the environment variable that turns a missing test tool from
// a skip into a failure. .ci/run sets it, so CI never passes by skipping.
const RequireEnv = badlink.RequireEnv

// Tool returns the path of a real program a test runs against (skopeo,
// crane, ctr, sshd, ...). When it is not installed the test is skipped, or
// fails where RequireEnv is set.
func Tool(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv(RequireEnv) != "" {
		t.Fatalf("%s is not installed (%s is set, so this fails instead of skipping); run .ci/run's install step", name, RequireEnv)
	}
	t.Skipf("%s is not installed; .ci/run installs it", name)
	return ""
}

// Need skips the test with the reason given, or fails it where RequireEnv
// is set: for anything .ci/run provides besides a program (a file a
// package installs, a host the machine reaches).
func Need(t testing.TB, format string, args ...any) {
	t.Helper()
	badlink.Need(t, format, args...)
}

// Reach returns when hostport accepts a TCP connection within 10 seconds,
// and otherwise skips or fails the test as Need does.
func Reach(t testing.TB, hostport string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", hostport, 10*time.Second)
	if err != nil {
		Need(t, "%s cannot be reached: %v", hostport, err)
		return
	}
	c.Close()
}
