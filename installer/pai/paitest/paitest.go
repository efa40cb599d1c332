// Package paitest gives tests the real pai v1.8.0 tree: contrib/kubespray
// and src at tag v1.8.0, extracted from a local clone of microsoft/pai.
package paitest

import (
	"os"
	"os/exec"
	"testing"
)

// Repo is the clone of microsoft/pai the tree comes from (a bare or
// ordinary git repository holding tag v1.8.0).
const Repo = "/work/.mirror/microsoft+pai/repo"

// RealTree extracts contrib/kubespray and src of pai v1.8.0 from Repo
// into a new temporary directory of t and returns it. It skips the test
// when the repository, git, tar or sh is missing, or the extraction fails.
func RealTree(t testing.TB) string {
	t.Helper()
	if _, err := os.Stat(Repo); err != nil {
		t.Skipf("no pai repository at %s", Repo)
	}
	for _, tool := range []string{"sh", "git", "tar"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("no %s", tool)
		}
	}
	dir := t.TempDir()
	// git archive | tar -x, failing when either fails.
	cmd := exec.Command("sh", "-c", `set -e; git -C "$1" archive --format=tar -o "$2/pai.tar" v1.8.0 contrib/kubespray src; tar -x -C "$2" -f "$2/pai.tar"; rm "$2/pai.tar"`, "sh", Repo, dir)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("extracting pai v1.8.0: %v: %s", err, out)
	}
	return dir
}
