package pypi

import (
	"regexp"
	"slices"
	"strings"
)

// namePattern is a valid project name (PEP 508), case-insensitive.
var namePattern = regexp.MustCompile(`^([A-Za-z0-9]|[A-Za-z0-9][A-Za-z0-9._-]*[A-Za-z0-9])$`)

var nameSeparators = regexp.MustCompile(`[-_.]+`)

// NormalizeName returns the PEP 503 normalised form of a project name:
// lower case, with each run of "-", "_" and "." replaced by one "-"
// ("Ruamel.YAML" → "ruamel-yaml").
func NormalizeName(name string) string {
	return strings.ToLower(nameSeparators.ReplaceAllString(name, "-"))
}

// ValidName reports whether name is a valid project name.
func ValidName(name string) bool { return len(name) <= 200 && namePattern.MatchString(name) }

// Requirement is a parsed PEP 508 dependency specification, such as
// `requests[security] >=2.8.1, ==2.8.* ; python_version < "2.7"`.
type Requirement struct {
	// Name is the project name as written.
	Name string
	// Extras are the requested extras, normalised, sorted, without repeats.
	Extras []string
	// Specifier is the version constraint; empty means any version.
	Specifier SpecifierSet
	// URL is set for a direct reference ("name @ https://...").
	URL string
	// Marker limits the requirement to some environments.
	Marker Marker
}

// Project returns the normalised project name.
func (r Requirement) Project() string { return NormalizeName(r.Name) }

// ParseRequirement parses one PEP 508 requirement string.
func ParseRequirement(s string) (Requirement, error) {
	bad := func(msg string) (Requirement, error) {
		return Requirement{}, &SyntaxError{What: "requirement", Input: s, Msg: msg}
	}
	rest := strings.TrimLeft(s, " \t")
	// Name.
	i := 0
	for i < len(rest) && (isIdentByte(rest[i]) || rest[i] == '.' || rest[i] == '-') {
		i++
	}
	var r Requirement
	r.Name = rest[:i]
	if !ValidName(r.Name) {
		if r.Name == "" {
			return bad("want a project name")
		}
		return bad("invalid project name " + r.Name)
	}
	rest = strings.TrimLeft(rest[i:], " \t")
	// Extras.
	if strings.HasPrefix(rest, "[") {
		end := strings.IndexByte(rest, ']')
		if end < 0 {
			return bad("unclosed [")
		}
		inner := strings.TrimSpace(rest[1:end])
		if inner != "" {
			for _, e := range strings.Split(inner, ",") {
				e = strings.TrimSpace(e)
				if !ValidName(e) {
					return bad("invalid extra " + strings.TrimSpace(e))
				}
				r.Extras = append(r.Extras, NormalizeName(e))
			}
		}
		slices.Sort(r.Extras)
		r.Extras = slices.Compact(r.Extras)
		rest = strings.TrimLeft(rest[end+1:], " \t")
	}
	var markerText string
	hasMarker := false
	if strings.HasPrefix(rest, "@") {
		// Direct reference: the URL ends at whitespace; a marker then
		// follows after ";".
		rest = strings.TrimLeft(rest[1:], " \t")
		end := strings.IndexAny(rest, " \t")
		if end < 0 {
			end = len(rest)
		}
		r.URL = rest[:end]
		if r.URL == "" || !strings.Contains(r.URL, ":") {
			return bad("want a URL after @")
		}
		rest = strings.TrimLeft(rest[end:], " \t")
		if rest != "" {
			if rest[0] != ';' {
				return bad("want ; before a marker")
			}
			hasMarker, markerText = true, rest[1:]
		}
	} else {
		spec := rest
		if semi := strings.IndexByte(rest, ';'); semi >= 0 {
			spec, hasMarker, markerText = rest[:semi], true, rest[semi+1:]
		}
		spec = strings.TrimSpace(spec)
		if strings.HasPrefix(spec, "(") {
			if !strings.HasSuffix(spec, ")") {
				return bad("unclosed (")
			}
			spec = spec[1 : len(spec)-1]
		}
		ss, err := ParseSpecifierSet(spec)
		if err != nil {
			return bad(err.(*SyntaxError).Msg)
		}
		r.Specifier = ss
	}
	if hasMarker {
		if strings.TrimSpace(markerText) == "" {
			return bad("empty marker after ;")
		}
		m, err := ParseMarker(markerText)
		if err != nil {
			return bad("marker: " + err.(*SyntaxError).Msg)
		}
		r.Marker = m
	}
	return r, nil
}

// MustParseRequirement is ParseRequirement for constants; it panics on a bad
// requirement.
func MustParseRequirement(s string) Requirement {
	r, err := ParseRequirement(s)
	if err != nil {
		panic(err)
	}
	return r
}

// String returns r in normal form: `name[a,b]>=1.0,<2; marker`.
func (r Requirement) String() string {
	var b strings.Builder
	b.WriteString(r.Name)
	if len(r.Extras) > 0 {
		b.WriteString("[" + strings.Join(r.Extras, ",") + "]")
	}
	if r.URL != "" {
		b.WriteString(" @ " + r.URL)
		if !r.Marker.IsZero() {
			b.WriteString(" ")
		}
	} else {
		b.WriteString(r.Specifier.String())
	}
	if !r.Marker.IsZero() {
		b.WriteString("; " + r.Marker.String())
	}
	return b.String()
}
