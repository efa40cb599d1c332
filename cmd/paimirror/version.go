package main

import (
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/paimirror/paimirror/bundle"
)

// version is set with -ldflags "-X main.version=..."; otherwise it comes
// from the module's build info.
var version = ""

// versionInfo is what `paimirror version` reports.
type versionInfo struct {
	Version  string `json:"version"`
	Revision string `json:"revision"` // VCS revision; "" when the build has none
	Go       string `json:"go"`
}

// String is the one line both `paimirror version` and `--version` print.
func (v versionInfo) String() string {
	rev := ""
	if v.Revision != "" {
		rev = "revision " + v.Revision + ", "
	}
	return fmt.Sprintf("paimirror %s (%s%s, bundle format %d)", v.Version, rev, v.Go, bundle.FormatVersion)
}

// versionFrom works out the version: x (from -ldflags -X) if set, else the
// module's version, else "devel-" and the VCS revision of a checkout
// ("-dirty" when it had changes), else "(devel)".
func versionFrom(x string, bi *debug.BuildInfo) versionInfo {
	v := versionInfo{Version: x, Go: runtime.Version()}
	if bi == nil {
		if v.Version == "" {
			v.Version = "(devel)"
		}
		return v
	}
	if bi.GoVersion != "" {
		v.Go = bi.GoVersion
	}
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	switch {
	case v.Version != "":
	case bi.Main.Version != "" && bi.Main.Version != "(devel)":
		v.Version = bi.Main.Version
	case v.Revision != "":
		v.Version = "devel-" + v.Revision[:min(12, len(v.Revision))]
		if modified {
			v.Version += "-dirty"
		}
	default:
		v.Version = "(devel)"
	}
	return v
}

func currentVersion() versionInfo {
	bi, _ := debug.ReadBuildInfo()
	return versionFrom(version, bi)
}

// toolVersion is the version recorded in the bundles this binary writes.
func toolVersion() string { return currentVersion().Version }

func newVersionCmd(g *globalOptions) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version [-o json]",
		Short: "Print paimirror's version",
		Args:  exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := currentVersion()
			switch output {
			case "text":
				fmt.Fprintln(g.stdout, v)
				return nil
			case "json":
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(v)
			}
			return usageError{fmt.Errorf("-o %q: want text or json", output)}
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}
