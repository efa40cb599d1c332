//go:build linux

package quickstart

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paimirror/paimirror/installer/pai"
)

// fixture is a copy of testdata/pai (scripts shaped like pai v1.8.0's
// contrib/kubespray) and testdata/bin (fake ansible, ansible-playbook,
// docker, sudo), with a HOME of its own and a record file the scripts
// append what they were given to.
type fixture struct {
	dir    string // contrib/kubespray
	pai    string // the pai tree
	home   string
	record string
	env    []string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 is needed: the fixture's k8s_generator.py asks its question with input()")
	}
	out, err := exec.Command(py, "-c", "import sys; print(sys.executable)").Output()
	if err != nil {
		t.Fatalf("finding python3: %v", err)
	}
	root, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{
		pai:    filepath.Join(root, "pai"),
		home:   filepath.Join(root, "home"),
		record: filepath.Join(root, "record.txt"),
	}
	f.dir = filepath.Join(f.pai, filepath.FromSlash(pai.KubesprayDir))
	if err := os.CopyFS(f.pai, os.DirFS("testdata/pai")); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(root, "bin")
	if err := os.CopyFS(bin, os.DirFS("testdata/bin")); err != nil {
		t.Fatal(err)
	}
	// python3 itself, not a version manager's shim that reads $HOME.
	if err := os.Symlink(strings.TrimSpace(string(out)), filepath.Join(bin, "python3")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(f.home, 0o755); err != nil {
		t.Fatal(err)
	}
	f.env = []string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), "HOME=" + f.home, "FIXTURE_RECORD=" + f.record}
	return f
}

// options returns ScriptOptions for script in the fixture, with env added.
func (f *fixture) options(script string, env ...string) ScriptOptions {
	return ScriptOptions{
		Dir:    f.dir,
		Script: script,
		Env:    append(slices.Clone(f.env), env...),
	}
}

