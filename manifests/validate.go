package manifests

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

var (
	// manifestName keeps a manifest's name usable in file names.
	manifestName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	// groupName keeps group names easy to type on a command line.
	groupName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	// digestPattern is the only digest form accepted.
	digestPattern = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	// sha256Pattern is a lowercase hex SHA-256.
	sha256Pattern = regexp.MustCompile(`^[0-9a-f]{64}$`)
	// platformPattern is "os/arch[/variant]".
	platformPattern = regexp.MustCompile(`^[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9_.]+)?$`)
	// targetName keeps a python target's name usable as a label.
	targetName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	// pythonMinor is "major.minor"; pythonFull "major.minor.micro".
	pythonMinor = regexp.MustCompile(`^[0-9]+\.[0-9]+$`)
	pythonFull  = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)
	// wheelPlatform is the platform a python target accepts wheels for.
	wheelPlatform = regexp.MustCompile(`^manylinux_[a-z0-9_]+$`)
	// glibcVersion is "2.N".
	glibcVersion = regexp.MustCompile(`^2\.[0-9]+$`)
	// projectPrefix is the project name a PEP 508 requirement starts
	// with; the rest is parsed at build time.
	projectPrefix = regexp.MustCompile(`^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?`)
)

// Validate checks m against every rule Parse applies (see the package
// documentation) and returns a *ValidationError listing each problem, or
// nil. Use it on a manifest built in Go; Parse already validates. Lines are
// reported where known: from Parse, else from each item's Line.
func (m *Manifest) Validate() error {
	if errs := m.validate(); len(errs) > 0 {
		return &ValidationError{Errors: errs}
	}
	return nil
}

// checker collects validation errors for one manifest.
type checker struct {
	m    *Manifest
	errs []FieldError
}

// line finds the line of field, falling back to fallback.
func (c *checker) line(field string, fallback int) int {
	if l, ok := c.m.lines[field]; ok {
		return l
	}
	return fallback
}

func (c *checker) errorf(line int, field, format string, args ...any) {
	c.errs = append(c.errs, FieldError{
		Source: c.m.Source,
		Line:   c.line(field, line),
		Field:  field,
		Msg:    fmt.Sprintf(format, args...),
	})
}

// where describes an earlier item for "already listed" messages.
func where(field string, line int) string {
	if line > 0 {
		return fmt.Sprintf("%s (line %d)", field, line)
	}
	return field
}

// seenAt is where a name or path was first taken.
type seenAt struct {
	field string
	line  int
}

