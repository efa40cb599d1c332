package apt_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/paimirror/paimirror/bundle/apt"
	"github.com/paimirror/paimirror/bundle/bundletest"
)

// sourcesLineCase is one call of SourcesLine.
type sourcesLineCase struct {
	name       string
	url, suite string
	components []string
	options    []apt.SourceOption
}

func (c sourcesLineCase) line() (string, error) {
	return apt.SourcesLine(c.url, c.suite, c.components, c.options...)
}

var arch = apt.SourceOption{Name: "arch", Value: "amd64"}

// goodSourcesLines are calls SourcesLine answers, with the line each gives.
var goodSourcesLines = []struct {
	sourcesLineCase
	want string
}{
	{sourcesLineCase{"plain", "http://10.0.0.1:5000/archive.ubuntu.com/ubuntu", "bionic", []string{"main", "universe"}, nil},
		"deb http://10.0.0.1:5000/archive.ubuntu.com/ubuntu bionic main universe"},
	{sourcesLineCase{"one option", "http://10.0.0.1:5000/archive.ubuntu.com/ubuntu", "bionic-updates", []string{"main"}, []apt.SourceOption{arch}},
		"deb [arch=amd64] http://10.0.0.1:5000/archive.ubuntu.com/ubuntu bionic-updates main"},
	{sourcesLineCase{"options in order", "https://mirror.lab:8443/download.docker.com/linux/ubuntu", "bionic", []string{"stable"},
		[]apt.SourceOption{{Name: "arch", Value: "amd64,arm64"}, {Name: "signed-by", Value: "/etc/apt/keyrings/docker.asc"}}},
		"deb [arch=amd64,arm64 signed-by=/etc/apt/keyrings/docker.asc] https://mirror.lab:8443/download.docker.com/linux/ubuntu bionic stable"},
	{sourcesLineCase{"flat", "http://10.0.0.1:5000/nvidia.github.io/libnvidia-container/stable/ubuntu18.04/amd64", apt.FlatSuite, nil, nil},
		"deb http://10.0.0.1:5000/nvidia.github.io/libnvidia-container/stable/ubuntu18.04/amd64 ./"},
	{sourcesLineCase{"flat with an option, empty components", "http://h:1/n", apt.FlatSuite, []string{}, []apt.SourceOption{arch}},
		"deb [arch=amd64] http://h:1/n ./"},
	{sourcesLineCase{"exact path below", "http://h:1/n", "dists/x/", nil, nil},
		"deb http://h:1/n dists/x/"},
	{sourcesLineCase{"a value with = and $", "http://h:1/d", "bionic", []string{"stable"}, []apt.SourceOption{{Name: "signed-by", Value: "$t/a=b.asc"}}},
		"deb [signed-by=$t/a=b.asc] http://h:1/d bionic stable"},
	{sourcesLineCase{"non-ASCII", "http://h:1/é", "bionic", []string{"main"}, nil},
		"deb http://h:1/é bionic main"},
}