// recorded returns the lines the fixture's scripts recorded.
func (f *fixture) recorded(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(f.record)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// kubesprayRecord is what the fixture's quick-start-kubespray.sh records
// on a full run with -v, before and after the requirement check.
func (f *fixture) kubesprayRecord(requirement ...string) []string {
	cfg, layout := filepath.Join(f.pai, filepath.FromSlash(pai.ConfigFile)), filepath.Join(f.pai, filepath.FromSlash(pai.LayoutFile))
	head := []string{
		"quick-start-kubespray.sh verbose=yes unbuffered=1",
		"environment.sh -c " + cfg,
		"validate_layout_schema.py",
		"requirement.sh -l " + layout + " -c " + cfg,
		"ansible-playbook environment-check.yml",
	}
	tail := []string{
		"configuration-kubespray.sh",
		"k8s_generator.py azure=N",
		"ansible all -m ping",
		"ansible-playbook set-host-daemon-port-range.yml",
		"ansible-playbook pre-installation.yml",
		"ansible-playbook docker-cache-config-distribute.yml",
		"kubernetes-boot.sh",
		"ansible-playbook cluster.yml",
	}
	return append(append(head, requirement...), tail...)
}

func (f *fixture) serviceRecord(extra string) []string {
	return []string{
		"quick-start-service.sh extra=" + extra + " unbuffered=1",
		"service-boot.sh tag=v1.8.0",
		"docker run -itd -v " + f.pai + ":/mnt/pai --name=dev-box-quick-start openpai/dev-box:v1.8.0",
		"docker exec dev-box-quick-start kubectl get node",
		"docker exec -w /mnt/pai dev-box-quick-start /bin/bash ./contrib/kubespray/script/start-service-in-dev-box.sh",
	}
}

// TestRunScriptFullInstall runs both scripts as the guide does: the Azure
// prompt answered "N" (the fixture's k8s_generator.py exits otherwise),
// every step in order, PLAY/TASK/step progress, and the whole output of
// both scripts appended to one log.
func TestRunScriptFullInstall(t *testing.T) {
	f := newFixture(t)
	log := filepath.Join(t.TempDir(), "state", "install.log")
	var statuses []Status

	opts := f.options(pai.KubesprayScript)
	opts.Args = []string{"-v"}
	opts.LogPath = log
	opts.Progress = func(s Status) { statuses = append(statuses, s) }
	if err := RunScript(context.Background(), opts); err != nil {
		t.Fatalf("kubespray: %v", err)
	}
	opts = f.options(pai.ServiceScript, "FIXTURE_EXTRA=passed-through")
	opts.LogPath = log
	if err := RunScript(context.Background(), opts); err != nil {
		t.Fatalf("service: %v", err)
	}

	equalLines(t, "recorded steps", f.recorded(t), append(f.kubesprayRecord(), f.serviceRecord("passed-through")...))

	// Progress: the scripts' steps, ansible's plays and tasks, the answer.
	want := []Status{
		{Script: pai.KubesprayScript, Phase: PhaseScript, Text: "Checking requirements", Line: "Checking requirements..."},
		{Script: pai.KubesprayScript, Phase: PhasePlay, Text: "all,localhost"},
		{Script: pai.KubesprayScript, Phase: PhaseTask, Text: "requirement/basic-resource : check memory"},
		{Script: pai.KubesprayScript, Phase: PhasePrompt, Text: fmt.Sprintf("answered %q to %q", "N", AzurePrompt)},
		{Script: pai.KubesprayScript, Phase: PhaseScript, Text: "Starting kubernetes"},
		{Script: pai.KubesprayScript, Phase: PhasePlay, Text: "k8s-cluster"},
		{Script: pai.KubesprayScript, Phase: PhaseTask, Text: "kubernetes/master : kubeadm | Initialize first master"},
	}
	i := 0
	for _, s := range statuses {
		if i < len(want) && s.Script == want[i].Script && s.Phase == want[i].Phase && s.Text == want[i].Text &&
			(want[i].Line == "" || s.Line == want[i].Line) {
			i++
		}
	}
	if i < len(want) {
		t.Errorf("progress lacks %+v (in order); got:", want[i])
		for _, s := range statuses {
			t.Logf("  %+v", s)
		}
	}
	if got := statuses[len(statuses)-1].String(); got != "quick-start-kubespray.sh: TASK [kubernetes/master : kubeadm | Initialize first master]" {
		t.Errorf("last status line = %q", got)
	}

	// The log holds everything, both runs, the prompt with its answer.
	text := readFile(t, log)
	for _, s := range []string{
		"=== paimirror: ", "bash quick-start-kubespray.sh -v in " + f.dir,
		"layout config file path: " + f.dir + "/config/layout.yaml",
		"TASK [requirement/basic-resource : check memory] ****",
		AzurePrompt + "N\n",
		"kubespray configuration written to " + f.home + "/pai-deploy/cluster-cfg",
		"TASK [kubernetes/master : kubeadm | Initialize first master] ****",
		"quick-start-kubespray.sh exited with status 0",
		"bash quick-start-service.sh in " + f.dir,
		"Starting OpenPAI service...",
		"OpenPAI is successfully deployed",
		"quick-start-service.sh exited with status 0",
	} {
		if !strings.Contains(text, s) {
			t.Errorf("log lacks %q", s)
		}
	}
	if n := strings.Count(text, "PLAY RECAP"); n != 5 {
		t.Errorf("log has %d PLAY RECAPs, want 5 (one per playbook)", n)
	}
	if strings.Index(text, "quick-start-kubespray.sh exited") > strings.Index(text, "bash quick-start-service.sh") {
		t.Error("the service script's output is not after the kubespray script's")
	}
	if fi, err := os.Stat(log); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("log mode: %v %v", fi.Mode(), err)
	}
}

