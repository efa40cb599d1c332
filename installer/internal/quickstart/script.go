package quickstart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Defaults of ScriptOptions.
const (
	DefaultIdleTimeout = 2 * time.Minute
	DefaultKillGrace   = 10 * time.Second
	DefaultLastLines   = 20
)

// outputGrace is how long RunScript keeps reading output after the script
// exits, for processes it left behind that still hold the output pipe (a
// variable for tests).
var outputGrace = 2 * time.Second

// Phases of a Status.
const (
	// PhasePlay: ansible started a play ("PLAY [name] ***").
	PhasePlay = "PLAY"
	// PhaseTask: ansible started a task or handler ("TASK [role : name] ***").
	PhaseTask = "TASK"
	// PhaseScript: the script announced a step ("Checking requirements...").
	PhaseScript = "script"
	// PhasePrompt: RunScript answered one of the script's prompts.
	PhasePrompt = "prompt"
)

// Status is where a running script is, for a one-line live display.
type Status struct {
	// Script is ScriptOptions.Script.
	Script string
	// Phase is PhasePlay, PhaseTask, PhaseScript or PhasePrompt.
	Phase string
	// Text is the play's, task's or step's name; for PhasePrompt, the
	// prompt and the answer given.
	Text string
	// Line is the line of output the status comes from, secrets masked.
	Line string
}

// String renders s as one status line.
func (s Status) String() string {
	switch s.Phase {
	case PhasePlay, PhaseTask:
		return fmt.Sprintf("%s: %s [%s]", s.Script, s.Phase, s.Text)
	default:
		return fmt.Sprintf("%s: %s", s.Script, s.Text)
	}
}

// ScriptOptions configure RunScript. Dir and Script are required; the zero
// value of every other field works.
type ScriptOptions struct {
	// Dir is the directory the script runs in and is found in: the pai
	// tree's contrib/kubespray.
	Dir string
	// Script is the script's file name in Dir, pai.KubesprayScript or
	// pai.ServiceScript. It is run as `bash Script Args...`.
	Script string
	// Args are the script's arguments. Default none.
	Args []string
	// Env is added to paimirror's own environment (a later entry wins).
	// PYTHONUNBUFFERED=1 is set unless Env sets it, so python and ansible
	// output arrives line by line. Values of variables whose names contain
	// PASS, SECRET, TOKEN, CREDENTIAL or PRIVATE are masked like Secrets.
	Env []string
	// Secrets are strings masked as "********" in the log, errors and
	// progress (those shorter than 4 bytes are not). Default none.
	Secrets []string
	// LogPath is the file the script's full output (stdout and stderr, as
	// a terminal would show them, with the answers given to prompts) is
	// appended to, after a header line; it is created with mode 0600.
	// Default "": no log file.
	LogPath string
	// ContinueOnRequirementFailure answers "continue" to the prompt
	// quick-start-kubespray.sh shows when pai's requirement check fails.
	// Default false: ENTER, which stops the script; RunScript then returns
	// an error wrapping ErrRequirementCheck.
	ContinueOnRequirementFailure bool
	// IdleTimeout is how long the script may wait for input it gets no
	// answer to before it is stopped with ErrUnansweredPrompt: no output
	// for that long while one of its processes is blocked reading stdin.
	// A script that is quiet but not reading stdin is never stopped.
	// Default DefaultIdleTimeout.
	IdleTimeout time.Duration
	// KillGrace is how long the script's processes get between SIGTERM and
	// SIGKILL when it is stopped. Default DefaultKillGrace.
	KillGrace time.Duration
	// LastLines is how many lines of output a ScriptError keeps. Default
	// DefaultLastLines.
	LastLines int
	// Progress is called with each play, task and step the script starts
	// and each prompt answered, from RunScript's goroutine, one call at a
	// time; it should return quickly. Default nil: no progress.
	Progress func(Status)
	// Logger gets what RunScript does (start, answers, stop), never the
	// script's output. Default: discard.
	Logger *slog.Logger
}

