package kube

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

var (
	// ErrNotFound means the object does not exist (HTTP 404).
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists means an object of that name already exists (HTTP
	// 409, reason AlreadyExists).
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict means the object changed since it was read (HTTP 409,
	// reason Conflict).
	ErrConflict = errors.New("conflict")
	// ErrUnauthorized means the API server did not accept the kubeconfig's
	// credentials (HTTP 401).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden means the credentials were accepted but lack the
	// permission (HTTP 403).
	ErrForbidden = errors.New("forbidden")
	// ErrInvalid means the API server rejected the object as invalid (HTTP
	// 422).
	ErrInvalid = errors.New("invalid")
	// ErrKubeconfig means the kubeconfig could not be used: no current
	// context, a missing cluster or user, bad base64, an unsupported
	// authentication method.
	ErrKubeconfig = errors.New("unusable kubeconfig")
)

// configError is a kubeconfig problem; it matches ErrKubeconfig without
// repeating the word in its message.
type configError struct{ err error }

func configErr(format string, args ...any) error {
	return &configError{fmt.Errorf(format, args...)}
}

func (e *configError) Error() string        { return e.err.Error() }
func (e *configError) Unwrap() error        { return e.err }
func (e *configError) Is(target error) bool { return target == ErrKubeconfig }

// APIError is a request the Kubernetes API server answered with an error
// status. errors.Is matches it against ErrNotFound, ErrAlreadyExists,
// ErrConflict, ErrUnauthorized, ErrForbidden and ErrInvalid.
type APIError struct {
	// Code is the HTTP status code.
	Code int
	// Reason is the API's machine-readable reason ("NotFound",
	// "AlreadyExists", "Conflict", ...); derived from Code when the answer
	// was not a Status object.
	Reason string
	// Message is the API's human-readable message, for example
	// `persistentvolumes "nfs-storage-pv" not found`.
	Message string
}

// Error returns the API's message with the status code and reason.
func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = strings.ToLower(http.StatusText(e.Code))
	}
	return fmt.Sprintf("%s (%d %s)", msg, e.Code, e.Reason)
}

// Is reports whether the error is of the kind target names.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Code == http.StatusNotFound
	case ErrAlreadyExists:
		return e.Reason == "AlreadyExists"
	case ErrConflict:
		return e.Code == http.StatusConflict && e.Reason != "AlreadyExists"
	case ErrUnauthorized:
		return e.Code == http.StatusUnauthorized
	case ErrForbidden:
		return e.Code == http.StatusForbidden
	case ErrInvalid:
		return e.Code == http.StatusUnprocessableEntity
	}
	return false
}

// reasonFor is the API's reason for a status code, for answers that were not
// a Status object (a proxy's error page, a plain "Unauthorized").
func reasonFor(code int) string {
	switch code {
	case http.StatusBadRequest:
		return "BadRequest"
	case http.StatusUnauthorized:
		return "Unauthorized"
	case http.StatusForbidden:
		return "Forbidden"
	case http.StatusNotFound:
		return "NotFound"
	case http.StatusMethodNotAllowed:
		return "MethodNotAllowed"
	case http.StatusConflict:
		return "Conflict"
	case http.StatusGone:
		return "Expired"
	case http.StatusUnprocessableEntity:
		return "Invalid"
	case http.StatusTooManyRequests:
		return "TooManyRequests"
	case http.StatusInternalServerError:
		return "InternalError"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	case http.StatusGatewayTimeout:
		return "Timeout"
	}
	return "Unknown"
}

// FieldDiff is one field of an existing object that differs from what was
// asked.
type FieldDiff struct {
	// Object names the object: "persistentvolume nfs-storage-pv" or
	// "persistentvolumeclaim default/nfs-storage".
	Object string
	// Field is the field's path in the object, for example "spec.nfs.path".
	Field string
	// Have is the existing value, Want the asked one, both as text.
	Have, Want string
}

// String renders the difference as `persistentvolume x: spec.nfs.path is
// "/old", want "/data"`.
func (d FieldDiff) String() string {
	return fmt.Sprintf("%s: %s is %s, want %s", d.Object, d.Field, d.Have, d.Want)
}

// ConflictError means the persistent volume or claim EnsureNFS was asked for
// already exists with other settings; nothing was changed. Asking again with
// recreate replaces both.
type ConflictError struct {
	// Volume and Claim are the names of the persistent volume and of the
	// claim (namespace/name).
	Volume, Claim string
	// Diffs lists every field that differs, the volume's first.
	Diffs []FieldDiff
}

// Error lists the differing fields and says how to replace them.
func (e *ConflictError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "persistentvolume %s or claim %s exists with other settings: ", e.Volume, e.Claim)
	for i, d := range e.Diffs {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(d.String())
	}
	b.WriteString(" (--recreate deletes and creates both again; the data on the NFS share is kept)")
	return b.String()
}

// NotBoundError means the claim EnsureNFS created or found did not become
// Bound to its volume in time.
type NotBoundError struct {
	// Claim is the claim (namespace/name) and Volume the persistent volume it
	// should bind to.
	Claim, Volume string
	// Phase is the claim's last phase ("Pending", "Lost"); BoundTo the volume
	// it is bound to when that is another one.
	Phase, BoundTo string
	// Waited is how long EnsureNFS waited.
	Waited time.Duration
	// Events are the messages of the claim's recent events, oldest first
	// ("no persistent volumes available for this claim ...").
	Events []string
}

// Error says what the claim is doing and, when nothing reported on it at
// all, that the persistent-volume binder is probably not running.
func (e *NotBoundError) Error() string {
	var b strings.Builder
	if e.BoundTo != "" {
		fmt.Fprintf(&b, "claim %s is bound to persistentvolume %s, not %s", e.Claim, e.BoundTo, e.Volume)
		return b.String()
	}
	phase := e.Phase
	if phase == "" {
		phase = "Pending"
	}
	fmt.Fprintf(&b, "claim %s is still %s after %s, not bound to persistentvolume %s", e.Claim, phase, e.Waited.Round(time.Second), e.Volume)
	if len(e.Events) == 0 {
		b.WriteString("; no events for the claim: is kube-controller-manager running with its persistent-volume binder?")
		return b.String()
	}
	b.WriteString("; events: ")
	b.WriteString(strings.Join(e.Events, "; "))
	return b.String()
}
