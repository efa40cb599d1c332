package main

import (
	"runtime/debug"
	"testing"
)

func TestVersionFromBuildInfo(t *testing.T) {
	vcs := func(main string, settings ...debug.BuildSetting) *debug.BuildInfo {
		return &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Path: "github.com/paimirror/paimirror", Version: main}, Settings: settings}
	}
	rev := debug.BuildSetting{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"}
	dirty := debug.BuildSetting{Key: "vcs.modified", Value: "true"}
	tests := []struct {
		name    string
		x       string
		bi      *debug.BuildInfo
		version string
		rev     string
	}{
		{"ldflags", "v1.2.3", vcs("(devel)", rev), "v1.2.3", rev.Value},
		{"module version", "", vcs("v1.0.0"), "v1.0.0", ""},
		{"checkout", "", vcs("(devel)", rev), "devel-0123456789ab", rev.Value},
		{"dirty checkout", "", vcs("(devel)", rev, dirty), "devel-0123456789ab-dirty", rev.Value},
		{"nothing", "", vcs("(devel)"), "(devel)", ""},
		{"no build info", "", nil, "(devel)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := versionFrom(tt.x, tt.bi)
			if got.Version != tt.version || got.Revision != tt.rev {
				t.Errorf("versionFrom = %+v, want version %q revision %q", got, tt.version, tt.rev)
			}
			if got.Go == "" {
				t.Errorf("versionFrom: no go version")
			}
		})
	}
}
