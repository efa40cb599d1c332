package apt

import (
	"strings"
)

// Relation is one package relation: a name, optionally an architecture
// qualifier, a version constraint and an architecture restriction list, as
// in "libc6:any (>= 2.34) [amd64 arm64]".
type Relation struct {
	// Name is the package name, lowercase.
	Name string
	// ArchQualifier is what follows a colon in the name ("any", "native",
	// "amd64"), or "".
	ArchQualifier string
	// Op is the version operator: "<<", "<=", "=", ">=", ">>", or "" for
	// any version. The obsolete "<" and ">" are read as "<=" and ">=", as
	// dpkg does.
	Op string
	// Version is the version the operator compares against.
	Version string
	// Archs is the architecture restriction list in brackets ("amd64",
	// "!i386"), or nil.
	Archs []string
}

// String returns the relation in control-file syntax.
func (r Relation) String() string {
	s := r.Name
	if r.ArchQualifier != "" {
		s += ":" + r.ArchQualifier
	}
	if r.Op != "" {
		s += " (" + r.Op + " " + r.Version + ")"
	}
	if len(r.Archs) > 0 {
		s += " [" + strings.Join(r.Archs, " ") + "]"
	}
	return s
}

// AppliesTo reports whether the relation's architecture restriction list
// admits arch: no list admits every architecture; a list of positive
// entries admits those; a list of negated entries ("!i386") admits all but
// those. Wildcards such as "linux-any" and "any-amd64" are matched for
// Linux.
func (r Relation) AppliesTo(arch string) bool {
	if len(r.Archs) == 0 {
		return true
	}
	negated := strings.HasPrefix(r.Archs[0], "!")
	for _, a := range r.Archs {
		if archMatches(strings.TrimPrefix(a, "!"), arch) {
			return !negated
		}
	}
	return negated
}

func archMatches(pattern, arch string) bool {
	switch pattern {
	case arch, "any", "linux-any", "any-" + arch, "linux-" + arch:
		return true
	}
	return false
}

// SatisfiedBy reports whether a package of that name and version meets the
// relation's version constraint (the name is not compared).
func (r Relation) SatisfiedBy(version string) bool {
	if r.Op == "" {
		return true
	}
	c := CompareVersions(version, r.Version)
	switch r.Op {
	case "<<":
		return c < 0
	case "<=":
		return c <= 0
	case "=":
		return c == 0
	case ">=":
		return c >= 0
	case ">>":
		return c > 0
	}
	return false
}

// Dependency is an or-group of relations ("a | b (>= 2)"): it is met when
// any one of them is.
type Dependency []Relation

// String returns the or-group in control-file syntax.
func (d Dependency) String() string {
	s := make([]string, len(d))
	for i, r := range d {
		s[i] = r.String()
	}
	return strings.Join(s, " | ")
}

// ParseDependencies parses a relationship field (Depends, Pre-Depends,
// Recommends, Conflicts, Build-Depends): or-groups separated by commas,
// alternatives by "|". Build profile restrictions ("<!nocheck>") are
// accepted and dropped. An empty field gives nil.
func ParseDependencies(s string) ([]Dependency, error) {
	var out []Dependency
	for _, group := range strings.Split(s, ",") {
		if strings.TrimSpace(group) == "" {
			if strings.TrimSpace(s) == "" {
				return nil, nil
			}
			// dpkg tolerates a trailing comma only; be as lenient.
			continue
		}
		var d Dependency
		for _, alt := range strings.Split(group, "|") {
			r, err := ParseRelation(alt)
			if err != nil {
				return nil, err
			}
			d = append(d, r)
		}
		out = append(out, d)
	}
	return out, nil
}

// ParseRelation parses one relation: "name[:qual] [(op version)]
// [[arch ...]] [<profile ...>]".
func ParseRelation(s string) (Relation, error) {
	in := s
	var r Relation
	s = strings.TrimSpace(s)
	end := strings.IndexAny(s, " \t\n([<")
	if end < 0 {
		end = len(s)
	}
	name := s[:end]
	s = strings.TrimSpace(s[end:])
	if n, q, ok := strings.Cut(name, ":"); ok {
		name, r.ArchQualifier = n, q
		if q == "" {
			return r, syntaxError("relation", in, "empty architecture qualifier")
		}
	}
	if !validPackageName(name) {
		return r, syntaxError("relation", in, "invalid package name")
	}
	r.Name = strings.ToLower(name)
	if strings.HasPrefix(s, "(") {
		body, rest, ok := strings.Cut(s[1:], ")")
		if !ok {
			return r, syntaxError("relation", in, "unclosed (")
		}
		body = strings.TrimSpace(body)
		i := 0
		for i < len(body) && strings.IndexByte("<>=", body[i]) >= 0 {
			i++
		}
		op, ver := body[:i], strings.TrimSpace(body[i:])
		switch op {
		case "<<", "<=", "=", ">=", ">>":
		case "<":
			op = "<="
		case ">":
			op = ">="
		default:
			return r, syntaxError("relation", in, "bad version operator "+quote(op))
		}
		if _, err := ParseVersion(ver); err != nil {
			return r, syntaxError("relation", in, "bad version "+quote(ver))
		}
		r.Op, r.Version = op, ver
		s = strings.TrimSpace(rest)
	}
	if strings.HasPrefix(s, "[") {
		body, rest, ok := strings.Cut(s[1:], "]")
		if !ok {
			return r, syntaxError("relation", in, "unclosed [")
		}
		r.Archs = strings.Fields(body)
		if len(r.Archs) == 0 {
			return r, syntaxError("relation", in, "empty architecture list")
		}
		neg := strings.HasPrefix(r.Archs[0], "!")
		for _, a := range r.Archs {
			if strings.HasPrefix(a, "!") != neg || strings.TrimPrefix(a, "!") == "" {
				return r, syntaxError("relation", in, "architecture list mixes negated and plain entries")
			}
		}
		s = strings.TrimSpace(rest)
	}
	for strings.HasPrefix(s, "<") {
		_, rest, ok := strings.Cut(s[1:], ">")
		if !ok {
			return r, syntaxError("relation", in, "unclosed <")
		}
		s = strings.TrimSpace(rest)
	}
	if s != "" {
		return r, syntaxError("relation", in, "unexpected "+quote(s))
	}
	return r, nil
}

// validPackageName reports whether s is a Debian package name: at least
// two characters, starting with an alphanumeric, of [a-z0-9+.-] (upper
// case is tolerated, as apt does for old indexes).
func validPackageName(s string) bool {
	if len(s) < 2 && !(len(s) == 1 && isAlnum(rune(s[0]))) {
		return false
	}
	if !isAlnum(rune(s[0])) {
		return false
	}
	for _, c := range s {
		if !isAlnum(c) && c != '+' && c != '-' && c != '.' {
			return false
		}
	}
	return true
}

func quote(s string) string { return "\"" + s + "\"" }
