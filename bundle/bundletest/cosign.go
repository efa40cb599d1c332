package bundletest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
)

// CosignVersion is the cosign release .ci/cosign.sh builds
// (github.com/sigstore/cosign/v2/cmd/cosign from the Go module proxy).
const CosignVersion = "v2.6.5"

// Cosign returns the path of the real cosign: $PAIMIRROR_COSIGN, else
// bin/cosign in the cache .ci/cosign.sh builds into, else cosign on PATH.
// When there is none the test is skipped, or fails where RequireEnv is
// set.
func Cosign(t testing.TB) string {
	t.Helper()
	return testenv.Find(t, testenv.Program{What: "cosign " + CosignVersion, Env: "PAIMIRROR_COSIGN", Cached: "cosign", Name: "cosign", Provider: ".ci/cosign.sh builds it"})
}

// CosignCmd returns the command that runs cosign (the path Cosign
// returned) with args in dir, cut off from every network: HTTP(S)_PROXY
// point at a closed loopback port, HOME and TUF_ROOT are under home (a
// fresh directory: no cached trust roots) and COSIGN_EXPERIMENTAL is 0.
// Callers pass --tlog-upload=false or --insecure-ignore-tlog so that cosign
// does not try to reach a transparency log. env adds variables
// (COSIGN_PASSWORD=...); nothing else of the caller's environment but
// PATH is passed.
func CosignCmd(cosign, dir, home string, env []string, args ...string) (*exec.Cmd, error) {
	closed, err := ClosedAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(cosign, args...)
	cmd.Dir = dir
	cmd.Env = append([]string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"TUF_ROOT=" + filepath.Join(home, "tuf"),
		"HTTPS_PROXY=http://" + closed, "HTTP_PROXY=http://" + closed, "NO_PROXY=",
		"https_proxy=http://" + closed, "http_proxy=http://" + closed, "no_proxy=",
		"COSIGN_EXPERIMENTAL=0",
	}, env...)
	cmd.Stdin = strings.NewReader("")
	return cmd, nil
}

// RunCosign runs cosign as CosignCmd does, with a fresh home, and returns
// its stdout, its stderr and its error.
func RunCosign(t testing.TB, cosign, dir string, env []string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd, err := CosignCmd(cosign, dir, t.TempDir(), env, args...)
	if err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.String(), errOut.String(), err
}