// TestRunScriptRequirementPrompt: when pai's requirement check fails, ENTER
// stops the install (an error that says how to go on), and "continue"
// goes on when asked for.
func TestRunScriptRequirementPrompt(t *testing.T) {
	for _, tc := range []struct {
		name string
		goOn bool
	}{
		{"stops by default", false},
		{"continues when asked", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			opts := f.options(pai.KubesprayScript, "FIXTURE_REQUIREMENT_FAIL=1")
			opts.Args = []string{"-v"}
			opts.LogPath = filepath.Join(t.TempDir(), "kubespray.log")
			opts.ContinueOnRequirementFailure = tc.goOn
			var prompts []Status
			opts.Progress = func(s Status) {
				if s.Phase == PhasePrompt {
					prompts = append(prompts, s)
				}
			}
			err := RunScript(context.Background(), opts)

			if tc.goOn {
				if err != nil {
					t.Fatalf("RunScript: %v", err)
				}
				equalLines(t, "recorded", f.recorded(t), f.kubesprayRecord("requirement answer=continue"))
				if len(prompts) != 2 || !strings.Contains(prompts[0].Text, `answered "continue"`) {
					t.Errorf("prompt statuses: %+v", prompts)
				}
				return
			}
			var se *ScriptError
			if !errors.As(err, &se) || !errors.Is(err, ErrRequirementCheck) {
				t.Fatalf("err = %v, want a ScriptError wrapping ErrRequirementCheck", err)
			}
			if se.ExitCode != 2 {
				t.Errorf("exit code %d, want requirement.sh's 2", se.ExitCode)
			}
			head := f.kubesprayRecord()[:5]
			equalLines(t, "recorded", f.recorded(t), append(head, "requirement answer="))
			for _, s := range []string{"requirement check failed", "exit status 2", opts.LogPath} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if h := se.Hint(); !strings.Contains(h, `"continue"`) || !strings.Contains(h, "ContinueOnRequirementFailure") {
				t.Errorf("hint does not say how to continue: %q", h)
			}
			if !slices.ContainsFunc(se.LastLines, func(l string) bool { return strings.Contains(l, "a worker needs 16 GB") }) {
				t.Errorf("last lines lack the failed task: %q", se.LastLines)
			}
			if len(prompts) != 1 || prompts[0].Text != fmt.Sprintf("answered %q to %q", "", RequirementPrompt) {
				t.Errorf("prompt statuses: %+v", prompts)
			}
		})
	}
}

// TestRunScriptUnknownPrompt: a question nobody answers stops the script
// after the idle timeout, with the question's text and the log's path,
// whether the question ends its line or not.
func TestRunScriptUnknownPrompt(t *testing.T) {
	for _, tc := range []struct{ mode, prompt string }{
		{"partial", "Enter the cluster name:"},
		{"line", "Type the name of the cluster and press ENTER"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			f := newFixture(t)
			opts := f.options(pai.KubesprayScript, "FIXTURE_UNKNOWN_PROMPT="+tc.mode)
			opts.LogPath = filepath.Join(t.TempDir(), "kubespray.log")
			opts.IdleTimeout = 200 * time.Millisecond
			opts.KillGrace = time.Second
			start := time.Now()
			err := RunScript(context.Background(), opts)
			var se *ScriptError
			if !errors.As(err, &se) || !errors.Is(err, ErrUnansweredPrompt) {
				t.Fatalf("err = %v, want a ScriptError wrapping ErrUnansweredPrompt", err)
			}
			if time.Since(start) < opts.IdleTimeout {
				t.Errorf("stopped after %v, before the idle timeout", time.Since(start))
			}
			if se.Prompt != tc.prompt || se.ExitCode != -1 {
				t.Errorf("prompt %q exit %d, want %q -1", se.Prompt, se.ExitCode, tc.prompt)
			}
			for _, s := range []string{tc.prompt, opts.LogPath} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q lacks %q", err, s)
				}
			}
			if !strings.Contains(se.Hint(), tc.prompt) {
				t.Errorf("hint %q lacks the prompt", se.Hint())
			}
			if rec := f.recorded(t); slices.ContainsFunc(rec, func(l string) bool { return strings.HasPrefix(l, "environment.sh got") }) {
				t.Errorf("the prompt got an answer: %q", rec)
			}
			if text := readFile(t, opts.LogPath); !strings.Contains(text, "=== paimirror: no answer to the prompt") {
				t.Errorf("log does not say why the script was stopped:\n%s", text)
			}
		})
	}
}

