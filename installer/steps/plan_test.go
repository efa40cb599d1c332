package steps

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var installSteps = []string{"patch", "preflight", "prepare", "kubespray", "services", "verify"}

// recorder builds plans of steps that record their runs and fail on demand.
type recorder struct {
	ran  []string
	fail map[string]error
}

func (r *recorder) plan(names ...string) Plan {
	var p Plan
	for _, n := range names {
		p.Steps = append(p.Steps, Step{Name: n, Run: func(ctx context.Context) (any, error) {
			r.ran = append(r.ran, n)
			return "result of " + n, r.fail[n]
		}})
	}
	return p
}

func openState(t *testing.T, dir string) *State {
	t.Helper()
	s, err := OpenState(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestRunResume: a failed step stops the install; the next run resumes at
// it, skipping what was done, also with a fresh State read from disk.
func TestRunResume(t *testing.T) {
	dir := t.TempDir()
	s := openState(t, dir)
	boom := errors.New("kubeadm init timed out")
	r := &recorder{fail: map[string]error{"kubespray": boom}}
	var events []string
	progress := func(e Event) { events = append(events, e.Step+":"+string(e.Kind)) }

	err := Run(context.Background(), s, r.plan(installSteps...), progress)
	var se *Error
	if !errors.As(err, &se) || se.Step != "kubespray" || !errors.Is(err, boom) {
		t.Fatalf("err = %v, want Error for kubespray wrapping the step's error", err)
	}
	if !strings.Contains(se.Hint, `resumes at step "kubespray"`) {
		t.Errorf("hint %q", se.Hint)
	}
	equalLines(t, "first run", r.ran, installSteps[:4])
	equalLines(t, "events", events, []string{
		"patch:started", "patch:done", "preflight:started", "preflight:done", "prepare:started", "prepare:done",
		"kubespray:started", "kubespray:failed",
	})
	if rec, _ := s.Record("kubespray"); rec.Status != OutcomeFailed || rec.Error != "kubeadm init timed out" {
		t.Errorf("kubespray record = %+v", rec)
	}
	s.Close()

	// A new process: the state comes from disk.
	s = openState(t, dir)
	r.ran, r.fail, events = nil, nil, nil
	if err := Run(context.Background(), s, r.plan(installSteps...), progress); err != nil {
		t.Fatal(err)
	}
	equalLines(t, "second run", r.ran, installSteps[3:])
	equalLines(t, "events", events, []string{
		"patch:up-to-date", "preflight:up-to-date", "prepare:up-to-date",
		"kubespray:started", "kubespray:done", "services:started", "services:done", "verify:started", "verify:done",
	})

	// All done: nothing runs.
	r.ran = nil
	if err := Run(context.Background(), s, r.plan(installSteps...), nil); err != nil || len(r.ran) != 0 {
		t.Errorf("third run: ran %q, err %v", r.ran, err)
	}
}

// TestRunSelect: Only runs just the named steps, done or not, in plan
// order; From runs a step and all after it; unknown names run nothing and
// list the valid ones.
func TestRunSelect(t *testing.T) {
	for _, tc := range []struct {
		name    string
		done    []string
		only    []string
		from    string
		want    []string
		wantErr string
	}{
		{name: "resume from first not done", done: []string{"patch", "preflight", "services"}, want: []string{"prepare", "kubespray", "services", "verify"}},
		{name: "only, any order", done: installSteps, only: []string{"verify", "patch", "verify"}, want: []string{"patch", "verify"}},
		{name: "only a step not done", only: []string{"services"}, want: []string{"services"}},
		{name: "from", done: installSteps, from: "services", want: []string{"services", "verify"}},
		{name: "from the first", done: []string{"patch"}, from: "patch", want: installSteps},
		{name: "unknown only", only: []string{"patch", "storage"}, wantErr: `unknown step "storage" (the steps are: patch, preflight, prepare, kubespray, services, verify)`},
		{name: "unknown from", from: "kubernetes", wantErr: `unknown step "kubernetes" (the steps are: patch, preflight, prepare, kubespray, services, verify)`},
		{name: "only and from", only: []string{"patch"}, from: "patch", wantErr: "cannot be combined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openState(t, t.TempDir())
			for _, d := range tc.done {
				if err := s.MarkDone(d, ""); err != nil {
					t.Fatal(err)
				}
			}
			r := &recorder{}
			p := r.plan(installSteps...)
			p.Only, p.From = tc.only, tc.from
			err := Run(context.Background(), s, p, nil)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				if strings.HasPrefix(tc.name, "unknown") && !errors.Is(err, ErrUnknownStep) {
					t.Errorf("err %v does not wrap ErrUnknownStep", err)
				}
				if len(r.ran) != 0 {
					t.Errorf("ran %q", r.ran)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			equalLines(t, "ran", r.ran, tc.want)
			for _, n := range tc.want {
				if !s.Done(n) {
					t.Errorf("%s not recorded as done", n)
				}
			}
		})
	}
}

// TestRunFingerprint: a done step whose inputs changed runs again, with
// the steps after it.
func TestRunFingerprint(t *testing.T) {
	s := openState(t, t.TempDir())
	r := &recorder{}
	p := r.plan(installSteps...)
	p.Steps[0].Fingerprint = Fingerprint("config.yaml", "v1")
	if err := Run(context.Background(), s, p, nil); err != nil {
		t.Fatal(err)
	}
	if rec, _ := s.Record("patch"); rec.Fingerprint != p.Steps[0].Fingerprint {
		t.Errorf("patch fingerprint %q", rec.Fingerprint)
	}
	r.ran = nil
	p.Steps[0].Fingerprint = Fingerprint("config.yaml", "v2")
	if err := Run(context.Background(), s, p, nil); err != nil {
		t.Fatal(err)
	}
	equalLines(t, "ran after the inputs changed", r.ran, installSteps)
	if Fingerprint("ab", "c") == Fingerprint("a", "bc") {
		t.Error("Fingerprint does not separate its parts")
	}
}

// TestRunCancelled: a cancelled context runs no further step.
func TestRunCancelled(t *testing.T) {
	s := openState(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	r := &recorder{}
	p := r.plan(installSteps...)
	p.Steps[1].Run = func(context.Context) (any, error) { cancel(); return nil, nil }
	err := Run(ctx, s, p, nil)
	var se *Error
	if !errors.As(err, &se) || se.Step != "prepare" || !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	equalLines(t, "ran", r.ran, []string{"patch"})
	if _, ok := s.Record("prepare"); ok {
		t.Error("a step that never started is recorded")
	}
}

// TestRunBadPlan: plans that cannot be run are refused before any step.
func TestRunBadPlan(t *testing.T) {
	s := openState(t, t.TempDir())
	r := &recorder{}
	dup := r.plan("a", "b", "a")
	noRun := r.plan("a")
	noRun.Steps[0].Run = nil
	for _, p := range []Plan{{}, dup, r.plan("a", ""), noRun} {
		if err := Run(context.Background(), s, p, nil); err == nil {
			t.Errorf("Run(%+v) = nil", p)
		}
	}
	if len(r.ran) != 0 {
		t.Errorf("ran %q", r.ran)
	}
}

// TestStateFile: state.json is valid, private, replaced atomically, and
// Reset forgets steps.
func TestStateFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "install", "cluster")
	s := openState(t, dir)
	if err := s.MarkDone("patch", "sha256:aa"); err != nil {
		t.Fatal(err)
	}
	if err := s.MarkFailed("preflight", errors.New("pai-worker1: ssh: unable to authenticate\nmore detail")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, StateFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("state.json: %v %v", fi, err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("state directory mode %v", fi.Mode())
	}
	var data struct {
		Version int               `json:"version"`
		Steps   map[string]Record `json:"steps"`
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, StateFile))), &data); err != nil {
		t.Fatal(err)
	}
	if data.Version != 1 || data.Steps["patch"].Status != OutcomeDone || data.Steps["patch"].Fingerprint != "sha256:aa" ||
		data.Steps["patch"].Time.IsZero() || data.Steps["preflight"].Error != "pai-worker1: ssh: unable to authenticate" {
		t.Errorf("state.json = %+v", data)
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if !slices.Contains([]string{StateFile, lockFile}, e.Name()) {
			t.Errorf("stray file %s in the state directory", e.Name())
		}
	}
	if err := s.Reset("patch"); err != nil || s.Done("patch") {
		t.Errorf("Reset(patch): %v, done %v", err, s.Done("patch"))
	}
	if _, ok := s.Record("preflight"); !ok {
		t.Error("Reset(patch) forgot preflight")
	}
	if err := s.Reset(); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.Record("preflight"); ok {
		t.Error("Reset() kept preflight")
	}
	if s.LogPath("kubespray") != filepath.Join(dir, "kubespray.log") {
		t.Errorf("LogPath = %s", s.LogPath("kubespray"))
	}
}

// TestStateLock: one install per state directory at a time.
func TestStateLock(t *testing.T) {
	dir := t.TempDir()
	s := openState(t, dir)
	if _, err := OpenState(dir); !errors.Is(err, ErrLocked) {
		t.Fatalf("second OpenState: %v, want ErrLocked", err)
	}
	s.Close()
	s2 := openState(t, dir)
	if err := s.MarkDone("patch", ""); err == nil {
		t.Error("a closed State still writes")
	}
	if err := s2.MarkDone("patch", ""); err != nil {
		t.Error(err)
	}
}

// TestStateCorrupt: a damaged state.json is an error naming the file.
func TestStateCorrupt(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, StateFile), []byte(`{"version":1,"steps":`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenState(dir); err == nil || !strings.Contains(err.Error(), filepath.Join(dir, StateFile)) {
		t.Fatalf("err = %v", err)
	}
	// The failed open left the directory unlocked.
	os.Remove(filepath.Join(dir, StateFile))
	openState(t, dir)
}

func equalLines(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\ngot:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