func (m *Manifest) validate() []FieldError {
	c := &checker{m: m}
	top := c.line("", 0)
	if strings.TrimSpace(m.Name) == "" {
		c.errorf(top, "name", "required")
	} else if !manifestName.MatchString(m.Name) {
		c.errorf(top, "name", "%q must be letters, digits, '.', '_' and '-', starting with a letter or digit", m.Name)
	}

	declared := map[string]string{} // group name -> field declaring it
	for i, g := range m.Groups {
		field := fmt.Sprintf("groups[%d]", i)
		gl := c.line(field, 0)
		switch {
		case g.Name == "":
			c.errorf(gl, field+".name", "required")
		case !groupName.MatchString(g.Name):
			c.errorf(gl, field+".name", "%q must be lowercase letters, digits, '.', '_' and '-', starting with a letter or digit", g.Name)
		case declared[g.Name] != "":
			c.errorf(gl, field+".name", "group %q is already declared at %s", g.Name, where(declared[g.Name], c.line(declared[g.Name], 0)))
		default:
			declared[g.Name] = field + ".name"
		}
	}

	refs := map[string]seenAt{}  // canonical upstream reference -> where
	names := map[string]seenAt{} // mirror name -> where
	for i, img := range m.Images {
		field := fmt.Sprintf("images[%d]", i)
		c.groups(img.Groups, field+".groups", img.Line, declared)

		refField := field + ".ref"
		primary := ""
		if img.Ref == "" {
			c.errorf(img.Line, refField, "required")
		} else if r, err := parseRef(img.Ref); err != nil {
			c.errorf(img.Line, refField, "%v", err)
		} else {
			canon := r.host + "/" + r.repo + ":" + r.tag
			primary = r.mirrorRepo() + ":" + r.tag
			if prev, ok := refs[canon]; ok {
				c.errorf(img.Line, refField, "%q is already listed as %s", img.Ref, where(prev.field, prev.line))
			} else {
				refs[canon] = seenAt{refField, c.line(refField, img.Line)}
				if prev, ok := names[primary]; ok {
					c.errorf(img.Line, refField, "mirror name %q is already taken by %s", primary, where(prev.field, prev.line))
				} else {
					names[primary] = seenAt{refField, c.line(refField, img.Line)}
				}
			}
		}

		if img.Digest != "" && !digestPattern.MatchString(img.Digest) {
			c.errorf(img.Line, field+".digest", "%q must be \"sha256:\" and 64 lowercase hex digits", img.Digest)
		}

		seenPlat := map[string]bool{}
		for j, p := range img.Platforms {
			pf := fmt.Sprintf("%s.platforms[%d]", field, j)
			switch {
			case !platformPattern.MatchString(p):
				c.errorf(img.Line, pf, "%q must be \"os/arch\" or \"os/arch/variant\", e.g. %q", p, DefaultPlatform)
			case seenPlat[p]:
				c.errorf(img.Line, pf, "%q is repeated", p)
			}
			seenPlat[p] = true
		}

		for j, a := range img.Aliases {
			af := fmt.Sprintf("%s.aliases[%d]", field, j)
			n, err := aliasName(a)
			if err != nil {
				c.errorf(img.Line, af, "%v", err)
				continue
			}
			if n == primary {
				c.errorf(img.Line, af, "%q is the image's own mirror name", a)
				continue
			}
			if prev, ok := names[n]; ok {
				c.errorf(img.Line, af, "mirror name %q is already taken by %s", n, where(prev.field, prev.line))
				continue
			}
			names[n] = seenAt{af, c.line(af, img.Line)}
		}
	}

	paths := map[string]seenAt{} // mirror path -> where
	for i, f := range m.Files {
		field := fmt.Sprintf("files[%d]", i)
		c.groups(f.Groups, field+".groups", f.Line, declared)

		mine := map[string]bool{}
		claim := func(p, pf string) {
			if mine[p] {
				c.errorf(f.Line, pf, "path %q is repeated", p)
				return
			}
			mine[p] = true
			if prev, ok := paths[p]; ok {
				c.errorf(f.Line, pf, "path %q is already served for %s", p, where(prev.field, prev.line))
				return
			}
			paths[p] = seenAt{pf, c.line(pf, f.Line)}
		}

		if strings.IndexFunc(f.Name, unicode.IsControl) >= 0 {
			c.errorf(f.Line, field+".name", "%q must not contain control characters", f.Name)
		}
		urlField := field + ".url"
		if f.URL == "" {
			c.errorf(f.Line, urlField, "required")
		} else if err := checkURL(f.URL, true); err != nil {
			c.errorf(f.Line, urlField, "%v", err)
		} else {
			up, _ := upstreamPath(f.URL)
			if err := checkPath(up); err != nil {
				c.errorf(f.Line, urlField, "gives the mirror path %q, which %v", up, err)
			} else {
				claim(up, urlField)
			}
		}
		seenURL := map[string]bool{f.URL: true}
		for j, a := range f.Alternates {
			af := fmt.Sprintf("%s.alternates[%d]", field, j)
			if err := checkURL(a, false); err != nil {
				c.errorf(f.Line, af, "%v", err)
			} else if seenURL[a] {
				c.errorf(f.Line, af, "%q is repeated", a)
			}
			seenURL[a] = true
		}

		hasReason := strings.TrimSpace(f.NoChecksum) != ""
		switch {
		case f.SHA256 != "" && f.NoChecksum != "":
			c.errorf(f.Line, field+".sha256", "set either sha256 or no_checksum, not both")
		case f.SHA256 != "":
			if !sha256Pattern.MatchString(f.SHA256) {
				c.errorf(f.Line, field+".sha256", "%q must be 64 lowercase hex digits", f.SHA256)
			}
		case f.NoChecksum != "" && !hasReason:
			c.errorf(f.Line, field+".no_checksum", "must say why upstream publishes no checksum")
		case !hasReason:
			c.errorf(f.Line, field+".sha256", "required (or say in no_checksum why upstream publishes none)")
		}

		for j, p := range f.Paths {
			pf := fmt.Sprintf("%s.paths[%d]", field, j)
			if err := checkPath(p); err != nil {
				c.errorf(f.Line, pf, "%q %v", p, err)
				continue
			}
			claim(p, pf)
		}
	}

	if m.Python != nil {
		c.python(m.Python, declared)
	}
	c.apt(m.Apt, declared, paths)
	return c.errs
}