// RunScript runs a quick-start script of pai's contrib/kubespray as the
// seed guide does and returns when it ends: nil when it exits 0, else a
// *ScriptError with the exit status, the last lines of output and the log's
// path.
//
// The script runs in its own session (so its own process group) with no
// controlling terminal, stdin and stdout/stderr pipes. Prompts are answered
// by watching the output: AzurePrompt gets "N", RequirementPrompt gets ENTER,
// or "continue" with ContinueOnRequirementFailure. Any other wait for input
// is stopped after IdleTimeout (see ScriptOptions.IdleTimeout). When ctx is
// done, every process of the script's session gets SIGTERM, then SIGKILL
// after KillGrace, and RunScript returns once they are gone, with an error
// wrapping ctx's.
func RunScript(ctx context.Context, opts ScriptOptions) error {
	o, err := opts.withDefaults()
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return &ScriptError{Script: o.Script, ExitCode: -1, Err: err}
	}
	r := &scriptRun{
		opts:    o,
		log:     o.Logger,
		ring:    newRing(o.LastLines),
		answers: map[string]int{},
	}
	sec := secrets(o.Secrets, o.Env)
	r.mask = newMasker(sec)
	var logFile *os.File
	if o.LogPath != "" {
		if err := os.MkdirAll(filepath.Dir(o.LogPath), 0o700); err != nil {
			return fmt.Errorf("creating log directory: %w", err)
		}
		logFile, err = os.OpenFile(o.LogPath, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("opening script log: %w", err)
		}
		defer logFile.Close()
		r.out = newRedactor(logFile, sec)
	} else {
		r.out = newRedactor(io.Discard, nil)
	}
	r.note("%s: bash %s in %s", time.Now().Format(time.RFC3339), r.mask.String(strings.Join(append([]string{o.Script}, o.Args...), " ")), o.Dir)

	res := r.run(ctx)
	r.finish(res)
	if logFile != nil {
		if err := logFile.Close(); err != nil && res.err == nil && res.exitCode == 0 {
			return fmt.Errorf("closing script log: %w", err)
		}
	}
	return r.result(res)
}

