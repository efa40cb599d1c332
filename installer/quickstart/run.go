package quickstart

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// Step is one resumable step of an install.
type Step struct {
	// Name identifies the step in state.json, Plan.Only and Plan.From.
	Name string
	// Fingerprint identifies the step's inputs (see the Fingerprint
	// function). A done step whose recorded fingerprint differs is no
	// longer done. Default "": any recorded "done" counts.
	Fingerprint string
	// Run does the step. It must be idempotent: a step interrupted half
	// way is run again from its start.
	Run func(ctx context.Context) error
}

// Plan is the ordered list of steps of an install and which of them to run.
// With neither Only nor From, Run starts at the first step that is not done
// and runs it and every step after it.
type Plan struct {
	// Steps are all the steps, in the order they must run.
	Steps []Step
	// Only, when not empty, names the steps to run, whether done or not;
	// they run in the order of Steps, whatever order they are given in.
	Only []string
	// From, when set, names the step to start at: it and every step after
	// it run, whether done or not. It cannot be combined with Only.
	From string
}

// EventKind says what happened to a step.
type EventKind string

// Kinds of StepEvent.
const (
	// EventUpToDate: the step is done with the same inputs and is skipped.
	EventUpToDate EventKind = "up-to-date"
	// EventNotSelected: Only or From leave the step out.
	EventNotSelected EventKind = "not-selected"
	// EventStarted: the step is starting.
	EventStarted EventKind = "started"
	// EventDone: the step finished and is recorded as done.
	EventDone EventKind = "done"
	// EventFailed: the step failed and is recorded as failed; Run stops.
	EventFailed EventKind = "failed"
)

// StepEvent reports progress of Run.
type StepEvent struct {
	// Step is the step's name.
	Step string
	// Index is the step's 1-based position in Plan.Steps, Total their
	// number.
	Index, Total int
	// Kind is what happened.
	Kind EventKind
	// Elapsed is how long the step ran (EventDone, EventFailed).
	Elapsed time.Duration
	// Err is the step's error (EventFailed).
	Err error
}

// hinter is an error that knows what the user should do about it.
type hinter interface{ Hint() string }

// Run runs the steps of p that need running, in order, recording each one's
// outcome in s, and reports every step to progress (which may be nil;
// it is called from Run's goroutine). It stops at the first step that
// fails and returns a *StepError; run again with the same plan, it resumes
// at that step. A step name in p.Only or p.From that is not in p.Steps gives
// an error wrapping ErrUnknownStep that lists the valid names; nothing runs
// then. A cancelled ctx stops Run before the next step.
func Run(ctx context.Context, s *State, p Plan, progress func(StepEvent)) error {
	if progress == nil {
		progress = func(StepEvent) {}
	}
	selected, err := p.selection(s)
	if err != nil {
		return err
	}
	total := len(p.Steps)
	for i, st := range p.Steps {
		ev := StepEvent{Step: st.Name, Index: i + 1, Total: total}
		switch selected[i] {
		case skipUpToDate:
			ev.Kind = EventUpToDate
			progress(ev)
			continue
		case skipNotSelected:
			ev.Kind = EventNotSelected
			progress(ev)
			continue
		}
		if err := ctx.Err(); err != nil {
			return &StepError{Step: st.Name, Err: err, Hint: resumeHint(st.Name)}
		}
		ev.Kind = EventStarted
		progress(ev)
		start := time.Now()
		err := st.Run(ctx)
		ev.Elapsed = time.Since(start)
		if err != nil {
			serr := &StepError{Step: st.Name, Err: err, Hint: resumeHint(st.Name)}
			var h hinter
			if errors.As(err, &h) && h.Hint() != "" {
				serr.Hint = h.Hint()
			}
			if rerr := s.MarkFailed(st.Name, err); rerr != nil {
				serr.Err = errors.Join(err, rerr)
			}
			ev.Kind, ev.Err = EventFailed, err
			progress(ev)
			return serr
		}
		if err := s.MarkDone(st.Name, st.Fingerprint); err != nil {
			return &StepError{Step: st.Name, Err: fmt.Errorf("recording step: %w", err), Hint: resumeHint(st.Name)}
		}
		ev.Kind = EventDone
		progress(ev)
	}
	return nil
}

// resumeHint is the hint of a step failure that has no better one.
func resumeHint(step string) string {
	return fmt.Sprintf("fix the cause and run the install again: it resumes at step %q.", step)
}

type selection int

const (
	run selection = iota
	skipUpToDate
	skipNotSelected
)

// selection decides, for each step of p, whether it runs.
func (p Plan) selection(s *State) ([]selection, error) {
	if len(p.Steps) == 0 {
		return nil, errors.New("plan has no steps")
	}
	index := make(map[string]int, len(p.Steps))
	for i, st := range p.Steps {
		if st.Name == "" {
			return nil, fmt.Errorf("plan step %d has no name", i+1)
		}
		if st.Run == nil {
			return nil, fmt.Errorf("plan step %q has no Run function", st.Name)
		}
		if _, dup := index[st.Name]; dup {
			return nil, fmt.Errorf("plan has step %q twice", st.Name)
		}
		index[st.Name] = i
	}
	if len(p.Only) > 0 && p.From != "" {
		return nil, errors.New("plan: Only and From cannot be combined")
	}
	sel := make([]selection, len(p.Steps))
	switch {
	case len(p.Only) > 0:
		for i := range sel {
			sel[i] = skipNotSelected
		}
		for _, name := range p.Only {
			i, ok := index[name]
			if !ok {
				return nil, unknownStepError(name, p.Steps)
			}
			sel[i] = run
		}
	case p.From != "":
		from, ok := index[p.From]
		if !ok {
			return nil, unknownStepError(p.From, p.Steps)
		}
		for i := range from {
			sel[i] = skipNotSelected
		}
	default:
		// Resume: everything before the first step that is not done (with
		// the same inputs) is up to date; it and all after it run, since
		// later steps build on what it does.
		first := slices.IndexFunc(p.Steps, func(st Step) bool { return !s.upToDate(st) })
		if first < 0 {
			first = len(p.Steps)
		}
		for i := range first {
			sel[i] = skipUpToDate
		}
	}
	return sel, nil
}

// upToDate reports whether st is recorded as done with its current inputs.
func (s *State) upToDate(st Step) bool {
	r, ok := s.Record(st.Name)
	return ok && r.Status == StatusDone && (st.Fingerprint == "" || r.Fingerprint == st.Fingerprint)
}
