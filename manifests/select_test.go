package manifests

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func selectFixture(t *testing.T) *Manifest {
	t.Helper()
	m, err := Parse("sel.yaml", doc(
		"name: sel",
		"groups:",
		"  - name: core",
		"  - name: extra",
		"    default: false",
		"  - name: gpu",
		"images:",
		"  - ref: always:1",
		"  - ref: core:1",
		"    groups: [core]",
		"  - ref: extra:1",
		"    groups: [extra]",
		"  - ref: core-gpu:1",
		"    groups: [core, gpu]",
		"  - ref: extra-gpu:1",
		"    groups: [extra, gpu]",
		"files:",
		"  - url: https://h/core",
		"    sha256: "+hexA,
		"    groups: [core]",
		"  - url: https://h/extra",
		"    sha256: "+hexB,
		"    groups: [extra]",
	))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSelect(t *testing.T) {
	tests := []struct {
		name             string
		include, exclude []string
		images, files    []string
	}{
		{"defaults", nil, nil, []string{"always:1", "core:1", "core-gpu:1"}, []string{"https://h/core"}},
		{"include an off group", []string{"extra"}, nil, []string{"always:1", "core:1", "extra:1", "core-gpu:1", "extra-gpu:1"}, []string{"https://h/core", "https://h/extra"}},
		{"exclude a default group", nil, []string{"gpu"}, []string{"always:1", "core:1"}, []string{"https://h/core"}},
		{"exclude wins over include", []string{"extra", "gpu"}, []string{"gpu"}, []string{"always:1", "core:1", "extra:1"}, []string{"https://h/core", "https://h/extra"}},
		{"exclude everything", nil, []string{"core", "gpu"}, []string{"always:1"}, nil},
		{"include a default group", []string{"core", "core"}, nil, []string{"always:1", "core:1", "core-gpu:1"}, []string{"https://h/core"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := selectFixture(t)
			got, err := m.Select(tt.include, tt.exclude)
			if err != nil {
				t.Fatal(err)
			}
			var images, files []string
			for _, i := range got.Images {
				images = append(images, i.Ref)
			}
			for _, f := range got.Files {
				files = append(files, f.URL)
			}
			if !slices.Equal(images, tt.images) {
				t.Errorf("images = %q, want %q", images, tt.images)
			}
			if !slices.Equal(files, tt.files) {
				t.Errorf("files = %q, want %q", files, tt.files)
			}
			if got.Name != m.Name || got.Source != m.Source || string(got.Raw) != string(m.Raw) || len(got.Groups) != len(m.Groups) {
				t.Errorf("Select lost the manifest's name, source, raw text or groups")
			}
			if err := got.Validate(); err != nil {
				t.Errorf("selected manifest does not validate: %v", err)
			}
		})
	}
}

func TestSelectUnknownGroup(t *testing.T) {
	tests := []struct {
		name             string
		include, exclude []string
		want             string
	}{
		{"include", []string{"nope"}, nil, `include names unknown group "nope" (the manifest declares: core, extra, gpu)`},
		{"exclude", nil, []string{"core", "gpu-typo"}, `exclude names unknown group "gpu-typo"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := selectFixture(t).Select(tt.include, tt.exclude)
			if !errors.Is(err, ErrUnknownGroup) {
				t.Fatalf("got %v, want ErrUnknownGroup", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestSelectCopies(t *testing.T) {
	m := selectFixture(t)
	got, err := m.Select([]string{"extra"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got.Images[1].Groups[0] = "changed"
	got.Groups[0].Name = "changed"
	got.Raw[0] = 'X'
	if m.Images[1].Groups[0] != "core" || m.Groups[0].Name != "core" || m.Raw[0] == 'X' {
		t.Error("Select's result shares memory with the original")
	}
}

func TestSelectPython(t *testing.T) {
	for _, tt := range []struct {
		name             string
		groups           string
		include, exclude []string
		kept             bool
	}{
		{"no groups: always", "", nil, []string{"core"}, true},
		{"default group", "  groups: [core]", nil, nil, true},
		{"excluded", "  groups: [core]", nil, []string{"core"}, false},
		{"off by default", "  groups: [extra]", nil, nil, false},
		{"included", "  groups: [extra]", []string{"extra"}, nil, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			lines := []string{
				"name: sel", "groups:", "  - name: core", "  - name: extra", "    default: false",
				"python:",
				"  targets: [{name: a, python: \"3.6\", platform: manylinux_x86_64}]",
				"  installs: [{name: a, requirements: [jinja2, pbr==5.2.0]}]",
			}
			if tt.groups != "" {
				lines = append(lines, tt.groups)
			}
			m, err := Parse("sel.yaml", doc(lines...))
			if err != nil {
				t.Fatal(err)
			}
			got, err := m.Select(tt.include, tt.exclude)
			if err != nil {
				t.Fatal(err)
			}
			if (got.Python != nil) != tt.kept {
				t.Fatalf("python kept = %v, want %v", got.Python != nil, tt.kept)
			}
			if got.Python == nil {
				return
			}
			got.Python.Installs[0].Requirements[0] = "changed"
			got.Python.Targets[0].Name = "changed"
			if m.Python.Installs[0].Requirements[0] != "jinja2" || m.Python.Targets[0].Name != "a" {
				t.Error("Select's python section shares memory with the original")
			}
		})
	}
}
