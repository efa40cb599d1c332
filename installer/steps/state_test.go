package steps

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestStateFileBefore: a state.json written by paimirror before the step
// engine left package quickstart (testdata/state-v1.json, written by
// quickstart.State: patch done with a fingerprint, preflight done without,
// prepare failed) is read as it was: a rerun with the same inputs skips
// the done steps and resumes at prepare, and what is written back keeps
// the format.
func TestStateFileBefore(t *testing.T) {
	dir := t.TempDir()
	old, err := os.ReadFile(filepath.Join("testdata", "state-v1.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, StateFile), old, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openState(t, dir)
	if rec, ok := s.Record("prepare"); !ok || rec.Status != OutcomeFailed || rec.Error != "node lab-gpu1: sudo: a password is required" || rec.Time.IsZero() {
		t.Errorf("prepare record = %+v, %v", rec, ok)
	}
	r := &recorder{}
	p := r.plan(installSteps...)
	// The patch step's inputs as the installer fingerprinted them then.
	p.Steps[0].Fingerprint = Fingerprint("10.0.0.10:5000", "http", "/home/lab/pai/contrib/kubespray/config/config.yaml")
	var events []string
	if err := Run(context.Background(), s, p, func(e Event) { events = append(events, e.Step+":"+string(e.Kind)) }); err != nil {
		t.Fatal(err)
	}
	equalLines(t, "ran", r.ran, installSteps[2:])
	equalLines(t, "events", events[:3], []string{"patch:up-to-date", "preflight:up-to-date", "prepare:started"})

	var now struct {
		Version int                        `json:"version"`
		Steps   map[string]json.RawMessage `json:"steps"`
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, StateFile))), &now); err != nil {
		t.Fatal(err)
	}
	if now.Version != 1 || len(now.Steps) != len(installSteps) {
		t.Errorf("state.json after the run: version %d, %d steps", now.Version, len(now.Steps))
	}
	if patch := string(now.Steps["patch"]); !strings.Contains(patch, `"fingerprint": "sha256:ec25ac92ae6b0c1491b9fc54c4d30d485579861e32c80cded7ab93a625619e79"`) ||
		!strings.Contains(patch, `"status": "done"`) {
		t.Errorf("patch's record changed: %s", patch)
	}
}

// TestRunEvents: every event of Run carries the step's place in the plan;
// Done and Failed carry what the step returned, Failed its error.
func TestRunEvents(t *testing.T) {
	s := openState(t, t.TempDir())
	boom := context.DeadlineExceeded
	r := &recorder{fail: map[string]error{"prepare": boom}}
	p := r.plan(installSteps...)
	p.From = "preflight"
	var events []Event
	Run(context.Background(), s, p, func(e Event) { events = append(events, e) })
	var got []string
	for _, e := range events {
		line := e.Step + ":" + string(e.Kind)
		if e.Total != len(installSteps) || e.N != indexOf(e.Step)+1 {
			t.Errorf("%s: N %d, Total %d", line, e.N, e.Total)
		}
		switch e.Kind {
		case Done, Failed:
			if e.Result != "result of "+e.Step {
				t.Errorf("%s: result %v", line, e.Result)
			}
			if (e.Kind == Failed) != (e.Err == boom) {
				t.Errorf("%s: err %v", line, e.Err)
			}
		default:
			if e.Result != nil || e.Err != nil {
				t.Errorf("%s: result %v, err %v", line, e.Result, e.Err)
			}
		}
		got = append(got, line)
	}
	equalLines(t, "events", got, []string{"patch:not-selected", "preflight:started", "preflight:done", "prepare:started", "prepare:failed"})
}

func indexOf(step string) int {
	for i, s := range installSteps {
		if s == step {
			return i
		}
	}
	return -1
}