var (
	// aptTarget is "{ID}-{VERSION_ID}" of os-release, lowercase.
	aptTarget = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	// aptWord is a suite, component or architecture: a clean relative
	// path of simple words (a suite may be "stable/updates").
	aptWord = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+~-]*(?:/[A-Za-z0-9][A-Za-z0-9._+~-]*)*$`)
	// aptArch is a dpkg architecture name.
	aptArch = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	// aptPackage is the package name an apt package entry starts with.
	aptPackage = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+`)
	// fingerprint is 40 or 64 hex digits once spaces are removed.
	fingerprintPattern = regexp.MustCompile(`^(?:[0-9A-Fa-f]{40}|[0-9A-Fa-f]{64})$`)
)

// ValidAptName reports whether s may name an apt entry (a label: letters,
// digits, '.', '_', '-').
func ValidAptName(s string) bool { return targetName.MatchString(s) }

// ValidAptTarget reports whether s is a target: lowercase
// "{ID}-{VERSION_ID}" of os-release.
func ValidAptTarget(s string) bool { return aptTarget.MatchString(s) }

// ValidAptWord reports whether s may be an apt suite or component: simple
// words, a suite possibly holding '/', never "..".
func ValidAptWord(s string) bool {
	return aptWord.MatchString(s) && !slices.Contains(strings.Split(s, "/"), "..")
}

// ValidAptArchitecture reports whether s is a dpkg architecture an apt
// entry may name ("all" is not: it goes with every one).
func ValidAptArchitecture(s string) bool { return aptArch.MatchString(s) && s != "all" }

