package manifests

import (
	"errors"
	"strconv"
	"strings"
)

// ErrUnknownManifest is returned (wrapped) by Embedded and EmbeddedRaw for a
// name that is not built in.
var ErrUnknownManifest = errors.New("unknown built-in manifest")

// ErrUnknownGroup is returned (wrapped) by Select when include or exclude
// names a group the manifest does not declare.
var ErrUnknownGroup = errors.New("unknown group")

// FieldError is one problem found in a manifest, located as precisely as the
// source allows.
type FieldError struct {
	// Source is the manifest's file name or "embedded:NAME"; may be empty.
	Source string
	// Line is the 1-based line in Source, or 0 when unknown (for example for
	// a manifest built in Go rather than parsed).
	Line int
	// Field is the path of the offending field, e.g. "images[3].ref", or
	// empty for a problem with the document as a whole.
	Field string
	// Msg says what is wrong, in lowercase.
	Msg string
}

// Error formats the problem as "SOURCE:LINE: FIELD: MSG", leaving out the
// parts that are unknown.
func (e FieldError) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		if e.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Line))
		}
		b.WriteString(": ")
	} else if e.Line > 0 {
		b.WriteString("line ")
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// ValidationError lists every problem found in a manifest, in source order.
// Parse and Manifest.Validate return it as a *ValidationError; YAML syntax
// errors are reported through it too, with an empty Field.
type ValidationError struct {
	Errors []FieldError
}

// Error prints one problem per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Errors))
	for i, fe := range e.Errors {
		lines[i] = fe.Error()
	}
	return strings.Join(lines, "\n")
}
