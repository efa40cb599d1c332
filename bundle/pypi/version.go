package pypi

import (
	"regexp"
	"strings"
)

// versionPattern is PEP 440's permissive version syntax (the one the
// packaging library accepts), anchored, case-insensitive.
var versionPattern = regexp.MustCompile(`(?i)^v?` +
	`(?:([0-9]+)!)?` + // epoch
	`([0-9]+(?:\.[0-9]+)*)` + // release
	`(?:[-_.]?(a|b|c|rc|alpha|beta|pre|preview)[-_.]?([0-9]+)?)?` + // pre
	`(?:-([0-9]+)|[-_.]?(post|rev|r)[-_.]?([0-9]+)?)?` + // post
	`(?:[-_.]?(dev)[-_.]?([0-9]+)?)?` + // dev
	`(?:\+([a-z0-9]+(?:[-_.][a-z0-9]+)*))?$`) // local

// Version is a PEP 440 version. Numbers are kept as decimal strings, so a
// version of any length compares correctly. The zero Version is not valid;
// use ParseVersion.
type Version struct {
	raw     string
	epoch   string
	release []string
	preL    string // "a", "b", "rc" or ""
	preN    string
	post    string // "" when absent
	hasPost bool
	dev     string
	hasDev  bool
	local   []string
}

// ParseVersion parses a PEP 440 version such as "1.0", "2.0.0rc1",
// "1!2.0.post1.dev3+local.7". Leading "v", surrounding spaces, upper case
// and the alternative spellings PEP 440 allows ("1.0-alpha.1", "1.0-1")
// are accepted and normalised.
func ParseVersion(s string) (Version, error) {
	t := strings.TrimSpace(s)
	m := versionPattern.FindStringSubmatch(t)
	if m == nil {
		return Version{}, &SyntaxError{What: "version", Input: s, Msg: "not a PEP 440 version"}
	}
	v := Version{raw: t, epoch: normNum(m[1])}
	for _, p := range strings.Split(m[2], ".") {
		v.release = append(v.release, normNum(p))
	}
	if m[3] != "" {
		switch strings.ToLower(m[3]) {
		case "a", "alpha":
			v.preL = "a"
		case "b", "beta":
			v.preL = "b"
		default:
			v.preL = "rc"
		}
		v.preN = normNum(m[4])
	}
	switch {
	case m[5] != "":
		v.hasPost, v.post = true, normNum(m[5])
	case m[6] != "":
		v.hasPost, v.post = true, normNum(m[7])
	}
	if m[8] != "" {
		v.hasDev, v.dev = true, normNum(m[9])
	}
	if m[10] != "" {
		for _, p := range strings.FieldsFunc(strings.ToLower(m[10]), func(r rune) bool { return r == '.' || r == '-' || r == '_' }) {
			if isDigits(p) {
				p = normNum(p)
			}
			v.local = append(v.local, p)
		}
	}
	return v, nil
}

// MustParseVersion is ParseVersion for constants; it panics on a bad version.
func MustParseVersion(s string) Version {
	v, err := ParseVersion(s)
	if err != nil {
		panic(err)
	}
	return v
}

// IsValid reports whether v came from a successful parse.
func (v Version) IsValid() bool { return len(v.release) > 0 }

// Raw returns the version as it was written.
func (v Version) Raw() string { return v.raw }

// String returns the normalised form of v ("1.0rc1", "2.0.post1.dev0").
func (v Version) String() string {
	if !v.IsValid() {
		return ""
	}
	var b strings.Builder
	if v.epoch != "0" {
		b.WriteString(v.epoch + "!")
	}
	b.WriteString(strings.Join(v.release, "."))
	if v.preL != "" {
		b.WriteString(v.preL + v.preN)
	}
	if v.hasPost {
		b.WriteString(".post" + v.post)
	}
	if v.hasDev {
		b.WriteString(".dev" + v.dev)
	}
	if len(v.local) > 0 {
		b.WriteString("+" + strings.Join(v.local, "."))
	}
	return b.String()
}