// withDefaults validates o and fills in its defaults.
func (o ScriptOptions) withDefaults() (ScriptOptions, error) {
	if o.Dir == "" || o.Script == "" {
		return o, errors.New("running script: ScriptOptions.Dir and Script are required")
	}
	if fi, err := os.Stat(filepath.Join(o.Dir, o.Script)); err != nil {
		return o, fmt.Errorf("running script: %w", err)
	} else if !fi.Mode().IsRegular() {
		return o, fmt.Errorf("running script: %s is not a file", filepath.Join(o.Dir, o.Script))
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.KillGrace <= 0 {
		o.KillGrace = DefaultKillGrace
	}
	if o.LastLines <= 0 {
		o.LastLines = DefaultLastLines
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

// scriptRun is the state of one RunScript; only RunScript's goroutine
// touches it.
type scriptRun struct {
	opts ScriptOptions
	log  *slog.Logger
	mask masker
	out  *redactor // the log file
	ring *ring

	stdin *os.File

	partial            []byte // the unfinished line of output
	partialCut         bool   // partial reached maxLineBytes; the rest is dropped
	partialAnswered    bool   // a prompt on the unfinished line was answered
	lastLine           string // the last finished line, masked
	answers            map[string]int
	requirementStopped bool // the requirement prompt was answered with ENTER
	logErr             error
}

// outcome is how the script ended.
type outcome struct {
	exitCode int
	signal   string
	err      error  // ctx's error, ErrUnansweredPrompt or a start error
	prompt   string // the unanswered prompt
	elapsed  time.Duration
}

// run starts the script and drives it to its end.
func (r *scriptRun) run(ctx context.Context) outcome {
	o := r.opts
	start := time.Now()
	stdinR, stdinW, err := os.Pipe()
	if err != nil {
		return outcome{exitCode: -1, err: fmt.Errorf("creating stdin pipe: %w", err)}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		stdinR.Close()
		stdinW.Close()
		return outcome{exitCode: -1, err: fmt.Errorf("creating output pipe: %w", err)}
	}
	stdinIno := inode(stdinR)

	cmd := exec.Command("bash", append([]string{o.Script}, o.Args...)...)
	cmd.Dir = o.Dir
	cmd.Env = append(append(os.Environ(), "PYTHONUNBUFFERED=1"), o.Env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdinR, outW, outW
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	stdinR.Close()
	outW.Close()
	defer stdinW.Close()
	if err != nil {
		outR.Close()
		return outcome{exitCode: -1, err: fmt.Errorf("starting bash: %w", err)}
	}
	r.stdin = stdinW
	sid := cmd.Process.Pid
	r.log.Info("script started", "script", o.Script, "args", r.mask.String(strings.Join(o.Args, " ")),
		"dir", o.Dir, "pid", sid, "env", envNames(o.Env), "log", o.LogPath)
	r.status(Status{Phase: PhaseScript, Text: "starting"})

	// One goroutine reads the output and does everything else between
	// reads, woken by read deadlines: at the ticks, when the script exits
	// and when ctx is done. So when it looks for a script waiting for input,
	// every byte of output read so far has been handled.
	defer outR.Close()
	wake := func() { outR.SetReadDeadline(time.Unix(1, 0)) }
	exited := make(chan *os.ProcessState, 1)
	go func() {
		cmd.Wait() // the exit status is in ProcessState
		exited <- cmd.ProcessState
		wake()
	}()
	defer context.AfterFunc(ctx, wake)()

	tick := min(max(o.IdleTimeout/4, 5*time.Millisecond), time.Second)
	var (
		res        = outcome{exitCode: -1}
		ps         *os.ProcessState
		eof        bool
		stopping   bool
		killAt     time.Time // SIGKILL then, when stopping
		graceAt    time.Time // stop reading then, after the exit
		nextTick   = time.Now().Add(tick)
		lastOutput = time.Now()
		quiet      bool // no output since the last tick
		buf        = make([]byte, 32<<10)
	)
	stop := func(cause error, prompt string) {
		res.err, res.prompt, stopping = cause, prompt, true
		signalSession(sid, syscall.SIGTERM)
		killAt = time.Now().Add(o.KillGrace)
	}
	onExit := func() {
		if stopping {
			// The rest of the session gets what is left of KillGrace to
			// end, then SIGKILL.
			if !waitSessionGone(sid, time.Until(killAt)) {
				r.log.Warn("script's processes ignored SIGTERM; killing them", "script", o.Script, "pid", sid)
				signalSession(sid, syscall.SIGKILL)
				waitSessionGone(sid, o.KillGrace)
			}
		}
		graceAt = time.Now().Add(outputGrace)
	}
	read := func(deadline time.Time) {
		outR.SetReadDeadline(deadline)
		// A wake-up that came before this deadline was set is lost: look
		// again at what it was for.
		if (!stopping && ctx.Err() != nil) || (ps == nil && len(exited) > 0) {
			return
		}
		n, err := outR.Read(buf)
		if n > 0 {
			r.output(buf[:n])
			lastOutput, quiet = time.Now(), false
		}
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			eof = true // io.EOF: every holder of the output pipe closed it
		}
	}
	for {
		if !stopping && ctx.Err() != nil {
			r.log.Info("stopping script", "script", o.Script, "reason", ctx.Err())
			r.note("stopping the script: %v", ctx.Err())
			stop(ctx.Err(), "")
		}
		if ps == nil {
			select {
			case ps = <-exited:
				onExit()
			default:
			}
		}
		now := time.Now()
		if ps != nil && (eof || !now.Before(graceAt)) {
			if !eof {
				r.log.Info("script exited; not waiting for the output of processes it left", "script", o.Script)
			}
			break
		}
		if ps == nil && stopping && !killAt.IsZero() && !now.Before(killAt) {
			r.log.Warn("script ignored SIGTERM; killing it", "script", o.Script, "pid", sid)
			signalSession(sid, syscall.SIGKILL)
			killAt = time.Time{}
		}
		if !now.Before(nextTick) {
			nextTick = now.Add(tick)
			if quiet {
				r.flushLog()
			}
			quiet = true
			if ps == nil && !stopping && now.Sub(lastOutput) >= o.IdleTimeout {
				if prompt, waiting := r.waitingForInput(sid, stdinIno); waiting {
					// The process asked before it blocked: its question is
					// handled by now, unless it is still in the pipe.
					n, err := readNow(outR, buf)
					if n > 0 {
						r.output(buf[:n])
						lastOutput, quiet = time.Now(), false
						continue
					}
					if err != nil {
						eof = true
						continue
					}
					r.log.Warn("script waits for input with no answer; stopping it", "script", o.Script, "prompt", prompt)
					r.note("no answer to the prompt %q after %v; stopping the script", prompt, o.IdleTimeout)
					stop(ErrUnansweredPrompt, prompt)
				}
			}
		}
		wakeAt := nextTick
		for _, t := range []time.Time{killAt, graceAt} {
			if !t.IsZero() && t.Before(wakeAt) {
				wakeAt = t
			}
		}
		if !eof {
			read(wakeAt)
			continue
		}
		// The output is closed but the script runs on.
		var done <-chan struct{}
		if !stopping {
			done = ctx.Done()
		}
		t := time.NewTimer(time.Until(wakeAt))
		select {
		case ps = <-exited:
			onExit()
		case <-done:
		case <-t.C:
		}
		t.Stop()
	}
	res.elapsed = time.Since(start)
	if ps != nil && res.err == nil {
		res.exitCode = ps.ExitCode()
		if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			res.signal = ws.Signal().String()
		}
	}
	return res
}

// output handles a chunk of the script's output.
func (r *scriptRun) output(p []byte) {
	r.feed(p)
	if len(r.partial) > 0 && !r.partialAnswered {
		if pr := findPrompt(cleanLine(r.partial), true); pr != nil {
			r.answer(pr, cleanLine(r.partial))
		}
	}
}

// feed writes p to the log and splits it into lines.
func (r *scriptRun) feed(p []byte) {
	if _, err := r.out.Write(p); err != nil && r.logErr == nil {
		r.logErr = err
		r.log.Warn("writing script log", "path", r.opts.LogPath, "err", err)
	}
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			r.appendPartial(p)
			return
		}
		r.appendPartial(p[:i])
		r.endLine()
		p = p[i+1:]
	}
}

