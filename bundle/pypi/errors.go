package pypi

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrSyntax means a version, specifier, marker, requirement, wheel
	// filename or metadata file could not be parsed. The error is a
	// *SyntaxError.
	ErrSyntax = errors.New("syntax error")
	// ErrNotFound means the index has no project of that name.
	ErrNotFound = errors.New("no such project on the index")
	// ErrNoVersion means no release of a project satisfies its
	// requirements. The error is a *NoVersionError.
	ErrNoVersion = errors.New("no matching version")
	// ErrNoFile means a release exists but has no file the target can
	// install. The error is a *NoFileError.
	ErrNoFile = errors.New("no usable file")
	// ErrConflict means two requirers ask for versions of one project that
	// no release satisfies together. The error is a *ConflictError.
	ErrConflict = errors.New("conflicting requirements")
	// ErrDigestMismatch means downloaded bytes did not hash to the sha256
	// the index gives. The error is a *DigestError; the bytes were not kept.
	ErrDigestMismatch = errors.New("sha256 mismatch")
	// ErrUnsupported means a requirement uses something the resolver does
	// not handle (a direct URL reference) or a target is not understood.
	ErrUnsupported = errors.New("not supported")
)

// SyntaxError reports input that does not parse.
type SyntaxError struct {
	// What is being parsed: "version", "specifier", "marker",
	// "requirement", "wheel filename", "metadata".
	What string
	// Input is the text as given.
	Input string
	// Msg says what is wrong.
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s %q: %s", e.What, e.Input, e.Msg)
}

// Unwrap returns ErrSyntax.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

// NoVersionError reports a project none of whose releases satisfies the
// requirements on it.
type NoVersionError struct {
	Project string
	// Specifier is every constraint on the project, joined.
	Specifier string
	// RequiredBy names who asked ("paramiko 2.7.2", "group 2").
	RequiredBy []string
	Target     string
	// Versions are the releases the index has (newest first, at most 20).
	Versions []string
}

func (e *NoVersionError) Error() string {
	spec := e.Specifier
	if spec == "" {
		spec = "any version"
	}
	return fmt.Sprintf("%s: no release matches %s (required by %s) for %s; the index has %s",
		e.Project, spec, strings.Join(e.RequiredBy, ", "), e.Target, listOrNone(e.Versions))
}

// Unwrap returns ErrNoVersion.
func (e *NoVersionError) Unwrap() error { return ErrNoVersion }

// NoFileError reports that the releases of a project that satisfy its
// requirements have no file the target can install: every wheel is for
// another platform or Python and there is no sdist, or every file is
// yanked or excluded by Requires-Python.
type NoFileError struct {
	Project string
	// Version is the newest release that matched the requirements.
	Version string
	Target  string
	// Skipped says why each file of the matching releases was left out
	// ("FILENAME: REASON"), newest release first, at most a dozen.
	Skipped []string
}

func (e *NoFileError) Error() string {
	return fmt.Sprintf("%s %s has no file for %s (%s)", e.Project, e.Version, e.Target, listOrNone(e.Skipped))
}

// Unwrap returns ErrNoFile.
func (e *NoFileError) Unwrap() error { return ErrNoFile }

// ConflictError reports two requirements on one project that no release
// satisfies together.
type ConflictError struct {
	Project string
	Target  string
	// First is the requirement seen first, Second the one that collided
	// with it, each with who asked for it.
	First, Second Constraint
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s: %s wants %s but %s wants %s; no release of %s satisfies both for %s",
		e.Project, e.First.By, specOrAny(e.First.Specifier), e.Second.By, specOrAny(e.Second.Specifier), e.Project, e.Target)
}

// Unwrap returns ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// DigestError reports a downloaded file whose bytes do not hash to the
// sha256 the index gave for it. The bytes were discarded.
type DigestError struct {
	Filename string
	// Source is the URL the bytes came from.
	Source string
	// Want is the index's sha256, Got the downloaded bytes' (hex).
	Want, Got string
}

func (e *DigestError) Error() string {
	return fmt.Sprintf("%s from %s: content has sha256 %s, the index says %s; the bytes were discarded", e.Filename, e.Source, e.Got, e.Want)
}

// Unwrap returns ErrDigestMismatch.
func (e *DigestError) Unwrap() error { return ErrDigestMismatch }

// HTTPError is a non-success answer from an index or file host.
type HTTPError struct {
	URL    string
	Status int
}

func (e *HTTPError) Error() string { return fmt.Sprintf("GET %s: HTTP %d", e.URL, e.Status) }

func listOrNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}

func specOrAny(s string) string {
	if s == "" {
		return "any version"
	}
	return s
}
