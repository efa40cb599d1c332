//go:build linux

package quickstart

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/installer/pai"
	"github.com/paimirror/paimirror/installer/steps"
)

// scriptPlan is the kubespray and services part of an install, as the
// installer builds it with package steps: each step runs its script with
// its log in the state directory.
func scriptPlan(f *fixture, s *steps.State, env func() []string) steps.Plan {
	step := func(name, script string) steps.Step {
		return steps.Step{Name: name, Run: func(ctx context.Context) (any, error) {
			opts := f.options(script, env()...)
			opts.LogPath = s.LogPath(name)
			if script == pai.KubesprayScript {
				opts.Args = []string{"-v"}
			}
			return nil, RunScript(ctx, opts)
		}}
	}
	return steps.Plan{Steps: []steps.Step{step("kubespray", pai.KubesprayScript), step("services", pai.ServiceScript)}}
}

// TestInstallResume: the services script fails; the rerun runs only it, not
// the kubespray script again. The failure's hint (ScriptError.Hint) and last
// lines reach the steps.Error.
func TestInstallResume(t *testing.T) {
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "state")
	s := openState(t, dir)
	env := []string{"FIXTURE_SERVICE_FAIL=1", "FIXTURE_EXTRA=x"}
	p := scriptPlan(f, s, func() []string { return env })

	err := steps.Run(context.Background(), s, p, nil)
	var stepErr *steps.Error
	var scriptErr *ScriptError
	if !errors.As(err, &stepErr) || stepErr.Step != "services" || !errors.As(err, &scriptErr) || scriptErr.ExitCode != 5 {
		t.Fatalf("err = %v", err)
	}
	if stepErr.Hint != scriptErr.Hint() || !strings.Contains(stepErr.Hint, s.LogPath("services")) {
		t.Errorf("hint %q", stepErr.Hint)
	}
	if last := scriptErr.LastLines[len(scriptErr.LastLines)-1]; last != "service start failed" {
		t.Errorf("last lines %q", scriptErr.LastLines)
	}
	equalLines(t, "first run", f.recorded(t), append(f.kubesprayRecord(), f.serviceRecord("x")...))

	s.Close()
	s = openState(t, dir)
	p = scriptPlan(f, s, func() []string { return env })
	env = []string{"FIXTURE_EXTRA=y"}
	if err := steps.Run(context.Background(), s, p, nil); err != nil {
		t.Fatal(err)
	}
	want := append(append(f.kubesprayRecord(), f.serviceRecord("x")...), f.serviceRecord("y")...)
	equalLines(t, "after the rerun", f.recorded(t), want)
	if log := readFile(t, s.LogPath("services")); strings.Count(log, "bash quick-start-service.sh") != 2 {
		t.Errorf("the services log does not hold both runs:\n%s", log)
	}
}

// TestInstallNoSecrets: a password given to the scripts through Env, which
// a failing playbook prints, is nowhere in the state directory (state.json,
// the logs), the step's record or the errors.
func TestInstallNoSecrets(t *testing.T) {
	const password = "Pa55-w0rd-fixture"
	f := newFixture(t)
	dir := filepath.Join(t.TempDir(), "state")
	s := openState(t, dir)
	p := scriptPlan(f, s, func() []string {
		return []string{"PAI_PASSWORD=" + password, "FIXTURE_FAIL_PLAYBOOK=cluster.yml"}
	})
	err := steps.Run(context.Background(), s, p, nil)
	var stepErr *steps.Error
	if !errors.As(err, &stepErr) || stepErr.Step != "kubespray" {
		t.Fatalf("err = %v", err)
	}
	var scriptErr *ScriptError
	errors.As(err, &scriptErr)
	texts := map[string]string{
		"error":      err.Error(),
		"hint":       stepErr.Hint,
		"last lines": strings.Join(scriptErr.LastLines, "\n"),
	}
	rec, _ := s.Record("kubespray")
	texts["record"] = string(rec.Status) + rec.Error + rec.Fingerprint
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		texts[e.Name()] = readFile(t, filepath.Join(dir, e.Name()))
	}
	if !strings.Contains(texts["kubespray.log"], `"ansible_password": "********"`) {
		t.Errorf("the log lacks the masked task result:\n%s", texts["kubespray.log"])
	}
	if !strings.Contains(texts[steps.StateFile], `"status": "failed"`) {
		t.Errorf("state.json:\n%s", texts[steps.StateFile])
	}
	for name, text := range texts {
		if strings.Contains(text, password) {
			t.Errorf("the password is in the %s:\n%s", name, text)
		}
	}
}

func openState(t *testing.T, dir string) *steps.State {
	t.Helper()
	s, err := steps.OpenState(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
