package steps

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
	// Run does the step and returns what it found or did, for the caller
	// to render (Event.Result), or nil. It must be idempotent: a step
	// interrupted half way is run again from its start. A result returned
	// with an error is reported with the failure.
	Run func(ctx context.Context) (any, error)
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

// hinter is an error that knows what the user should do about it.
type hinter interface{ Hint() string }

// Run runs the steps of p that need running, in order, recording each one's
// outcome in s, and reports every step to progress (which may be nil; it
// is called from Run's goroutine) with N and Total set: Started, then Done
// or Failed with the step's result, or UpToDate or NotSelected. It stops at
// the first step that fails and returns an *Error; run again with the same
// plan, it resumes at that step. A step name in p.Only or p.From that is
// not in p.Steps gives an error wrapping ErrUnknownStep that lists the
// valid names; nothing runs then. A cancelled ctx stops Run before the
// next step. Run's own cost is one write of state.json per step run.
func Run(ctx context.Context, s *State, p Plan, progress func(Event)) error {
	if progress == nil {
		progress = func(Event) {}
	}
	selected, err := p.selection(s)
	if err != nil {
		return err
	}
	total := len(p.Steps)
	for i, st := range p.Steps {
		ev := Event{Step: st.Name, N: i + 1, Total: total}
		switch selected[i] {
		case skipUpToDate:
			ev.Kind = UpToDate
			progress(ev)
			continue
		case skipNotSelected:
			ev.Kind = NotSelected
			progress(ev)
			continue
		}
		if err := ctx.Err(); err != nil {
			return &Error{Step: st.Name, Err: err, Hint: resumeHint(st.Name)}
		}
		ev.Kind = Started
		progress(ev)
		start := time.Now()
		res, err := st.Run(ctx)
		ev.Elapsed, ev.Result = time.Since(start), res
		if err != nil {
			serr := &Error{Step: st.Name, Err: err, Hint: resumeHint(st.Name)}
			var h hinter
			if errors.As(err, &h) && h.Hint() != "" {
				serr.Hint = h.Hint()
			}
			if rerr := s.MarkFailed(st.Name, err); rerr != nil {
				serr.Err = errors.Join(err, rerr)
			}
			ev.Kind, ev.Err = Failed, err
			progress(ev)
			return serr
		}
		if err := s.MarkDone(st.Name, st.Fingerprint); err != nil {
			return &Error{Step: st.Name, Err: fmt.Errorf("recording step: %w", err), Hint: resumeHint(st.Name)}
		}
		ev.Kind = Done
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
	return ok && r.Status == OutcomeDone && (st.Fingerprint == "" || r.Fingerprint == st.Fingerprint)
}