// IsPrerelease reports whether v is a pre-release or a development release.
func (v Version) IsPrerelease() bool { return v.preL != "" || v.hasDev }

// IsPostrelease reports whether v is a post-release.
func (v Version) IsPostrelease() bool { return v.hasPost }

// Public returns v without its local label.
func (v Version) Public() Version {
	v.local = nil
	v.raw = v.String()
	return v
}

// Base returns the epoch and release of v alone ("1.0rc1.post2" → "1.0").
func (v Version) Base() Version {
	return Version{raw: v.raw, epoch: v.epoch, release: v.release}
}

// Compare returns -1, 0 or +1 as v sorts before, equal to or after w in
// PEP 440 order. "1.0" and "1.0.0" are equal.
func (v Version) Compare(w Version) int {
	if c := cmpNum(v.epoch, w.epoch); c != 0 {
		return c
	}
	n := max(len(v.release), len(w.release))
	for i := range n {
		a, b := "0", "0"
		if i < len(v.release) {
			a = v.release[i]
		}
		if i < len(w.release) {
			b = w.release[i]
		}
		if c := cmpNum(a, b); c != 0 {
			return c
		}
	}
	// Pre-release: a dev release of a final sorts before its pre-releases;
	// no pre-release sorts after every pre-release.
	if c := cmpPre(v, w); c != 0 {
		return c
	}
	// Post: absent sorts first.
	if c := cmpOptional(v.hasPost, v.post, w.hasPost, w.post, -1); c != 0 {
		return c
	}
	// Dev: absent sorts last.
	if c := cmpOptional(v.hasDev, v.dev, w.hasDev, w.dev, +1); c != 0 {
		return c
	}
	return cmpLocal(v.local, w.local)
}

// preRank orders the pre-release part: -1 for a bare dev release, +1 for
// none, 0 for a real pre-release (then compared by letter and number).
func preRank(v Version) int {
	switch {
	case v.preL == "" && !v.hasPost && v.hasDev:
		return -1
	case v.preL == "":
		return 1
	}
	return 0
}

func cmpPre(v, w Version) int {
	rv, rw := preRank(v), preRank(w)
	if rv != rw {
		return cmpInt(rv, rw)
	}
	if rv != 0 {
		return 0
	}
	if v.preL != w.preL {
		return strings.Compare(v.preL, w.preL) // "a" < "b" < "rc"
	}
	return cmpNum(v.preN, w.preN)
}

// cmpOptional compares an optional number; absent sorts at absentSide.
func cmpOptional(hasA bool, a string, hasB bool, b string, absentSide int) int {
	switch {
	case !hasA && !hasB:
		return 0
	case !hasA:
		return absentSide
	case !hasB:
		return -absentSide
	}
	return cmpNum(a, b)
}

// cmpLocal compares local labels: absent sorts first; numeric parts sort
// after alphanumeric ones and compare as numbers; a longer label that
// shares a prefix sorts last.
func cmpLocal(a, b []string) int {
	if len(a) == 0 || len(b) == 0 {
		return cmpInt(len(a), len(b))
	}
	for i := 0; i < len(a) && i < len(b); i++ {
		na, nb := isDigits(a[i]), isDigits(b[i])
		switch {
		case na && nb:
			if c := cmpNum(a[i], b[i]); c != 0 {
				return c
			}
		case na:
			return 1
		case nb:
			return -1
		default:
			if c := strings.Compare(a[i], b[i]); c != 0 {
				return c
			}
		}
	}
	return cmpInt(len(a), len(b))
}

// normNum strips leading zeros from a decimal string; "" becomes "0".
func normNum(s string) string {
	s = strings.TrimLeft(s, "0")
	if s == "" {
		return "0"
	}
	return s
}

// cmpNum compares two normalised decimal strings numerically.
func cmpNum(a, b string) int {
	if len(a) != len(b) {
		return cmpInt(len(a), len(b))
	}
	return strings.Compare(a, b)
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
