package manifests

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
)

// Select returns a copy of m holding only the items whose groups are all
// enabled. The enabled groups are those whose Default is true, plus include,
// minus exclude: exclude wins over include and over Default. Items with no
// groups are always kept. Naming an undeclared group in include or exclude
// is an error (wrapping ErrUnknownGroup) listing the declared ones.
//
// The copy shares nothing with m. It keeps m's Name, Description, Groups (all
// of them, as declared), Source and Raw, so a bundle can record the manifest
// it was built from.
func (m *Manifest) Select(include, exclude []string) (*Manifest, error) {
	declared := make(map[string]bool, len(m.Groups))
	var names []string
	enabled := map[string]bool{}
	for _, g := range m.Groups {
		declared[g.Name] = true
		names = append(names, g.Name)
		if g.Default {
			enabled[g.Name] = true
		}
	}
	for _, list := range []struct {
		what  string
		names []string
	}{{"include", include}, {"exclude", exclude}} {
		for _, n := range list.names {
			if !declared[n] {
				known := "none"
				if len(names) > 0 {
					known = strings.Join(names, ", ")
				}
				return nil, fmt.Errorf("%s names %w %q (the manifest declares: %s)", list.what, ErrUnknownGroup, n, known)
			}
		}
	}
	for _, n := range include {
		enabled[n] = true
	}
	for _, n := range exclude {
		delete(enabled, n)
	}
	kept := func(groups []string) bool {
		for _, g := range groups {
			if !enabled[g] {
				return false
			}
		}
		return true
	}

	out := &Manifest{
		Name:        m.Name,
		Description: m.Description,
		Groups:      slices.Clone(m.Groups),
		Source:      m.Source,
		Raw:         bytes.Clone(m.Raw),
	}
	for _, img := range m.Images {
		if kept(img.Groups) {
			out.Images = append(out.Images, img.clone())
		}
	}
	for _, f := range m.Files {
		if kept(f.Groups) {
			out.Files = append(out.Files, f.clone())
		}
	}
	if m.Python != nil && kept(m.Python.Groups) {
		out.Python = m.Python.clone()
	}
	for _, a := range m.Apt {
		if kept(a.Groups) {
			out.Apt = append(out.Apt, a.clone())
		}
	}
	return out, nil
}

// clone returns a deep copy of i.
func (i Image) clone() Image {
	i.Platforms = slices.Clone(i.Platforms)
	i.Aliases = slices.Clone(i.Aliases)
	i.Groups = slices.Clone(i.Groups)
	return i
}

// clone returns a deep copy of f.
func (f File) clone() File {
	f.Alternates = slices.Clone(f.Alternates)
	f.Paths = slices.Clone(f.Paths)
	f.Groups = slices.Clone(f.Groups)
	return f
}

// clone returns a deep copy of p.
func (p *Python) clone() *Python {
	out := *p
	out.Targets = slices.Clone(p.Targets)
	out.Installs = slices.Clone(p.Installs)
	for i := range out.Installs {
		out.Installs[i].Requirements = slices.Clone(out.Installs[i].Requirements)
	}
	out.Groups = slices.Clone(p.Groups)
	return &out
}

// clone returns a deep copy of a.
func (a Apt) clone() Apt {
	a.Suites = slices.Clone(a.Suites)
	a.Components = slices.Clone(a.Components)
	a.Architectures = slices.Clone(a.Architectures)
	a.Packages = slices.Clone(a.Packages)
	a.Groups = slices.Clone(a.Groups)
	return a
}
