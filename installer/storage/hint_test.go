package storage

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/installer/kube"
)

// TestAPIErrorHintQuotesKubeconfig pastes the kubectl command of the
// hint for an API server's refusal into the real sh, with kubectl
// recording its arguments: the kubeconfig's path (--kubeconfig, any
// path) reaches it as one word and runs nothing; a plain path reads as
// it always has.
func TestAPIErrorHintQuotesKubeconfig(t *testing.T) {
	sh := bundletest.Tool(t, "sh")
	for _, path := range []string{
		"/home/pai/pai-deploy/kube/config",
		"/tmp/my kube/config",
		"/tmp/k$(touch${IFS}pwned)/config",
	} {
		s := &setup{opts: Options{Kubeconfig: path, ClusterCfgDir: "/c"}}
		hint := s.stepError(StepVolume, &kube.APIError{Code: 403, Reason: "Forbidden"}).Hint
		_, rest, ok := strings.Cut(hint, "(kubectl ")
		cmdline, _, ok2 := strings.Cut(rest, " get nodes)")
		if !ok || !ok2 {
			t.Fatalf("no kubectl command in the hint %q", hint)
		}
		cmdline = "kubectl " + cmdline + " get nodes"
		if path == "/home/pai/pai-deploy/kube/config" && cmdline != "kubectl --kubeconfig "+path+" get nodes" {
			t.Errorf("a plain path: %q", cmdline)
		}
		dir := t.TempDir()
		bin := filepath.Join(dir, "bin")
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bin, "kubectl"), []byte("#!/bin/sh\nfor a; do printf '%s\\n' \"$a\"; done > \"$0.args\"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(sh, "-c", cmdline)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("sh -c %q: %v\n%s", cmdline, err, out)
		}
		got, err := os.ReadFile(filepath.Join(bin, "kubectl.args"))
		if err != nil {
			t.Fatal(err)
		}
		if want := "--kubeconfig\n" + path + "\nget\nnodes\n"; string(got) != want {
			t.Errorf("kubectl got %q, want %q (the hint: %s)", got, want, hint)
		}
		if _, err := os.Stat(filepath.Join(dir, "pwned")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("pasting the hint ran the command the path holds: %s", hint)
		}
	}
}