// TestRunScriptQuietIsNotAPrompt: a script that is silent for longer than
// the idle timeout, but not reading stdin (sleeping, reading a command
// substitution's pipe), is left alone.
func TestRunScriptQuietIsNotAPrompt(t *testing.T) {
	f := newFixture(t)
	opts := f.options(pai.KubesprayScript, "FIXTURE_QUIET=0.6")
	opts.IdleTimeout = 100 * time.Millisecond
	if err := RunScript(context.Background(), opts); err != nil {
		t.Fatalf("RunScript: %v", err)
	}
}

// TestRunScriptFailure: a failing script gives a ScriptError with its exit
// status, its last lines (secrets masked) and the log's path; the log holds
// all of the output, with the password masked there too.
func TestRunScriptFailure(t *testing.T) {
	const password = "hunter2-Secret!"
	f := newFixture(t)
	opts := f.options(pai.KubesprayScript, "FIXTURE_FAIL_PLAYBOOK=cluster.yml", "PAI_PASSWORD="+password)
	opts.LogPath = filepath.Join(t.TempDir(), "kubespray.log")
	err := RunScript(context.Background(), opts)
	var se *ScriptError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a ScriptError", err)
	}
	if se.ExitCode != 2 || se.Err != nil || se.LogPath != opts.LogPath || se.Script != pai.KubesprayScript {
		t.Errorf("ScriptError = %+v", se)
	}
	if want := "quick-start-kubespray.sh: exit status 2 (full output in " + opts.LogPath + ")"; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if len(se.LastLines) != DefaultLastLines {
		t.Errorf("%d last lines, want %d", len(se.LastLines), DefaultLastLines)
	}
	wantTail := []string{
		`fatal: [pai-master]: FAILED! => {"ansible_password": "********", "msg": "kubeadm init timed out"}`,
		"",
		"PLAY RECAP *********************************************************************",
		"pai-master                 : ok=3    changed=1    unreachable=0    failed=1",
	}
	equalLines(t, "last lines", se.LastLines[len(se.LastLines)-4:], wantTail)
	if se.LastLines[0] != "FAILED - RETRYING: wait for the apiserver (15 retries left)." {
		t.Errorf("first kept line %q", se.LastLines[0])
	}
	text := readFile(t, opts.LogPath)
	if strings.Contains(text, password) || strings.Contains(strings.Join(se.LastLines, "\n"), password) {
		t.Error("the password is in the log or the error")
	}
	if strings.Count(text, "FAILED - RETRYING") != 30 || !strings.Contains(text, `"ansible_password": "********"`) {
		t.Error("the log does not hold the whole output")
	}
}

// TestRunScriptCancel: cancelling the context stops the script and its
// children, including one that ignores SIGTERM, before RunScript returns.
func TestRunScriptCancel(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opts := f.options(pai.KubesprayScript, "FIXTURE_HANG=1")
	opts.LogPath = filepath.Join(t.TempDir(), "kubespray.log")
	opts.KillGrace = 200 * time.Millisecond
	opts.Progress = func(s Status) {
		if s.Phase == PhaseScript && s.Text == "Waiting for the cluster" {
			cancel()
		}
	}
	err := RunScript(ctx, opts)
	var se *ScriptError
	if !errors.As(err, &se) || !errors.Is(err, context.Canceled) || se.ExitCode != -1 {
		t.Fatalf("err = %#v, want a ScriptError wrapping context.Canceled", err)
	}
	var child int
	for _, l := range f.recorded(t) {
		if v, ok := strings.CutPrefix(l, "child="); ok {
			child, _ = strconv.Atoi(v)
		}
	}
	if child == 0 {
		t.Fatalf("the fixture recorded no child: %q", f.recorded(t))
	}
	if alive(child) {
		t.Errorf("child %d (ignoring SIGTERM) still runs after RunScript returned", child)
	}
	if slices.Contains(f.recorded(t), "ansible-playbook cluster.yml") {
		t.Error("the script went on after the cancellation")
	}
	if text := readFile(t, opts.LogPath); !strings.Contains(text, "=== paimirror: stopping the script: context canceled") {
		t.Errorf("log does not record the stop:\n%s", text)
	}
}