// badSourcesLines are calls SourcesLine refuses, with what the error
// names.
var badSourcesLines = []struct {
	sourcesLineCase
	want string
}{
	{sourcesLineCase{"newline in URL", "http://h:1/u\ndeb http://evil/ ./", "bionic", []string{"main"}, nil}, "URL"},
	{sourcesLineCase{"space in URL", "http://h:1/u ./", "bionic", []string{"main"}, nil}, "URL"},
	{sourcesLineCase{"tab in URL", "http://h:1\t/u", "bionic", []string{"main"}, nil}, "URL"},
	{sourcesLineCase{"CR in URL", "http://h:1/u\r", "bionic", []string{"main"}, nil}, "URL"},
	{sourcesLineCase{"U+2028 in URL", "http://h:1/u\u2028deb", "bionic", []string{"main"}, nil}, "URL"},
	{sourcesLineCase{"NEL in URL", "http://h:1/u\u0085", "bionic", []string{"main"}, nil}, "URL"},
	{sourcesLineCase{"NUL in URL", "http://h:1/u\x00", "bionic", []string{"main"}, nil}, "URL"},
	{sourcesLineCase{"invalid UTF-8 in URL", "http://h:1/u\xff", "bionic", []string{"main"}, nil}, "URL"},
	{sourcesLineCase{"# in URL", "http://h:1/u#x", "bionic", []string{"main"}, nil}, "URL"},
	{sourcesLineCase{"quote in URL", `"http://h:1/u`, "bionic", []string{"main"}, nil}, "URL"},
	{sourcesLineCase{"bracket in URL", "[http://h:1/u", "bionic", []string{"main"}, nil}, "URL"},
	{sourcesLineCase{"empty URL", "", "bionic", []string{"main"}, nil}, "URL"},
	{sourcesLineCase{"newline in an option value", "http://h:1/u", "bionic", []string{"main"},
		[]apt.SourceOption{{Name: "arch", Value: "amd64]\ndeb http://evil/ ./"}}}, "option arch's value"},
	{sourcesLineCase{"space in an option value", "http://h:1/u", "bionic", []string{"main"},
		[]apt.SourceOption{{Name: "signed-by", Value: "/a b"}}}, "option signed-by's value"},
	{sourcesLineCase{"] in an option value", "http://h:1/u", "bionic", []string{"main"},
		[]apt.SourceOption{{Name: "arch", Value: "amd64]"}}}, "option arch's value"},
	{sourcesLineCase{"empty option value", "http://h:1/u", "bionic", []string{"main"},
		[]apt.SourceOption{{Name: "arch"}}}, "option arch's value"},
	{sourcesLineCase{"empty option name", "http://h:1/u", "bionic", []string{"main"},
		[]apt.SourceOption{{Value: "amd64"}}}, "no name"},
	{sourcesLineCase{"= in an option name", "http://h:1/u", "bionic", []string{"main"},
		[]apt.SourceOption{{Name: "arch=amd64 trusted", Value: "yes"}}}, "option name"},
	{sourcesLineCase{"newline in suite", "http://h:1/u", "bionic main\ndeb http://evil/", []string{"main"}, nil}, "suite"},
	{sourcesLineCase{"empty suite", "http://h:1/u", "", nil, nil}, "suite"},
	{sourcesLineCase{"# in suite", "http://h:1/u", "bionic#", []string{"main"}, nil}, "suite"},
	{sourcesLineCase{"newline in a component", "http://h:1/u", "bionic", []string{"main\ndeb http://evil/ ./"}, nil}, "component"},
	{sourcesLineCase{"empty component", "http://h:1/u", "bionic", []string{"main", ""}, nil}, "component"},
	{sourcesLineCase{"no component", "http://h:1/u", "bionic", nil, nil}, "at least one component"},
	{sourcesLineCase{"flat with a component", "http://h:1/u", apt.FlatSuite, []string{"main"}, nil}, "exact path"},
}

func TestSourcesLine(t *testing.T) {
	for _, tc := range goodSourcesLines {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.line()
			if err != nil || got != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
	for _, tc := range badSourcesLines {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.line()
			if !errors.Is(err, apt.ErrSourcesLine) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %q, %v; want an ErrSourcesLine naming %q", got, err, tc.want)
			}
			if got != "" {
				t.Errorf("got %q with the error", got)
			}
			if strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("the error %q spans lines", err)
			}
		})
	}
}

// TestSourcesLineApt has the real apt read the lines SourcesLine writes:
// each is one entry of exactly the URL, suite, components and
// architectures asked for.
func TestSourcesLineApt(t *testing.T) {
	aptGet := bundletest.Tool(t, "apt-get")
	dir := t.TempDir()
	for _, d := range []string{"lists/partial", "cache/archives/partial", "parts"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// apt refuses a signed-by that is neither a path nor a fingerprint,
	// such as "$t/..." before a shell expands it.
	var want []string
	var lines []string
	for _, tc := range goodSourcesLines {
		if strings.Contains(tc.want, "$t") {
			continue
		}
		line, err := tc.line()
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, line)
		entry := fmt.Sprintf("%s:%d", filepath.Join(dir, "sources.list"), len(lines))
		comps := tc.components
		archs := []string{"amd64"} // APT::Architectures below
		for _, o := range tc.options {
			if o.Name == "arch" {
				archs = strings.Split(o.Value, ",")
			}
		}
		if len(comps) == 0 { // an exact path: apt's own marks for none
			comps, archs = []string{"$(COMPONENT)"}, []string{"$(ARCHITECTURE)"}
		}
		for _, c := range comps {
			for _, a := range archs {
				want = append(want, fmt.Sprintf("%s %s %s %s %s", entry, strings.TrimSuffix(tc.url, "/")+"/", tc.suite, c, a))
			}
		}
	}
	list := filepath.Join(dir, "sources.list")
	if err := os.WriteFile(list, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(aptGet,
		"-o", "Dir::Etc::SourceList="+list, "-o", "Dir::Etc::SourceParts="+filepath.Join(dir, "parts"),
		"-o", "Dir::State::Lists="+filepath.Join(dir, "lists"), "-o", "Dir::Cache="+filepath.Join(dir, "cache"),
		"-o", "Debug::NoLocking=1", "-o", "APT::Architecture=amd64", "-o", "APT::Architectures::=amd64",
		"indextargets", "--no-release-info", "--format", "$(SOURCESENTRY) $(REPO_URI) $(RELEASE) $(COMPONENT) $(ARCHITECTURE)",
		"Created-By: Packages")
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("apt-get indextargets: %v\n%s\nsources:\n%s", err, out, strings.Join(lines, "\n"))
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.HasSuffix(l, " all") && !slices.Contains(got, l) { // binary-all, which apt adds
			got = append(got, l)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("apt read\n%s\nwant\n%s\nfrom\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"), strings.Join(lines, "\n"))
	}
}

