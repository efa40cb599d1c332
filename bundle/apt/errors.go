package apt

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrSyntax means a control file, version or relation could not be
	// parsed. The error is a *SyntaxError.
	ErrSyntax = errors.New("syntax error")
	// ErrSignature means a Release file's signature is missing, bad or made
	// by a key other than the pinned one. The error is a *SignatureError.
	ErrSignature = errors.New("bad signature")
	// ErrKey means the pinned key's bytes do not hold a key with the pinned
	// fingerprint, or cannot be read.
	ErrKey = errors.New("unusable signing key")
	// ErrChecksum means bytes do not match the size or sha256 a Release file
	// or a Packages index gives for them. The error is a *ChecksumError;
	// the bytes were not kept.
	ErrChecksum = errors.New("checksum mismatch")
	// ErrNotListed means a Release file does not list an index asked for,
	// or lists it without a sha256.
	ErrNotListed = errors.New("not listed in the release file")
	// ErrMissing means a dependency cannot be satisfied by any package of
	// the indexes. The error is a *MissingError.
	ErrMissing = errors.New("unsatisfiable dependency")
	// ErrConflict means two version constraints on one package admit no
	// version together. The error is a *ConflictError.
	ErrConflict = errors.New("conflicting version constraints")
	// ErrUnsupported means input uses something this package does not
	// handle: an index compressed with lzma, zstd or lz4 that has no
	// variant in a compression it reads (gzip, xz, bzip2 or none).
	ErrUnsupported = errors.New("not supported")
	// ErrTooLarge means a compressed index decompresses to more bytes than
	// the limit (FetchOptions.MaxIndexSize, DefaultMaxIndexSize), or a
	// signed metadata file is larger than it.
	ErrTooLarge = errors.New("too large")
	// ErrSourcesLine means a sources line cannot be written as asked: a
	// word is empty or holds what would change the line's meaning (see
	// SourcesLine).
	ErrSourcesLine = errors.New("bad sources line")
)

// SyntaxError reports input that does not parse.
type SyntaxError struct {
	// What is being parsed: "control file", "version", "relation",
	// "release file".
	What string
	// Input is the text as given (cut to 200 bytes).
	Input string
	// Msg says what is wrong.
	Msg string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("%s %q: %s", e.What, e.Input, e.Msg)
}

// Unwrap returns ErrSyntax.
func (e *SyntaxError) Unwrap() error { return ErrSyntax }

func syntaxError(what, input, msg string) error {
	if len(input) > 200 {
		input = input[:200] + "..."
	}
	return &SyntaxError{What: what, Input: input, Msg: msg}
}

// SignatureError reports a repository whose Release file could not be
// verified against the pinned key.
type SignatureError struct {
	// Repository names the repository ("http://deb.debian.org/debian bookworm").
	Repository string
	// File is the file whose signature was checked: "InRelease" or
	// "Release.gpg".
	File string
	// Want is the pinned key's fingerprint (uppercase hex).
	Want string
	// Found lists the issuers the signature names: fingerprints (40 hex
	// digits) where the signature carries them, long key IDs (16) where
	// not; empty when there is no readable signature.
	Found []string
	// Err is the underlying cause.
	Err error
}

func (e *SignatureError) Error() string {
	found := "no signature"
	if len(e.Found) > 0 {
		found = "signed by " + strings.Join(e.Found, ", ")
	}
	return fmt.Sprintf("%s: %s: want a signature by %s, %s: %v", e.Repository, e.File, e.Want, found, e.Err)
}

// Unwrap returns ErrSignature and the cause.
func (e *SignatureError) Unwrap() []error { return []error{ErrSignature, e.Err} }

// ChecksumError reports bytes whose size or sha256 is not the one listed
// for them.
type ChecksumError struct {
	// Path is the file's path as listed: relative to dists/{suite}/ for
	// an index ("main/binary-amd64/Packages.xz"), to the repository root
	// for a .deb ("pool/main/a/apt/apt_2.6.1_amd64.deb").
	Path string
	// Source is where the bytes came from (a URL), if known.
	Source string
	// WantSHA256 and GotSHA256 are lowercase hex; GotSHA256 is empty when
	// the size was already wrong and the download stopped.
	WantSHA256, GotSHA256 string
	// WantSize and GotSize are byte counts; WantSize is -1 when the listing
	// gives none.
	WantSize, GotSize int64
}

func (e *ChecksumError) Error() string {
	src := ""
	if e.Source != "" {
		src = " from " + e.Source
	}
	if e.WantSize >= 0 && e.WantSize != e.GotSize {
		return fmt.Sprintf("%s%s: %d bytes, want %d (sha256 %s); the bytes were discarded", e.Path, src, e.GotSize, e.WantSize, e.WantSHA256)
	}
	return fmt.Sprintf("%s%s: content has sha256 %s, want %s; the bytes were discarded", e.Path, src, e.GotSHA256, e.WantSHA256)
}

// Unwrap returns ErrChecksum.
func (e *ChecksumError) Unwrap() error { return ErrChecksum }

// MissingError reports a dependency no package of the indexes satisfies.
type MissingError struct {
	// Package is the package name that is missing (the first alternative
	// for an or-group).
	Package string
	// Relation is the dependency as written ("libc6 (>= 2.34) | libc6-udeb").
	Relation string
	// Chain is who needed it, outermost first ("app 1.0", "libfoo 1.5"); it
	// is empty when the package was asked for directly.
	Chain []string
	// Reason says why no candidate fits ("no such package", "only 1.0
	// available", ...).
	Reason string
}

func (e *MissingError) Error() string {
	by := "requested"
	if len(e.Chain) > 0 {
		by = "needed by " + strings.Join(e.Chain, " -> ")
	}
	return fmt.Sprintf("%s: cannot satisfy %q (%s): %s", e.Package, e.Relation, by, e.Reason)
}

// Unwrap returns ErrMissing.
func (e *MissingError) Unwrap() error { return ErrMissing }

// ConflictError reports version constraints on one package that no
// available version meets together.
type ConflictError struct {
	Package string
	// Constraints are every constraint seen, each with who asked
	// ("(>= 2.0) by app 1.0").
	Constraints []string
	// Versions are the versions available, highest first.
	Versions []string
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("%s: no version meets %s together; available: %s", e.Package, strings.Join(e.Constraints, " and "), listOrNone(e.Versions))
}

// Unwrap returns ErrConflict.
func (e *ConflictError) Unwrap() error { return ErrConflict }

// HTTPError is a non-success answer from a repository.
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
