package sbom

import "errors"

// ErrUnknownFormat means a format name is not one of Formats.
var ErrUnknownFormat = errors.New("unknown SBOM format")
