package bundletest

import (
	"os"
	"os/exec"
	"testing"
)

// RequireEnv is the environment variable that turns a missing test tool from
// a skip into a failure. .ci/run sets it, so CI never passes by skipping.
const RequireEnv = "PAIMIRROR_REQUIRE_TOOLS"

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