// apt checks the apt entries; paths holds the files' mirror paths, which
// a repository's tree and keys must not take.
func (c *checker) apt(entries []Apt, declared map[string]string, paths map[string]seenAt) {
	names := map[string]string{}
	suites := map[string]string{} // prefix + "/dists/" + suite -> field
	keys := map[string]string{}   // key path -> key URL
	for i, a := range entries {
		field := fmt.Sprintf("apt[%d]", i)
		line := c.line(field, a.Line)
		c.groups(a.Groups, field+".groups", line, declared)
		switch {
		case a.Name == "":
			c.errorf(line, field+".name", "required, e.g. \"ubuntu-bionic\"")
		case !ValidAptName(a.Name):
			c.errorf(line, field+".name", "%q may hold only letters, digits, '.', '_' and '-'", a.Name)
		case names[a.Name] != "":
			c.errorf(line, field+".name", "repository %q is already listed as %s", a.Name, where(names[a.Name], c.line(names[a.Name], 0)))
		default:
			names[a.Name] = field + ".name"
		}
		switch {
		case a.Target == "":
			c.errorf(line, field+".target", "required: the machines' {ID}-{VERSION_ID} from /etc/os-release, e.g. \"ubuntu-18.04\"")
		case !ValidAptTarget(a.Target):
			c.errorf(line, field+".target", "%q must be lowercase {ID}-{VERSION_ID}, e.g. \"ubuntu-18.04\"", a.Target)
		}
		prefix := ""
		if a.URL == "" {
			c.errorf(line, field+".url", "required: the repository root holding dists/ and pool/")
		} else if err := checkURL(a.URL, false); err != nil {
			c.errorf(line, field+".url", "%v", err)
		} else if u, _ := url.Parse(a.URL); u.RawQuery != "" || u.Fragment != "" {
			c.errorf(line, field+".url", "%q must not have a query or fragment", a.URL)
		} else {
			prefix = a.MirrorPrefix()
			if prefix == "" {
				c.errorf(line, field+".url", "%q needs a host", a.URL)
				prefix = ""
			} else if err := checkPath(prefix + "/dists"); err != nil {
				c.errorf(line, field+".url", "gives the mirror path %q, which %v", prefix, err)
				prefix = ""
			}
		}
		switch {
		case a.Flat && len(a.Suites) > 0:
			c.errorf(line, field+".suites", "a flat repository has no suites (its sources line is \"deb URL ./\")")
		case a.Flat && len(a.Components) > 0:
			c.errorf(line, field+".components", "a flat repository has no components")
		case !a.Flat && len(a.Suites) == 0:
			c.errorf(line, field+".suites", "required: at least one suite, e.g. \"bionic\" (or flat: true)")
		}
		if a.Flat && prefix != "" {
			k := prefix + "/"
			if prev, ok := suites[k]; ok {
				c.errorf(line, field+".url", "the flat repository %s is already mirrored by %s", a.URL, where(prev, c.line(prev, 0)))
			}
			suites[k] = field + ".url"
		}
		for j, s := range a.Suites {
			sf := fmt.Sprintf("%s.suites[%d]", field, j)
			if !ValidAptWord(s) {
				c.errorf(line, sf, "%q is not a suite name, e.g. \"bionic-updates\"", s)
				continue
			}
			if prefix == "" {
				continue
			}
			k := prefix + "/dists/" + s
			if prev, ok := suites[k]; ok {
				c.errorf(line, sf, "suite %q of %s is already mirrored by %s", s, a.URL, where(prev, c.line(prev, 0)))
				continue
			}
			suites[k] = sf
		}
		if len(a.Components) == 0 && !a.Flat {
			c.errorf(line, field+".components", "required: at least one component, e.g. \"main\"")
		}
		for j, s := range a.Components {
			if !ValidAptWord(s) {
				c.errorf(line, fmt.Sprintf("%s.components[%d]", field, j), "%q is not a component name, e.g. \"main\"", s)
			}
		}
		for j, s := range a.Architectures {
			if !ValidAptArchitecture(s) {
				c.errorf(line, fmt.Sprintf("%s.architectures[%d]", field, j), "%q is not a dpkg architecture, e.g. \"amd64\"", s)
			}
		}
		for j, s := range a.Packages {
			if !aptPackage.MatchString(strings.TrimSpace(s)) {
				c.errorf(line, fmt.Sprintf("%s.packages[%d]", field, j), "%q must start with a package name, e.g. \"curl\" or \"docker-ce=5:18.09.7~3-0~ubuntu-bionic\"", s)
			}
		}
		fpr := strings.ReplaceAll(a.Key.Fingerprint, " ", "")
		if a.Key.Fingerprint == "" {
			c.errorf(line, field+".key.fingerprint", "required: the signing key's fingerprint, 40 hex digits")
		} else if !fingerprintPattern.MatchString(fpr) {
			c.errorf(line, field+".key.fingerprint", "%q must be 40 hex digits (spaces allowed)", a.Key.Fingerprint)
		}
		kf := field + ".key.url"
		if a.Key.URL == "" {
			c.errorf(line, kf, "required: where the signing key is published")
		} else if err := checkURL(a.Key.URL, true); err != nil {
			c.errorf(line, kf, "%v", err)
		} else {
			kp := a.Key.KeyPath()
			if err := checkPath(kp); err != nil {
				c.errorf(line, kf, "gives the mirror path %q, which %v", kp, err)
			} else if prev, ok := paths[kp]; ok {
				c.errorf(line, kf, "mirror path %q is already served for %s", kp, where(prev.field, prev.line))
			} else if prevURL, ok := keys[kp]; ok && prevURL != a.Key.URL {
				c.errorf(line, kf, "gives the mirror path %q, which %s also gives", kp, prevURL)
			} else {
				keys[kp] = a.Key.URL
			}
		}
		if prefix != "" {
			for p, at := range paths {
				if strings.HasPrefix(p, prefix+"/dists/") || strings.HasPrefix(p, prefix+"/pool/") || (a.Flat && strings.HasPrefix(p, prefix+"/")) {
					c.errorf(line, field+".url", "the repository's tree under %s takes the path %q of %s", prefix, p, where(at.field, at.line))
				}
			}
		}
	}
}