// alive reports whether pid is a live process (not gone, not a zombie
// waiting for init to reap it).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	p, ok := readStat(pid)
	return ok && p.state != 'Z' && p.state != 'X'
}

// TestRunScriptBadOptions: nothing runs without a script to run.
func TestRunScriptBadOptions(t *testing.T) {
	dir := t.TempDir()
	for _, o := range []ScriptOptions{
		{},
		{Dir: dir},
		{Dir: dir, Script: "missing.sh"},
		{Dir: filepath.Dir(dir), Script: filepath.Base(dir)},
	} {
		if err := RunScript(context.Background(), o); err == nil {
			t.Errorf("RunScript(%+v) = nil", o)
		}
	}
}

// TestRunScriptLeftBehind: a script that exits leaving a process that holds
// its output still returns, and that process is left alone.
func TestRunScriptLeftBehind(t *testing.T) {
	old := outputGrace
	outputGrace = 50 * time.Millisecond
	t.Cleanup(func() { outputGrace = old })
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	script := "sleep 300 &\necho $! > " + pidFile + "\necho started\n"
	if err := os.WriteFile(filepath.Join(dir, "daemon.sh"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	err := RunScript(context.Background(), ScriptOptions{Dir: dir, Script: "daemon.sh"})
	pid, _ := strconv.Atoi(strings.TrimSpace(readFile(t, pidFile)))
	if pid > 0 {
		defer syscall.Kill(pid, syscall.SIGKILL)
	}
	if err != nil {
		t.Fatal(err)
	}
	if !alive(pid) {
		t.Error("the process the script left was killed")
	}
}

// TestRunScriptCancelledBefore: a done context runs nothing.
func TestRunScriptCancelledBefore(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := RunScript(ctx, f.options(pai.KubesprayScript)); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if rec := f.recorded(t); len(rec) != 0 {
		t.Errorf("ran: %q", rec)
	}
}

// TestRunScriptKnownPromptsBeatIdleTimeout: with an idle timeout shorter
// than the scripts' pauses (python starting up), the idle check runs all
// the time, and still never takes a question that gets answered for one
// nobody answers.
func TestRunScriptKnownPromptsBeatIdleTimeout(t *testing.T) {
	f := newFixture(t)
	for i := range 5 {
		opts := f.options(pai.KubesprayScript, "FIXTURE_REQUIREMENT_FAIL=1")
		opts.ContinueOnRequirementFailure = true
		opts.IdleTimeout = time.Millisecond
		if err := RunScript(context.Background(), opts); err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
	}
}

// TestRunScriptClosedOutput: a script that closes its output and goes on
// working is waited for.
func TestRunScriptClosedOutput(t *testing.T) {
	dir := t.TempDir()
	done := filepath.Join(dir, "done")
	script := "echo closing\nexec >/dev/null 2>&1\nsleep 0.2\ntouch " + done + "\nexit 3\n"
	if err := os.WriteFile(filepath.Join(dir, "quiet.sh"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	err := RunScript(context.Background(), ScriptOptions{Dir: dir, Script: "quiet.sh", IdleTimeout: 10 * time.Millisecond})
	var se *ScriptError
	if !errors.As(err, &se) || se.ExitCode != 3 || !slices.Equal(se.LastLines, []string{"closing"}) {
		t.Fatalf("err = %#v", err)
	}
	if _, err := os.Stat(done); err != nil {
		t.Error("RunScript returned before the script ended")
	}
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
