package pypi

import (
	"strings"
)

// Specifier is one PEP 440 version clause, such as ">=1.0", "~=2.2",
// "==1.4.*" or "!=3.0".
type Specifier struct {
	// Op is one of "~=", "==", "!=", "<=", ">=", "<", ">", "===".
	Op string
	// Version is the version text after the operator, as written (for
	// "==1.4.*" it is "1.4.*").
	Version string
	v       Version // parsed Version (without ".*"); unset for "==="
	prefix  bool    // "==X.*" or "!=X.*"
}

var specOps = []string{"===", "~=", "==", "!=", "<=", ">=", "<", ">"}

// ParseSpecifier parses one clause such as ">=1.0".
func ParseSpecifier(s string) (Specifier, error) {
	t := strings.TrimSpace(s)
	bad := func(msg string) (Specifier, error) {
		return Specifier{}, &SyntaxError{What: "specifier", Input: s, Msg: msg}
	}
	var sp Specifier
	for _, op := range specOps {
		if strings.HasPrefix(t, op) {
			sp.Op = op
			break
		}
	}
	if sp.Op == "" {
		return bad("want an operator: ~= == != <= >= < > ===")
	}
	ver := strings.TrimSpace(t[len(sp.Op):])
	if ver == "" {
		return bad("no version after " + sp.Op)
	}
	sp.Version = ver
	if sp.Op == "===" {
		if strings.ContainsAny(ver, " \t,;") {
			return bad("arbitrary equality takes one word")
		}
		return sp, nil
	}
	if base, ok := strings.CutSuffix(ver, ".*"); ok {
		if sp.Op != "==" && sp.Op != "!=" {
			return bad(".* is allowed only with == and !=")
		}
		v, err := ParseVersion(base)
		if err != nil {
			return bad("not a PEP 440 version")
		}
		if v.preL != "" || v.hasPost || v.hasDev || len(v.local) > 0 {
			return bad(".* follows a release number only")
		}
		sp.v, sp.prefix = v, true
		return sp, nil
	}
	v, err := ParseVersion(ver)
	if err != nil {
		return bad("not a PEP 440 version")
	}
	if len(v.local) > 0 && sp.Op != "==" && sp.Op != "!=" {
		return bad("a local version label is allowed only with == and !=")
	}
	if sp.Op == "~=" && len(v.release) < 2 {
		return bad("~= needs at least two release numbers")
	}
	sp.v = v
	return sp, nil
}

// String returns the clause in normal form ("==1.0", ">=2.0rc1").
func (s Specifier) String() string {
	switch {
	case s.Op == "===":
		return s.Op + s.Version
	case s.prefix:
		return s.Op + s.v.String() + ".*"
	}
	return s.Op + s.v.String()
}

// AllowsPrereleases reports whether the clause names a pre-release
// explicitly in an inclusive way (">=1.0rc1", "==2.0b2"), which lets
// pre-releases match it.
func (s Specifier) AllowsPrereleases() bool {
	switch s.Op {
	case "==", ">=", "<=", "~=", "===":
		if s.Op == "===" {
			v, err := ParseVersion(s.Version)
			return err == nil && v.IsPrerelease()
		}
		return s.v.IsPrerelease()
	}
	return false
}

// Contains reports whether v satisfies the clause, ignoring pre-release
// policy (see SpecifierSet.Contains for that).
func (s Specifier) Contains(v Version) bool {
	switch s.Op {
	case "===":
		return strings.EqualFold(v.raw, s.Version) || strings.EqualFold(v.String(), s.Version)
	case "==":
		return s.equal(v)
	case "!=":
		return !s.equal(v)
	case "~=":
		if v.Public().Compare(s.v) < 0 {
			return false
		}
		prefix := Specifier{Op: "==", v: Version{epoch: s.v.epoch, release: s.v.release[:len(s.v.release)-1]}, prefix: true}
		return prefix.equal(v)
	case "<=":
		return v.Public().Compare(s.v) <= 0
	case ">=":
		return v.Public().Compare(s.v) >= 0
	case "<":
		if v.Compare(s.v) >= 0 {
			return false
		}
		// "<1.0" excludes 1.0's own pre-releases unless it names one.
		return s.v.IsPrerelease() || !v.IsPrerelease() || v.Base().Compare(s.v.Base()) != 0
	case ">":
		if v.Compare(s.v) <= 0 {
			return false
		}
		// ">1.0" excludes 1.0's post-releases and local versions unless it
		// names a post-release.
		if !s.v.IsPostrelease() && v.IsPostrelease() && v.Base().Compare(s.v.Base()) == 0 {
			return false
		}
		return len(v.local) == 0 || v.Base().Compare(s.v.Base()) != 0
	}
	return false
}

func (s Specifier) equal(v Version) bool {
	if s.prefix {
		if cmpNum(v.epoch, s.v.epoch) != 0 {
			return false
		}
		for i, want := range s.v.release {
			got := "0"
			if i < len(v.release) {
				got = v.release[i]
			}
			if got != want {
				return false
			}
		}
		return true
	}
	if len(s.v.local) == 0 {
		v = v.Public()
	}
	return v.Compare(s.v) == 0
}

// SpecifierSet is a comma-separated list of clauses, all of which must
// hold. The empty set matches every version.
type SpecifierSet []Specifier

// ParseSpecifierSet parses ">=1.0,<2.0,!=1.5" (spaces allowed). The empty
// string is the empty set.
func ParseSpecifierSet(s string) (SpecifierSet, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var out SpecifierSet
	for _, part := range strings.Split(s, ",") {
		sp, err := ParseSpecifier(part)
		if err != nil {
			if se, ok := err.(*SyntaxError); ok && strings.TrimSpace(part) != strings.TrimSpace(s) {
				se.Msg = strings.TrimSpace(part) + ": " + se.Msg
				se.Input = s
			}
			return nil, err
		}
		out = append(out, sp)
	}
	return out, nil
}

// String joins the clauses with ",".
func (ss SpecifierSet) String() string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = s.String()
	}
	return strings.Join(parts, ",")
}

// AllowsPrereleases reports whether any clause names a pre-release.
func (ss SpecifierSet) AllowsPrereleases() bool {
	for _, s := range ss {
		if s.AllowsPrereleases() {
			return true
		}
	}
	return false
}

// Contains reports whether v satisfies every clause. A pre-release
// matches only when prereleases is true or a clause names a pre-release.
func (ss SpecifierSet) Contains(v Version, prereleases bool) bool {
	if v.IsPrerelease() && !prereleases && !ss.AllowsPrereleases() {
		return false
	}
	for _, s := range ss {
		if !s.Contains(v) {
			return false
		}
	}
	return true
}

// Filter returns the versions that satisfy ss, in their order, with the
// packaging library's pre-release rule: pre-releases are left out unless a
// clause names one, or no final release matches at all.
func (ss SpecifierSet) Filter(vs []Version) []Version {
	var final, pre []Version
	for _, v := range vs {
		if !ss.Contains(v, true) {
			continue
		}
		if v.IsPrerelease() && !ss.AllowsPrereleases() {
			pre = append(pre, v)
			continue
		}
		final = append(final, v)
	}
	if len(final) == 0 {
		return pre
	}
	return final
}

// IsPin reports whether ss pins one exact version ("==1.0" or "===1.0"),
// the one case in which PEP 592 lets a yanked file be chosen.
func (ss SpecifierSet) IsPin() bool {
	for _, s := range ss {
		if (s.Op == "==" && !s.prefix) || s.Op == "===" {
			return true
		}
	}
	return false
}