func (r *scriptRun) appendPartial(p []byte) {
	if r.partialCut {
		return
	}
	r.partial = append(r.partial, p...)
	if len(r.partial) > maxLineBytes {
		if i := bytes.LastIndexByte(r.partial, '\r'); i > 0 {
			r.partial = append(r.partial[:0], r.partial[i:]...)
		}
		if len(r.partial) > maxLineBytes {
			r.partial, r.partialCut = r.partial[:maxLineBytes], true
		}
	}
}

// endLine finishes the current line.
func (r *scriptRun) endLine() {
	line := cleanLine(r.partial)
	answered := r.partialAnswered
	r.partial, r.partialCut, r.partialAnswered = r.partial[:0], false, false
	shown := r.mask.String(line)
	r.ring.add(shown)
	r.lastLine = shown
	if st, ok := parseStatus(line); ok {
		st.Text, st.Line = r.mask.String(st.Text), shown
		r.status(st)
	}
	if !answered {
		if pr := findPrompt(line, false); pr != nil {
			r.answer(pr, line)
		}
	}
}

// answer writes pr's answer to the script's stdin and echoes it into the
// output, as a terminal would.
func (r *scriptRun) answer(pr *prompt, text string) {
	r.answers[pr.name]++
	if r.answers[pr.name] > maxAnswers {
		r.log.Warn("prompt keeps coming back; not answering it again", "prompt", r.mask.String(text))
		if pr.partial {
			r.partialAnswered = true
		}
		return
	}
	ans := pr.answer(r.opts)
	shown := strings.TrimSuffix(ans, "\n")
	if _, err := io.WriteString(r.stdin, ans); err != nil {
		r.log.Warn("answering prompt", "prompt", r.mask.String(text), "err", err)
		return
	}
	if pr.name == "requirement" {
		if r.opts.ContinueOnRequirementFailure {
			r.log.Warn("requirement check failed; continuing as asked", "script", r.opts.Script)
		} else {
			r.requirementStopped = true
			r.log.Warn("requirement check failed; stopping the script", "script", r.opts.Script)
		}
	}
	r.log.Info("answered prompt", "script", r.opts.Script, "prompt", r.mask.String(text), "answer", shown)
	r.status(Status{Phase: PhasePrompt, Text: fmt.Sprintf("answered %q to %q", shown, r.mask.String(text)), Line: r.mask.String(text)})
	if pr.partial {
		r.partialAnswered = true
	}
	r.feed([]byte(ans))
}