// python checks the python section. Requirement strings are only checked
// to start with a project name: build parses them in full (PEP 508).
func (c *checker) python(py *Python, declared map[string]string) {
	const field = "python"
	line := c.line(field, py.Line)
	c.groups(py.Groups, field+".groups", line, declared)
	for _, u := range []struct{ key, url string }{{"index", py.Index}, {"simple", py.Simple}} {
		if u.url == "" {
			continue
		}
		if err := checkURL(u.url, false); err != nil {
			c.errorf(line, field+"."+u.key, "%v", err)
		}
	}

	if len(py.Targets) == 0 {
		c.errorf(line, field+".targets", "required: at least one target (name, python, platform)")
	}
	names := map[string]string{}
	for i, t := range py.Targets {
		tf := fmt.Sprintf("%s.targets[%d]", field, i)
		tl := c.line(tf, t.Line)
		switch {
		case t.Name == "":
			c.errorf(tl, tf+".name", "required")
		case !targetName.MatchString(t.Name):
			c.errorf(tl, tf+".name", "%q must be letters, digits, '.', '_' and '-', starting with a letter or digit", t.Name)
		case names[t.Name] != "":
			c.errorf(tl, tf+".name", "target %q is already listed as %s", t.Name, where(names[t.Name], c.line(names[t.Name], 0)))
		default:
			names[t.Name] = tf + ".name"
		}
		switch {
		case t.Python == "":
			c.errorf(tl, tf+".python", "required, e.g. \"3.6\"")
		case !pythonMinor.MatchString(t.Python):
			c.errorf(tl, tf+".python", "%q must be major.minor, e.g. \"3.6\"", t.Python)
		}
		if t.PythonFull != "" {
			switch {
			case !pythonFull.MatchString(t.PythonFull):
				c.errorf(tl, tf+".python_full", "%q must be major.minor.micro, e.g. \"3.6.9\"", t.PythonFull)
			case pythonMinor.MatchString(t.Python) && !strings.HasPrefix(t.PythonFull, t.Python+"."):
				c.errorf(tl, tf+".python_full", "%q is not a release of python %s", t.PythonFull, t.Python)
			}
		}
		switch {
		case t.Platform == "":
			c.errorf(tl, tf+".platform", "required, e.g. \"manylinux_x86_64\"")
		case !wheelPlatform.MatchString(t.Platform):
			c.errorf(tl, tf+".platform", "%q must be manylinux_<arch>, e.g. \"manylinux_x86_64\" (Linux with glibc)", t.Platform)
		}
		if t.Glibc != "" && !glibcVersion.MatchString(t.Glibc) {
			c.errorf(tl, tf+".glibc", "%q must be a glibc version 2.N, e.g. \"2.27\"", t.Glibc)
		}
	}

	if len(py.Installs) == 0 {
		c.errorf(line, field+".installs", "required: at least one install (name, requirements)")
	}
	installs := map[string]string{}
	for i, in := range py.Installs {
		inf := fmt.Sprintf("%s.installs[%d]", field, i)
		il := c.line(inf, in.Line)
		switch {
		case strings.TrimSpace(in.Name) == "":
			c.errorf(il, inf+".name", "required")
		case installs[in.Name] != "":
			c.errorf(il, inf+".name", "install %q is already listed as %s", in.Name, where(installs[in.Name], c.line(installs[in.Name], 0)))
		default:
			installs[in.Name] = inf + ".name"
		}
		if len(in.Requirements) == 0 {
			c.errorf(il, inf+".requirements", "required: at least one requirement, e.g. \"jinja2==2.11.2\"")
		}
		for j, r := range in.Requirements {
			rf := fmt.Sprintf("%s.requirements[%d]", inf, j)
			if !projectPrefix.MatchString(strings.TrimSpace(r)) {
				c.errorf(il, rf, "%q must start with a project name (PEP 508), e.g. \"jinja2==2.11.2\"", r)
			}
		}
	}
}

