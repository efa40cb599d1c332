package apt

import (
	"strconv"
	"strings"
)

// Version is a Debian package version, [epoch:]upstream[-revision], as
// described in deb-version(7).
type Version struct {
	// Epoch is the number before the colon; 0 when absent.
	Epoch int
	// Upstream is the part between the epoch and the last hyphen.
	Upstream string
	// Revision is the part after the last hyphen; "" when absent.
	Revision string
}

// ParseVersion parses a Debian version. The upstream part must start with
// a digit (dpkg only warns about this; it is accepted here too, as dpkg
// does, as long as it is non-empty) and holds alphanumerics and . + - ~ :
// (hyphens only with a revision, colons only with an epoch); the revision
// holds alphanumerics and . + ~.
func ParseVersion(s string) (Version, error) {
	in := s
	s = strings.TrimSpace(s)
	var v Version
	if s == "" {
		return v, syntaxError("version", in, "empty")
	}
	if e, rest, ok := strings.Cut(s, ":"); ok {
		n, err := strconv.Atoi(e)
		if err != nil || n < 0 || e == "" || e[0] == '+' {
			return v, syntaxError("version", in, "epoch is not a number")
		}
		v.Epoch, s = n, rest
	}
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		v.Upstream, v.Revision = s[:i], s[i+1:]
		if v.Revision == "" {
			return v, syntaxError("version", in, "empty revision")
		}
	} else {
		v.Upstream = s
	}
	if v.Upstream == "" {
		return v, syntaxError("version", in, "empty upstream version")
	}
	for _, r := range v.Upstream {
		if !isAlnum(r) && !strings.ContainsRune(".+-~:", r) {
			return v, syntaxError("version", in, "invalid character "+strconv.QuoteRune(r)+" in upstream version")
		}
	}
	for _, r := range v.Revision {
		if !isAlnum(r) && !strings.ContainsRune(".+~", r) {
			return v, syntaxError("version", in, "invalid character "+strconv.QuoteRune(r)+" in revision")
		}
	}
	return v, nil
}

func isAlnum(r rune) bool {
	return r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
}

// String returns the version as dpkg writes it (the epoch only when not
// 0, or when the upstream part holds a colon).
func (v Version) String() string {
	var b strings.Builder
	if v.Epoch != 0 || strings.Contains(v.Upstream, ":") {
		b.WriteString(strconv.Itoa(v.Epoch))
		b.WriteByte(':')
	}
	b.WriteString(v.Upstream)
	if v.Revision != "" {
		b.WriteByte('-')
		b.WriteString(v.Revision)
	}
	return b.String()
}

// Compare returns -1, 0 or +1 as v sorts before, equal to or after w, by
// dpkg's rules: epochs numerically, then upstream parts, then revisions
// (an absent revision equals "0"), each compared by verrevcmp.
func (v Version) Compare(w Version) int {
	if v.Epoch != w.Epoch {
		if v.Epoch < w.Epoch {
			return -1
		}
		return 1
	}
	if c := verrevcmp(v.Upstream, w.Upstream); c != 0 {
		return c
	}
	return verrevcmp(v.Revision, w.Revision)
}

// CompareVersions compares two version strings as Version.Compare does.
// A string that does not parse sorts before every one that does; two such
// strings compare as strings.
func CompareVersions(a, b string) int {
	va, erra := ParseVersion(a)
	vb, errb := ParseVersion(b)
	switch {
	case erra != nil && errb != nil:
		return strings.Compare(a, b)
	case erra != nil:
		return -1
	case errb != nil:
		return 1
	}
	return va.Compare(vb)
}

// order is dpkg's weight of a character in the non-digit parts: ~ sorts
// before everything, even the end of the part; then the end; then
// letters; then everything else.
func order(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return 0
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		return int(c)
	case c == '~':
		return -1
	case c != 0:
		return int(c) + 256
	}
	return 0
}

// verrevcmp is dpkg's comparison of upstream versions and revisions:
// alternately a run of non-digits compared with order and a run of digits
// compared numerically.
func verrevcmp(a, b string) int {
	i, j := 0, 0
	at := func(s string, k int) byte {
		if k < len(s) {
			return s[k]
		}
		return 0
	}
	isDigit := func(c byte) bool { return c >= '0' && c <= '9' }
	for i < len(a) || j < len(b) {
		firstDiff := 0
		for i < len(a) && !isDigit(a[i]) || j < len(b) && !isDigit(b[j]) {
			ac, bc := order(at(a, i)), order(at(b, j))
			if ac != bc {
				if ac < bc {
					return -1
				}
				return 1
			}
			i++
			j++
		}
		for at(a, i) == '0' {
			i++
		}
		for at(b, j) == '0' {
			j++
		}
		for isDigit(at(a, i)) && isDigit(at(b, j)) {
			if firstDiff == 0 {
				firstDiff = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		if isDigit(at(a, i)) {
			return 1
		}
		if isDigit(at(b, j)) {
			return -1
		}
		if firstDiff != 0 {
			if firstDiff < 0 {
				return -1
			}
			return 1
		}
	}
	return 0
}
