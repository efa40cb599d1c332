package quickstart

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrRequirementCheck means pai's requirement check (requirement.sh,
	// environment-check.yml) failed and the script was told to stop at its
	// prompt, as ScriptOptions.ContinueOnRequirementFailure false asks.
	ErrRequirementCheck = errors.New("requirement check failed")
	// ErrUnansweredPrompt means the script waited for input this package has
	// no answer for, longer than ScriptOptions.IdleTimeout.
	ErrUnansweredPrompt = errors.New("script is waiting for input nobody will give")
)

// ScriptError is the error RunScript returns when a script does not
// finish successfully.
type ScriptError struct {
	// Script is the script's name as given in ScriptOptions.Script.
	Script string
	// ExitCode is the script's exit status, or -1 when it did not exit by
	// itself (killed on cancellation or at an unanswered prompt, or killed
	// by a signal).
	ExitCode int
	// Prompt is the text of the prompt the script was waiting at, when Err
	// is ErrUnansweredPrompt.
	Prompt string
	// LastLines are the last lines of the script's output (at most
	// ScriptOptions.LastLines), secrets masked.
	LastLines []string
	// LogPath is the file holding the full output, or "" without one.
	LogPath string
	// Err is the cause when there is one beyond the exit status:
	// ErrRequirementCheck, ErrUnansweredPrompt, the context's error, or the
	// error starting the script. Nil for a plain non-zero exit.
	Err error
}

// Error names the script, why it failed (the prompt it waited at, the
// cause, the exit status) and where the full output is.
func (e *ScriptError) Error() string {
	var b strings.Builder
	b.WriteString(e.Script)
	switch {
	case errors.Is(e.Err, ErrUnansweredPrompt):
		fmt.Fprintf(&b, ": %v: %q", e.Err, e.Prompt)
	case e.Err != nil && e.ExitCode >= 0:
		fmt.Fprintf(&b, ": %v: exit status %d", e.Err, e.ExitCode)
	case e.Err != nil:
		fmt.Fprintf(&b, ": %v", e.Err)
	case e.ExitCode >= 0:
		fmt.Fprintf(&b, ": exit status %d", e.ExitCode)
	default:
		b.WriteString(": killed")
	}
	if e.LogPath != "" {
		fmt.Fprintf(&b, " (full output in %s)", e.LogPath)
	}
	return b.String()
}

// Unwrap returns Err.
func (e *ScriptError) Unwrap() error { return e.Err }

// Hint tells the user what to do about the failure, in a sentence or two.
func (e *ScriptError) Hint() string {
	where := "the output above"
	if e.LogPath != "" {
		where = e.LogPath
	}
	switch {
	case errors.Is(e.Err, ErrRequirementCheck):
		return fmt.Sprintf("pai's requirement check found nodes that do not meet its requirements; "+
			"the failed TASKs in %s say which and why. Fix them and run again, or, if you are sure "+
			"the cluster is fine, run again answering \"continue\" to the check's prompt "+
			"(ScriptOptions.ContinueOnRequirementFailure).", where)
	case errors.Is(e.Err, ErrUnansweredPrompt):
		return fmt.Sprintf("%s asked a question there is no automatic answer for (%q); "+
			"see %s for what led to it, remove its cause, and run again.", e.Script, e.Prompt, where)
	case sudoNeedsPassword(e.LastLines):
		return "sudo on this machine asks for a password, and the scripts run without a terminal: " +
			"give this user passwordless sudo (a NOPASSWD rule in /etc/sudoers.d) and run again."
	case e.Err != nil && e.ExitCode < 0:
		return fmt.Sprintf("%s was stopped; run again to start it over (full output in %s).", e.Script, where)
	default:
		return fmt.Sprintf("the last lines of %s's output show what went wrong; "+
			"the full output is in %s. Fix the cause and run again.", e.Script, where)
	}
}

// sudoNeedsPassword reports whether lines hold sudo's complaint that it
// cannot ask for a password without a terminal.
func sudoNeedsPassword(lines []string) bool {
	for _, l := range lines {
		if strings.Contains(l, "sudo: a terminal is required") ||
			strings.Contains(l, "sudo: no tty present") ||
			strings.Contains(l, "sudo: a password is required") {
			return true
		}
	}
	return false
}
