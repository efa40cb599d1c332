package steps

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrUnknownStep means a step name given to Plan.Only or Plan.From is
	// not one of the plan's steps; the error lists the valid ones.
	ErrUnknownStep = errors.New("unknown step")
	// ErrLocked means another process holds the state directory: an
	// install is already running for this cluster.
	ErrLocked = errors.New("state directory is in use by another install")
)

// Error is the error Run returns when a step fails: which step, why, and
// what to do next.
type Error struct {
	// Step is the name of the step that failed.
	Step string
	// Err is the step's error.
	Err error
	// Hint is one or two sentences telling the user how to go on, for
	// printing under the error: the step error's own Hint() when it has
	// one, else how to resume. It is never empty.
	Hint string
}

// Error reads "step NAME: CAUSE".
func (e *Error) Error() string { return fmt.Sprintf("step %s: %v", e.Step, e.Err) }

// Unwrap returns the step's error.
func (e *Error) Unwrap() error { return e.Err }

// unknownStepError lists the valid step names with ErrUnknownStep.
func unknownStepError(name string, steps []Step) error {
	names := make([]string, len(steps))
	for i, s := range steps {
		names[i] = s.Name
	}
	return fmt.Errorf("%w %q (the steps are: %s)", ErrUnknownStep, name, strings.Join(names, ", "))
}
