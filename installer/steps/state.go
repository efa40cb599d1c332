package steps

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/paimirror/paimirror/manifests/atomicfile"
)

// StateFile is the name of the step record inside a state directory.
const StateFile = "state.json"

// lockFile is the file OpenState holds an exclusive flock on.
const lockFile = "lock"

// stateVersion is the version of state.json this package writes.
const stateVersion = 1

// maxErrorLen bounds the error text recorded for a failed step.
const maxErrorLen = 500

// Outcome is the recorded outcome of a step.
type Outcome string

// Outcomes recorded in state.json.
const (
	OutcomeDone   Outcome = "done"
	OutcomeFailed Outcome = "failed"
)

// Record is what state.json records about one step.
type Record struct {
	// Status is the step's last outcome.
	Status Outcome `json:"status"`
	// Time is when the step last finished or failed (UTC).
	Time time.Time `json:"time"`
	// Fingerprint is the fingerprint of the step's inputs when it was last
	// done (empty for a failed step, or when the caller gave none).
	Fingerprint string `json:"fingerprint,omitempty"`
	// Error is the first line of the error a failed step returned.
	Error string `json:"error,omitempty"`
}

// stateData is the JSON form of state.json.
type stateData struct {
	Version int               `json:"version"`
	Steps   map[string]Record `json:"steps"`
}

// State is an install's state directory: state.json, which records each
// step's outcome, and the step logs the caller puts next to it (LogPath).
// A State holds an exclusive lock on the directory until Close, so two
// installs of one cluster cannot run at once. Its methods are safe for
// concurrent use.
type State struct {
	dir  string
	lock *os.File

	mu   sync.Mutex
	data stateData
}

// OpenState opens the state directory dir, creating it (mode 0700) when it
// does not exist, reads its state.json if there is one and locks the
// directory. The caller chooses dir; the installer's default is
// ~/.paimirror/install/<cluster>. It returns an error wrapping ErrLocked
// when another State holds the directory.
func OpenState(dir string) (*State, error) {
	if dir == "" {
		return nil, errors.New("opening state: no directory given")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating state directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening state lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dir, ErrLocked)
		}
		return nil, fmt.Errorf("locking %s: %w", dir, err)
	}
	s := &State{dir: dir, lock: lock, data: stateData{Version: stateVersion, Steps: map[string]Record{}}}
	b, err := os.ReadFile(filepath.Join(dir, StateFile))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return s, nil
	case err != nil:
		s.Close()
		return nil, fmt.Errorf("reading state: %w", err)
	}
	if err := json.Unmarshal(b, &s.data); err != nil {
		s.Close()
		return nil, fmt.Errorf("reading %s: %w (remove it to start the install over)", filepath.Join(dir, StateFile), err)
	}
	if s.data.Version > stateVersion {
		s.Close()
		return nil, fmt.Errorf("reading %s: version %d was written by a newer paimirror", filepath.Join(dir, StateFile), s.data.Version)
	}
	if s.data.Steps == nil {
		s.data.Steps = map[string]Record{}
	}
	return s, nil
}

// Close releases the directory's lock. The State must not be used after.
func (s *State) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock == nil {
		return nil
	}
	err := s.lock.Close() // closing the descriptor drops the flock
	s.lock = nil
	return err
}

// Dir returns the state directory.
func (s *State) Dir() string { return s.dir }

// LogPath returns the path of the log file for name inside the state
// directory: "<dir>/<name>.log".
func (s *State) LogPath(name string) string { return filepath.Join(s.dir, name+".log") }

// Done reports whether step is recorded as done.
func (s *State) Done(step string) bool {
	r, ok := s.Record(step)
	return ok && r.Status == OutcomeDone
}

// Record returns what is recorded about step, and whether anything is.
func (s *State) Record(step string) (Record, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.data.Steps[step]
	return r, ok
}

// MarkDone records step as done with the fingerprint of its inputs (see
// Fingerprint; "" when the step has none) and saves state.json.
func (s *State) MarkDone(step, fingerprint string) error {
	return s.update(func(d *stateData) {
		d.Steps[step] = Record{Status: OutcomeDone, Time: now(), Fingerprint: fingerprint}
	})
}

// MarkFailed records step as failed with the first line of err (at most
// 500 bytes) and saves state.json. Errors from this package never carry
// secrets; callers recording their own errors must keep it that way.
func (s *State) MarkFailed(step string, err error) error {
	msg := "unknown error"
	if err != nil {
		msg = err.Error()
	}
	msg, _, _ = strings.Cut(msg, "\n")
	if len(msg) > maxErrorLen {
		msg = msg[:maxErrorLen] + "…"
	}
	return s.update(func(d *stateData) {
		d.Steps[step] = Record{Status: OutcomeFailed, Time: now(), Error: msg}
	})
}

// Reset forgets the given steps, or every step when none is given, so the
// next Run does them again, and saves state.json.
func (s *State) Reset(steps ...string) error {
	return s.update(func(d *stateData) {
		if len(steps) == 0 {
			clear(d.Steps)
		}
		for _, st := range steps {
			delete(d.Steps, st)
		}
	})
}

// update applies f to the records and writes state.json atomically; on a
// write error the records in memory are left as they were.
func (s *State) update(f func(*stateData)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lock == nil {
		return errors.New("saving state: state is closed")
	}
	next := stateData{Version: stateVersion, Steps: make(map[string]Record, len(s.data.Steps)+1)}
	for k, v := range s.data.Steps {
		next.Steps[k] = v
	}
	f(&next)
	b, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(s.dir, StateFile), append(b, '\n'), 0o600); err != nil {
		return fmt.Errorf("saving state: %w", err)
	}
	s.data = next
	return nil
}

// Fingerprint returns a fingerprint of a step's inputs for MarkDone and
// Step.Fingerprint: "sha256:" and the hex SHA-256 of the parts, each
// length-prefixed so that ("ab", "c") and ("a", "bc") differ. Parts are
// given in a fixed order. Never pass a password or a file holding one: the
// fingerprint is stored in state.json, and a hash of a short secret can be
// guessed.
func Fingerprint(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:", len(p))
		h.Write([]byte(p))
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// now is the clock of state records, in UTC, to the second.
func now() time.Time { return time.Now().UTC().Truncate(time.Second) }
