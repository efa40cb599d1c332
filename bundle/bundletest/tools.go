package bundletest

import (
	"testing"

	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
)

// RequireEnv is the environment variable that turns a missing test tool from
// a skip into a failure; .ci/run sets it, so CI never passes by skipping.
// It is testenv.RequireEnv, kept here for the many tests that name it.
const RequireEnv = testenv.RequireEnv

// Tool returns the path of a real program a test runs against (skopeo,
// crane, ctr, sshd, ...), on PATH. When it is not installed the test is
// skipped, or fails where RequireEnv is set. It is testenv.Tool, kept here
// for the many tests that call it.
func Tool(t testing.TB, name string) string {
	t.Helper()
	return testenv.Tool(t, name)
}
