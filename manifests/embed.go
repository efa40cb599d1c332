package manifests

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
)

// DefaultName is the name of the built-in manifest used when none is given:
// everything an OpenPAI v1.8.0 quick-start install downloads.
const DefaultName = "openpai-v1.8.0"

// builtin holds the built-in manifests, one NAME.yaml each.
//
//go:embed *.yaml
var builtin embed.FS

// EmbeddedNames returns the names of the built-in manifests, sorted.
func EmbeddedNames() []string {
	entries, err := fs.ReadDir(builtin, ".")
	if err != nil {
		return nil
	}
	var names []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".yaml"); ok && !e.IsDir() {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	return names
}

// EmbeddedRaw returns the exact text of the built-in manifest name, comments
// included, for users to copy and edit. An unknown name gives an error
// wrapping ErrUnknownManifest.
func EmbeddedRaw(name string) ([]byte, error) {
	if !slices.Contains(EmbeddedNames(), name) || path.Base(name) != name {
		return nil, fmt.Errorf("%w %q (built in: %s)", ErrUnknownManifest, name, strings.Join(EmbeddedNames(), ", "))
	}
	data, err := builtin.ReadFile(name + ".yaml")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w %q", ErrUnknownManifest, name)
	}
	return data, err
}

// Embedded parses the built-in manifest name. Its Source is
// "embedded:NAME". Each call returns a fresh Manifest.
func Embedded(name string) (*Manifest, error) {
	data, err := EmbeddedRaw(name)
	if err != nil {
		return nil, err
	}
	return Parse("embedded:"+name, data)
}

// Default returns the built-in manifest DefaultName. It panics only if that
// manifest does not parse, which the package's tests rule out.
func Default() *Manifest {
	m, err := Embedded(DefaultName)
	if err != nil {
		panic(fmt.Sprintf("manifests: built-in manifest %s is invalid: %v", DefaultName, err))
	}
	return m
}
