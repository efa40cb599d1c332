package manifests

import (
	"errors"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"
)

func FuzzParse(f *testing.F) {
	for _, n := range EmbeddedNames() {
		raw, err := EmbeddedRaw(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
	}
	f.Add(doc("name: x", "images: [{ref: a:1, aliases: [b:1]}]"))
	f.Add(doc("name: x", "groups: [{name: g, default: false}]", "files:", "  - url: https://h/f", "    no_checksum: none", "    paths: [/k/f]", "    groups: [g]"))
	f.Add(doc("name: x", "python:", "  simple: https://h/simple", "  targets: [{name: a, python: \"3.6\", platform: manylinux_x86_64, glibc: \"2.27\"}]", "  installs: [{name: a, requirements: ['b[c]>=1; python_version < \"3.7\"']}]"))
	f.Add(doc("name: x", "images:", "  - ref: &r 127.0.0.1:5000/a:1", "  - ref: *r"))
	f.Add([]byte("name: [\n"))
	f.Add([]byte(""))

	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Parse("fuzz.yaml", data)
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Errors) == 0 {
				t.Fatalf("error %T %v is not a non-empty *ValidationError", err, err)
			}
			return
		}
		if err := m.Validate(); err != nil {
			t.Fatalf("accepted manifest does not validate: %v", err)
		}

		// Names are well formed, stable and unique.
		seen := map[string]bool{}
		for _, img := range m.Images {
			names := img.MirrorNames()
			primary, err := MirrorName(img.Ref)
			if err != nil || names[0] != primary {
				t.Fatalf("MirrorName(%q) = %q, %v; MirrorNames()[0] = %q", img.Ref, primary, err, names[0])
			}
			for _, n := range names {
				if again, err := MirrorName(n); err != nil || again != n {
					t.Fatalf("mirror name %q is not a fixed point: %q, %v", n, again, err)
				}
				if repo, tag := RepoTag(n); repo+":"+tag != n || tag == "" {
					t.Fatalf("RepoTag(%q) = %q, %q", n, repo, tag)
				}
				if seen[n] {
					t.Fatalf("mirror name %q accepted twice", n)
				}
				seen[n] = true
			}
			if reg, repo, tag := img.Upstream(); reg == "" || repo == "" || tag == "" {
				t.Fatalf("Upstream(%q) = %q, %q, %q", img.Ref, reg, repo, tag)
			}
		}
		paths := map[string]bool{}
		for _, f := range m.Files {
			mp := f.MirrorPaths()
			if len(mp) != 1+len(f.Paths) {
				t.Fatalf("MirrorPaths() = %q for %d paths", mp, len(f.Paths))
			}
			for _, p := range mp {
				if paths[p] {
					t.Fatalf("path %q accepted twice", p)
				}
				paths[p] = true
			}
		}

		// Writing the manifest back out and reading it again gives the
		// same names.
		out, err := yaml.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := Parse("again.yaml", out)
		if err != nil {
			t.Fatalf("re-parsing the marshalled manifest: %v\n%s", err, out)
		}
		if len(m2.Images) != len(m.Images) || len(m2.Files) != len(m.Files) || m2.Name != m.Name {
			t.Fatalf("round trip changed the manifest")
		}
		for i := range m.Images {
			if !slices.Equal(m.Images[i].MirrorNames(), m2.Images[i].MirrorNames()) {
				t.Fatalf("round trip changed names %q to %q", m.Images[i].MirrorNames(), m2.Images[i].MirrorNames())
			}
		}
		for i := range m.Files {
			if !slices.Equal(m.Files[i].MirrorPaths(), m2.Files[i].MirrorPaths()) || m.Files[i].SHA256 != m2.Files[i].SHA256 {
				t.Fatalf("round trip changed file %d", i)
			}
		}

		if (m.Python == nil) != (m2.Python == nil) {
			t.Fatalf("round trip changed the python section")
		}
		if m.Python != nil {
			a, b := *m.Python, *m2.Python
			if a.Index != b.Index || a.Simple != b.Simple || len(a.Targets) != len(b.Targets) || len(a.Installs) != len(b.Installs) {
				t.Fatalf("round trip changed the python section: %+v to %+v", a, b)
			}
			for i := range a.Targets {
				x, y := a.Targets[i], b.Targets[i]
				x.Line, y.Line = 0, 0
				if x != y {
					t.Fatalf("round trip changed target %+v to %+v", x, y)
				}
			}
			for i := range a.Installs {
				if !slices.Equal(a.Installs[i].Requirements, b.Installs[i].Requirements) {
					t.Fatalf("round trip changed install %d", i)
				}
			}
		}

		// Selecting with the defaults works on any valid manifest.
		if _, err := m.Select(nil, nil); err != nil {
			t.Fatal(err)
		}
	})
}
