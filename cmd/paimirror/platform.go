package main

import (
	"fmt"
	"slices"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// knownOS and knownArch are Go's GOOS and GOARCH values (go tool dist
// list), which OCI image platforms use.
var (
	knownOS   = []string{"aix", "android", "darwin", "dragonfly", "freebsd", "illumos", "ios", "js", "linux", "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows"}
	knownArch = []string{"386", "amd64", "arm", "arm64", "loong64", "mips", "mips64", "mips64le", "mipsle", "ppc64", "ppc64le", "riscv64", "s390x", "wasm"}
)

// commonPlatforms are the --platform values shell completion offers: the
// Linux platforms images are commonly published for (any os/arch[/variant]
// of knownOS and knownArch is accepted).
var commonPlatforms = []string{"linux/amd64", "linux/arm64", "linux/arm/v7", "linux/ppc64le", "linux/s390x", "linux/386", "linux/riscv64"}

// parsePlatform checks an image platform, os/arch[/variant].
func parsePlatform(s string) (*v1.Platform, error) {
	p, err := v1.ParsePlatform(s)
	if err != nil {
		return nil, err
	}
	switch {
	case p.OS == "" || p.Architecture == "":
		return nil, fmt.Errorf("want os/arch[/variant], e.g. linux/amd64")
	case !slices.Contains(knownOS, p.OS):
		return nil, fmt.Errorf("unknown os %q; want os/arch[/variant], e.g. linux/amd64", p.OS)
	case !slices.Contains(knownArch, p.Architecture):
		return nil, fmt.Errorf("unknown architecture %q; want os/arch[/variant], e.g. linux/amd64", p.Architecture)
	}
	return p, nil
}

// platformFlag is a --platform value, checked when the flag is parsed.
type platformFlag struct{ s *string }

func (f platformFlag) String() string { return *f.s }
func (f platformFlag) Type() string   { return "os/arch" }
func (f platformFlag) Set(s string) error {
	if _, err := parsePlatform(s); err != nil {
		return err
	}
	*f.s = s
	return nil
}
