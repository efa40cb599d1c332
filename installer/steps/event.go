package steps

import "time"

// Kind says what an Event reports.
type Kind string

// Kinds of Event.
const (
	// Started: the step is starting (Text, when set, says what it does).
	Started Kind = "started"
	// Status: what a running step is doing now, in one line (Text): the
	// current ansible play or task, a check under way.
	Status Kind = "status"
	// Done: the step finished well. Elapsed is how long it ran, Changed
	// whether it changed anything (when the step knows), Text what it did
	// or found, Result its data.
	Done Kind = "done"
	// Failed: the step failed with Err; Result is what it found before
	// failing, when anything. Run records it and stops.
	Failed Kind = "failed"
	// UpToDate: the step is done with the same inputs and is skipped.
	UpToDate Kind = "up-to-date"
	// NotSelected: Plan.Only or Plan.From leave the step out.
	NotSelected Kind = "not-selected"
	// Warning: something that will fail or go wrong later, in one sentence
	// with what to do (Text, without a "warning:" prefix). Run never
	// reports one; steps do, through their caller's progress function.
	Warning Kind = "warning"
)

// Event is one piece of a step's progress: the install's steps (Run), the
// storage step's own steps, the quick-start scripts' status lines. It
// holds plain values only.
type Event struct {
	// Step is the step's name.
	Step string
	// Parent is the step this one is part of, for the steps of a step
	// (storage's check ... instructions inside the install's storage
	// step); "" for a step of the plan.
	Parent string
	// N is the step's 1-based position among its Total siblings; both 0
	// for an event outside a numbered sequence.
	N, Total int
	// Kind is what happened.
	Kind Kind
	// Changed is set on Done when the step changed something.
	Changed bool
	// Text is the step's title (Started), its status line (Status), what
	// it did or found (Done) or the warning (Warning); "" when there is
	// nothing to say.
	Text string
	// Elapsed is how long the step ran (Done and Failed from Run).
	Elapsed time.Duration
	// Err is the step's error (Failed).
	Err error
	// Result is the value the step's Run returned (Done and Failed): what
	// it found or did, for the caller to render; nil when it has nothing
	// to show. Its type is the step's (see the step's documentation).
	Result any
}
