package storage

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Sentinel errors. Test for them with errors.Is; they arrive wrapped in a
// *StepError.
var (
	// ErrInvalidOptions means Options asks for something Setup cannot do
	// (a relative path, a name Kubernetes or OpenPAI refuses, no admin
	// password). Nothing was changed.
	ErrInvalidOptions = errors.New("invalid options")
	// ErrNoSuchNode means the storage node is not a machine of layout.yaml.
	ErrNoSuchNode = errors.New("not a machine of layout.yaml")
	// ErrNotWorker means the storage node is the master, or not a worker:
	// storage-manager runs on workers only.
	ErrNotWorker = errors.New("not a worker")
	// ErrNotAdmin means the rest-server login is not an OpenPAI admin's, or
	// the rest-server refused a write as a non-admin's (403).
	ErrNotAdmin = errors.New("not an OpenPAI admin")
	// ErrLogin means the rest-server refused the admin's login.
	ErrLogin = errors.New("login refused")
	// ErrUnauthorized means the rest-server did not accept the token (401).
	ErrUnauthorized = errors.New("token not accepted")
	// ErrNoGroup means an OpenPAI group to grant the storage to does not
	// exist (the rest-server's 400 NoGroupError).
	ErrNoGroup = errors.New("no such group")
	// ErrNoDevBox means the dev-box container is not running and Setup was
	// not told how to start it.
	ErrNoDevBox = errors.New("dev-box container not running")
	// ErrClusterID means paictl's cluster-id could not be found out.
	ErrClusterID = errors.New("cluster-id unknown")
	// ErrEdit means a YAML file has a shape Setup does not edit
	// automatically; the error says which line, and the file is untouched.
	ErrEdit = errors.New("cannot edit automatically")
)

// StepError is the error Setup returns: which of its steps failed, why,
// and what to do about it. Nothing after Step ran; the steps before it are
// done and a rerun finds them so.
type StepError struct {
	// Step is the failed step's name (StepCheck ... StepInstructions).
	Step string
	// Err is what went wrong.
	Err error
	// Hint says what to do, in a sentence for people; may be empty.
	Hint string
}

// Error names the step and says what went wrong (not the hint).
func (e *StepError) Error() string {
	return fmt.Sprintf("storage step %d (%s): %v", stepNumber(e.Step), e.Step, e.Err)
}

// Unwrap returns the underlying error.
func (e *StepError) Unwrap() error { return e.Err }

// MissingPackageError lists the workers that lack a package every worker
// needs (nfs-common: the kubelet mounts NFS volumes with it), and the
// workers that could not be checked.
type MissingPackageError struct {
	// Package is the Debian package, "nfs-common".
	Package string
	// Missing lists the hostnames of the workers without it.
	Missing []string
	// Unchecked maps hostnames of workers that could not be asked (SSH
	// failed, dpkg-query failed) to why.
	Unchecked map[string]error
}

// Error lists the workers.
func (e *MissingPackageError) Error() string {
	var parts []string
	if len(e.Missing) > 0 {
		parts = append(parts, fmt.Sprintf("%s is not installed on %s", e.Package, strings.Join(e.Missing, ", ")))
	}
	if len(e.Unchecked) > 0 {
		names := make([]string, 0, len(e.Unchecked))
		for n := range e.Unchecked {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			parts = append(parts, fmt.Sprintf("cannot check %s on %s: %v", e.Package, n, e.Unchecked[n]))
		}
	}
	return strings.Join(parts, "; ")
}

// RestError is a request the rest-server answered with an error: its HTTP
// status and OpenPAI's error code and message ({"code","message"}).
type RestError struct {
	// Method and Path are the request's, for example "PUT /api/v2/groups".
	Method, Path string
	// Status is the HTTP status code.
	Status int
	// Code is OpenPAI's error code (NoGroupError, ForbiddenUserError,
	// InvalidParametersError, ...); empty when the body was not OpenPAI's.
	Code string
	// Message is OpenPAI's message, or the start of the body.
	Message string
	// Kind is the sentinel the answer means (ErrNoGroup, ErrNotAdmin,
	// ErrUnauthorized, ErrLogin), or nil.
	Kind error
}

// Error says what the rest-server answered.
func (e *RestError) Error() string {
	s := fmt.Sprintf("rest-server answered %s %s with %d", e.Method, e.Path, e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Message != "" {
		s += ": " + e.Message
	}
	return s
}

// Unwrap returns the sentinel the answer means, if any.
func (e *RestError) Unwrap() error { return e.Kind }

// PaictlError is a paictl command that failed in the dev-box container,
// with the last lines it printed.
type PaictlError struct {
	// Args is the command as run in the container (never holds a secret).
	Args []string
	// Err is the failure (an *exec.ExitError from docker, typically).
	Err error
	// LastLines are the command's last lines of output.
	LastLines []string
}

// Error names the command and shows its last lines.
func (e *PaictlError) Error() string {
	s := fmt.Sprintf("%s: %v", strings.Join(e.Args, " "), e.Err)
	if len(e.LastLines) > 0 {
		s += "; last lines:\n  " + strings.Join(e.LastLines, "\n  ")
	}
	return s
}

// Unwrap returns the underlying error.
func (e *PaictlError) Unwrap() error { return e.Err }