// groups checks an item's group list.
func (c *checker) groups(groups []string, field string, line int, declared map[string]string) {
	seen := map[string]bool{}
	for j, g := range groups {
		gf := fmt.Sprintf("%s[%d]", field, j)
		switch {
		case declared[g] == "":
			c.errorf(line, gf, "group %q is not declared under groups", g)
		case seen[g]:
			c.errorf(line, gf, "group %q is repeated", g)
		}
		seen[g] = true
	}
}

// checkURL checks a file URL: http or https, with a host, no credentials,
// none of the characters a shell or a quoted string gives a meaning to
// (unsafeURLChar), and (for the primary URL, whose path names the file) a
// path that does not end in '/'.
func checkURL(raw string, primary bool) error {
	if i := strings.IndexFunc(raw, unsafeURLChar); i >= 0 {
		// Name the character, not the URL, which might hold credentials.
		r, _ := utf8.DecodeRuneInString(raw[i:])
		return fmt.Errorf("must not contain whitespace, control characters, quotes, '\\', '`' or '$' (found %q at byte %d); percent-encode it", r, i)
	}
	u, err := url.Parse(raw)
	if err != nil {
		// Report the cause without the URL, which might hold credentials.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("is not a valid URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q must be an http or https URL", raw)
	}
	if u.Opaque != "" || u.Host == "" {
		return fmt.Errorf("%q has no host", raw)
	}
	if u.User != nil {
		// Do not echo the URL: it holds a password or token.
		return fmt.Errorf("must not hold credentials (user:password@): a manifest is meant to be shared")
	}
	if primary && (u.Path == "" || strings.HasSuffix(u.Path, "/")) {
		return fmt.Errorf("%q must name a file (its path may not be empty or end in '/')", raw)
	}
	return nil
}

// ReservedPaths are the paths of paimirror serve's own pages; no file may
// be served at them.
var ReservedPaths = []string{"/paimirror.json", "/config.txt", "/config.yaml", "/daemon.json", "/healthz", "/metrics", "/paimirror-ca.crt"}

// PythonPrefix is where paimirror serve publishes the python packages
// (PythonPrefix+"/simple/" is pip's index URL); no file may be served at or
// under it.
const PythonPrefix = "/pypi"

// checkPath checks a mirror path; the error completes a sentence about it.
func checkPath(p string) error {
	switch {
	case !strings.HasPrefix(p, "/"):
		return fmt.Errorf("must be absolute (start with '/')")
	case p == "/":
		return fmt.Errorf("must name a file, not the root")
	case path.Clean(p) != p:
		return fmt.Errorf("is not clean (it should read %q)", path.Clean(p))
	case slices.Contains(strings.Split(p, "/"), ".."):
		return fmt.Errorf("must not contain \"..\"")
	case p == "/v2" || strings.HasPrefix(p, "/v2/"):
		return fmt.Errorf("must not start with /v2: that prefix belongs to the registry")
	case p == PythonPrefix || strings.HasPrefix(p, PythonPrefix+"/"):
		return fmt.Errorf("must not start with %s: that prefix belongs to the Python package index", PythonPrefix)
	case slices.Contains(ReservedPaths, p):
		return fmt.Errorf("is one of paimirror serve's own pages (%s)", strings.Join(ReservedPaths, ", "))
	case strings.ContainsAny(p, "?#\\"):
		return fmt.Errorf("must not contain '?', '#' or '\\'")
	case strings.IndexFunc(p, unicode.IsControl) >= 0:
		return fmt.Errorf("must not contain control characters")
	case strings.IndexFunc(p, unsafePathChar) >= 0:
		r, _ := utf8.DecodeRuneInString(p[strings.IndexFunc(p, unsafePathChar):])
		return fmt.Errorf("must hold only ASCII letters, digits and / . _ - ~ + , : = @ (found %q)", r)
	}
	return nil
}

// unsafeURLChar reports whether r may not appear in a manifest's URL, even
// percent-encoding aside: URLs end up in config pasted into shells and in
// quoted strings.
func unsafeURLChar(r rune) bool {
	return unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError || strings.ContainsRune("\"'`$\\", r)
}

// unsafePathChar reports whether r is outside the characters a mirror path
// may hold: ASCII letters, digits and "/._-~+,:=@".
func unsafePathChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		return false
	}
	return !strings.ContainsRune("/._-~+,:=@", r)
}