// waitingForInput reports whether the script waits for input: one of its
// processes is blocked reading its stdin (or, where that cannot be seen,
// the unfinished line looks like a question), and the prompt it shows.
func (r *scriptRun) waitingForInput(sid int, stdinIno uint64) (string, bool) {
	prompt := strings.TrimSpace(r.mask.String(cleanLine(r.partial)))
	waiting, err := readingStdin(sid, stdinIno)
	if err != nil {
		waiting = looksLikePrompt(prompt)
	}
	if !waiting {
		return "", false
	}
	if prompt == "" {
		prompt = strings.TrimSpace(r.lastLine)
	}
	return prompt, true
}

func (r *scriptRun) status(st Status) {
	if r.opts.Progress != nil {
		st.Script = r.opts.Script
		r.opts.Progress(st)
	}
}

// note writes a line of paimirror's own into the log, marked "=== paimirror".
func (r *scriptRun) note(format string, args ...any) {
	r.flushLog()
	var nl string
	if len(r.partial) > 0 {
		nl = "\n"
	}
	fmt.Fprintf(r.out.w, "%s=== paimirror: %s\n", nl, fmt.Sprintf(format, args...))
}

func (r *scriptRun) flushLog() {
	if err := r.out.Flush(); err != nil && r.logErr == nil {
		r.logErr = err
		r.log.Warn("writing script log", "path", r.opts.LogPath, "err", err)
	}
}

// finish records the unfinished last line and the outcome in the log.
func (r *scriptRun) finish(res outcome) {
	if len(r.partial) > 0 {
		line := r.mask.String(cleanLine(r.partial))
		r.ring.add(line)
		r.lastLine = line
	}
	switch {
	case res.err != nil:
		r.note("%s ended after %v: %v", r.opts.Script, res.elapsed.Round(time.Second), res.err)
	case res.signal != "":
		r.note("%s killed by signal %s after %v", r.opts.Script, res.signal, res.elapsed.Round(time.Second))
	default:
		r.note("%s exited with status %d after %v", r.opts.Script, res.exitCode, res.elapsed.Round(time.Second))
	}
	r.log.Info("script ended", "script", r.opts.Script, "exit", res.exitCode, "elapsed", res.elapsed, "err", res.err)
}

// result turns the outcome into RunScript's error.
func (r *scriptRun) result(res outcome) error {
	if res.err == nil && res.exitCode == 0 {
		return nil
	}
	e := &ScriptError{
		Script:    r.opts.Script,
		ExitCode:  res.exitCode,
		Prompt:    res.prompt,
		LastLines: r.ring.last(),
		LogPath:   r.opts.LogPath,
		Err:       res.err,
	}
	switch {
	case res.err != nil:
	case res.signal != "":
		e.Err = fmt.Errorf("killed by signal %s", res.signal)
	case r.requirementStopped:
		e.Err = ErrRequirementCheck
	}
	return e
}

// readNow reads what f holds without waiting: 0 and no error when it holds
// nothing, io.EOF when it is closed. (A read deadline cannot do this: one
// that has passed by the time Read runs fails without reading.)
func readNow(f *os.File, buf []byte) (int, error) {
	f.SetReadDeadline(time.Time{})
	rc, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var n int
	var rerr error
	if err := rc.Read(func(fd uintptr) bool {
		n, rerr = syscall.Read(int(fd), buf)
		return true // never wait
	}); err != nil {
		return 0, err
	}
	switch {
	case errors.Is(rerr, syscall.EAGAIN):
		return 0, nil
	case rerr != nil:
		return 0, rerr
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// inode returns the inode number of f ("pipe:[N]" in /proc/PID/fd).
func inode(f *os.File) uint64 {
	fi, err := f.Stat()
	if err != nil {
		return 0
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Ino)
	}
	return 0
}

// envNames returns the names of the variables in env, for logging
// without values.
func envNames(env []string) []string {
	names := make([]string, 0, len(env))
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		names = append(names, k)
	}
	return names
}
