// Package steps runs an install as named steps that can be stopped and
// resumed, and carries every step's progress as one type, Event.
//
// # Plans and state
//
// An install is a Plan of named Steps run in order by Run. Each step's
// outcome is recorded in a State, a directory chosen by the caller
// (paimirror's default is ~/.paimirror/install/<cluster>) that holds
// state.json and the steps' logs (State.LogPath). state.json is
//
//	{
//	  "version": 1,
//	  "steps": {
//	    "patch":     {"status": "done",   "time": "2025-01-02T03:04:05Z", "fingerprint": "sha256:…"},
//	    "kubespray": {"status": "failed", "time": "2025-01-02T03:40:00Z", "error": "quick-start-kubespray.sh: exit status 2 (full output in …)"}
//	  }
//	}
//
// written atomically (temporary file, fsync, rename) with mode 0600: the
// format and place paimirror has always used (the package was part of
// package quickstart before), so an install started by an older paimirror
// resumes. It records no inputs, only a fingerprint of them (Fingerprint:
// "sha256:" and the SHA-256 of the length-prefixed parts), and never a
// password. Run with neither Plan.Only nor Plan.From starts at the first
// step that is not done with the same fingerprint, so a rerun resumes at
// the step that failed; Only runs just the named steps, From a step and
// every one after it.
//
// # Progress and results
//
// Run reports each step as an Event: Started, then Done or Failed (with
// how long it ran), or UpToDate or NotSelected when it does not run. A
// step reports its own Status lines and Warnings through its caller, with
// the same type; a step made of steps of its own (the install's storage
// step) reports theirs with Parent set. Steps never print: what a step
// found or did (a table, a diff, per-node outcomes) is the value its Run
// returns, which Run hands on as Event.Result of its Done or Failed event
// for the command to render.
//
// # Concurrency
//
// A State is safe for concurrent use, and locks its directory against other
// processes (ErrLocked) until Close. Run runs one step at a time and calls
// its progress function from its own goroutine, one call at a time.
package steps