func FuzzSourcesLine(f *testing.F) {
	for _, tc := range goodSourcesLines {
		var opts []string
		for _, o := range tc.options {
			opts = append(opts, o.Name, o.Value)
		}
		f.Add(tc.url, tc.suite, strings.Join(tc.components, "\x00"), strings.Join(opts, "\x00"))
	}
	for _, tc := range badSourcesLines {
		var opts []string
		for _, o := range tc.options {
			opts = append(opts, o.Name, o.Value)
		}
		f.Add(tc.url, tc.suite, strings.Join(tc.components, "\x00"), strings.Join(opts, "\x00"))
	}
	f.Fuzz(func(t *testing.T, url, suite, comps, opts string) {
		// NUL separates the components and the options' names and values
		// (SourcesLine refuses a NUL anyway).
		var components []string
		if comps != "" {
			components = strings.Split(comps, "\x00")
		}
		var options []apt.SourceOption
		if opts != "" {
			o := strings.Split(opts, "\x00")
			for i := 0; i+1 < len(o); i += 2 {
				options = append(options, apt.SourceOption{Name: o[i], Value: o[i+1]})
			}
		}
		line, err := apt.SourcesLine(url, suite, components, options...)
		if err != nil {
			if !errors.Is(err, apt.ErrSourcesLine) || line != "" {
				t.Fatalf("got %q, %v; want no line and an ErrSourcesLine", line, err)
			}
			return
		}
		if strings.ContainsFunc(line, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) && r != ' ' }) ||
			strings.ContainsAny(line, "#\"") || strings.HasSuffix(line, " ") || strings.Contains(line, "  ") {
			t.Fatalf("line %q holds a control character, other whitespace than single spaces, '#' or '\"'", line)
		}
		// The words read back are exactly those given.
		words := strings.Split(line, " ")
		if words[0] != "deb" {
			t.Fatalf("line %q does not start with deb", line)
		}
		words = words[1:]
		if len(options) > 0 {
			if !strings.HasPrefix(words[0], "[") || !strings.HasSuffix(words[len(options)-1], "]") {
				t.Fatalf("line %q: options not in one bracket", line)
			}
			words[0] = strings.TrimPrefix(words[0], "[")
			words[len(options)-1] = strings.TrimSuffix(words[len(options)-1], "]")
			for i, o := range options {
				name, value, _ := strings.Cut(words[i], "=")
				if name != o.Name || value != o.Value {
					t.Fatalf("line %q: option %d reads %q=%q, want %q=%q", line, i, name, value, o.Name, o.Value)
				}
			}
			words = words[len(options):]
		} else if strings.HasPrefix(words[0], "[") {
			t.Fatalf("line %q: a bracket without options", line)
		}
		if len(words) != 2+len(components) || words[0] != url || words[1] != suite || !slices.Equal(words[2:], components) {
			t.Fatalf("line %q reads URL, suite and components %q; want %q %q %q", line, words, url, suite, components)
		}
		if strings.HasSuffix(suite, "/") != (len(components) == 0) {
			t.Fatalf("line %q: suite %q with %d components", line, suite, len(components))
		}
	})
}
