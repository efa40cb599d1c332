package patch

import "errors"

// ErrNotPaiTree is returned (wrapped) by Plan and Scan for a directory that
// is not an OpenPAI checkout (it has no contrib/kubespray).
var ErrNotPaiTree = errors.New("not an OpenPAI checkout")

// ErrInvalidOptions is returned (wrapped) by Plan for options it cannot
// work with, such as a mirror address with a scheme.
var ErrInvalidOptions = errors.New("invalid options")

// ErrChanged is returned (wrapped) by Apply when a file no longer holds
// what Plan read; plan again.
var ErrChanged = errors.New("changed since it was planned")

// ErrOriginalNotFile is returned (wrapped) by Apply when a file's
// <file>.paimirror-orig exists but is not a regular file (a directory, a
// symbolic link), so it cannot be the kept original.
var ErrOriginalNotFile = errors.New("the kept original is not a regular file")
