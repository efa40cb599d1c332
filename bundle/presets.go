package bundle

import (
	"embed"
	"fmt"
	"io/fs"
	"strings"
)

// presetFiles holds the built-in presets, presets/NAME.txt, each a mirror
// list (see ParseMirrors) with comments that say whose each mirror is.
//
//go:embed presets/*.txt
var presetFiles embed.FS

// Presets returns the names of the built-in presets, sorted.
func Presets() []string {
	entries, _ := fs.ReadDir(presetFiles, "presets") // embedded: cannot fail
	var out []string
	for _, e := range entries {
		if n, ok := strings.CutSuffix(e.Name(), ".txt"); ok {
			out = append(out, n)
		}
	}
	return out
}

// Preset returns the mirrors of the built-in preset name ("cn": public
// mirrors commonly used inside China), in order, each with Preset set to
// name, so that CheckMirrors lets those that match nothing the manifest
// holds pass.
func Preset(name string) ([]Mirror, error) {
	data, err := presetFiles.ReadFile("presets/" + name + ".txt")
	if err != nil || name == "" || strings.ContainsAny(name, "/.") {
		return nil, fmt.Errorf("unknown preset %q (known: %s)", name, strings.Join(Presets(), ", "))
	}
	mirrors, err := ParseMirrors(data, name)
	if err != nil {
		return nil, fmt.Errorf("preset %s: %w", name, err)
	}
	return mirrors, nil
}
