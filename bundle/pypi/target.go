package pypi

import (
	"fmt"
	"strconv"
	"strings"
)

// Target is the Python a resolution is for: which interpreter and platform
// will run pip, and so which environment markers hold and which wheels it
// installs.
type Target struct {
	// Name labels the target in errors and results ("ubuntu-18.04");
	// default: "cp<ver>-<platform>".
	Name string
	// Python is the interpreter's major.minor version, e.g. "3.6".
	// Required.
	Python string
	// PythonFull is the full version for python_full_version markers, e.g.
	// "3.6.9"; default Python+".0".
	PythonFull string
	// Platform is "manylinux_<arch>": Linux with glibc on that
	// architecture, e.g. "manylinux_x86_64". Required.
	Platform string
	// Glibc is the target's glibc version ("2.27"): the newest
	// manylinux_2_X wheels it accepts. Default "2.17", which every
	// manylinux2014 system has.
	Glibc string
	// Markers overrides or adds marker environment values.
	Markers map[string]string
}

// String returns the target's Name, or a description when it has none.
func (t Target) String() string {
	if t.Name != "" {
		return t.Name
	}
	return fmt.Sprintf("cp%s-%s", strings.ReplaceAll(t.Python, ".", ""), t.Platform)
}

// pythonVersion returns major and minor.
func (t Target) pythonVersion() (int, int, error) {
	maj, min, ok := strings.Cut(t.Python, ".")
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if !ok || err1 != nil || err2 != nil || a < 2 || b < 0 || b > 99 {
		return 0, 0, fmt.Errorf("target %s: python %q: %w: want major.minor such as 3.6", t, t.Python, ErrUnsupported)
	}
	return a, b, nil
}

func (t Target) arch() (string, error) {
	arch, ok := strings.CutPrefix(t.Platform, "manylinux_")
	if !ok || arch == "" || strings.ContainsAny(arch, " -.") {
		return "", fmt.Errorf("target %s: platform %q: %w: want manylinux_<arch> such as manylinux_x86_64", t, t.Platform, ErrUnsupported)
	}
	return arch, nil
}

func (t Target) glibc() (int, int, error) {
	g := t.Glibc
	if g == "" {
		g = "2.17"
	}
	maj, min, ok := strings.Cut(g, ".")
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if !ok || err1 != nil || err2 != nil || a != 2 || b < 0 || b > 99 {
		return 0, 0, fmt.Errorf("target %s: glibc %q: %w: want 2.N", t, t.Glibc, ErrUnsupported)
	}
	return a, b, nil
}

// Validate checks that the target's fields are understood.
func (t Target) Validate() error {
	if _, _, err := t.pythonVersion(); err != nil {
		return err
	}
	if _, err := t.arch(); err != nil {
		return err
	}
	_, _, err := t.glibc()
	return err
}

// Env returns the PEP 508 marker environment of the target: CPython on
// Linux, with Markers applied on top. "extra" is not set.
func (t Target) Env() map[string]string {
	full := t.PythonFull
	if full == "" {
		full = t.Python + ".0"
	}
	arch, _ := t.arch()
	env := map[string]string{
		"python_version":                 t.Python,
		"python_full_version":            full,
		"implementation_version":         full,
		"implementation_name":            "cpython",
		"platform_python_implementation": "CPython",
		"os_name":                        "posix",
		"sys_platform":                   "linux",
		"platform_system":                "Linux",
		"platform_machine":               arch,
		"platform_release":               "",
		"platform_version":               "",
	}
	for k, v := range t.Markers {
		env[k] = v
	}
	return env
}

// Tags returns the wheel tags ("cp36-cp36m-manylinux_2_17_x86_64") the
// target installs, most preferred first, in the order pip 20.3's vendored
// packaging library gives for CPython on Linux: the interpreter's own ABI,
// then abi3, then no ABI, on every manylinux platform from the newest glibc
// down, then linux_<arch>; then abi3 wheels for older CPythons; then
// pure-Python tags (py36, py3, py35 ... py30) with platforms, cp36-none-any,
// and pyXY-none-any.
func (t Target) Tags() ([]string, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	major, minor, _ := t.pythonVersion()
	arch, _ := t.arch()
	_, gmin, _ := t.glibc()
	oldest := 17 // manylinux's floor, except on x86 where manylinux1 is glibc 2.5
	if arch == "x86_64" || arch == "i686" {
		oldest = 5
	}
	var plats []string
	for m := gmin; m >= oldest; m-- {
		plats = append(plats, fmt.Sprintf("manylinux_2_%d_%s", m, arch))
		switch m {
		case 17:
			plats = append(plats, "manylinux2014_"+arch)
		case 12:
			plats = append(plats, "manylinux2010_"+arch)
		case 5:
			plats = append(plats, "manylinux1_"+arch)
		}
	}
	plats = append(plats, "linux_"+arch)

	nodot := func(maj, min int) string { return fmt.Sprintf("%d%d", maj, min) }
	interp := "cp" + nodot(major, minor)
	abi := interp
	if major == 3 && minor < 8 || major == 2 {
		abi += "m" // pymalloc builds before 3.8
	}
	var tags []string
	add := func(py, abi string) {
		for _, p := range plats {
			tags = append(tags, py+"-"+abi+"-"+p)
		}
	}
	add(interp, abi)
	abi3 := major == 3 && minor >= 2
	if abi3 {
		add(interp, "abi3")
	}
	add(interp, "none")
	if abi3 {
		for m := minor - 1; m >= 2; m-- {
			add("cp"+nodot(major, m), "abi3")
		}
	}
	pys := []string{"py" + nodot(major, minor), fmt.Sprintf("py%d", major)}
	for m := minor - 1; m >= 0; m-- {
		pys = append(pys, "py"+nodot(major, m))
	}
	for _, py := range pys {
		add(py, "none")
	}
	tags = append(tags, interp+"-none-any")
	for _, py := range pys {
		tags = append(tags, py+"-none-any")
	}
	return tags, nil
}

// tagRanks maps each tag of Tags to its position.
func (t Target) tagRanks() (map[string]int, error) {
	tags, err := t.Tags()
	if err != nil {
		return nil, err
	}
	ranks := make(map[string]int, len(tags))
	for i, tag := range tags {
		ranks[tag] = i
	}
	return ranks, nil
}

// WheelName is a parsed wheel filename,
// {name}-{version}(-{build})?-{python}-{abi}-{platform}.whl.
type WheelName struct {
	Name, Version, Build string
	// Tags is the expansion of the compressed tag sets: every
	// python-abi-platform combination the file claims.
	Tags []string
}

// ParseWheelName parses a wheel filename such as
// "cryptography-3.3.2-cp36-abi3-manylinux2010_x86_64.whl".
func ParseWheelName(filename string) (WheelName, error) {
	bad := func(msg string) (WheelName, error) {
		return WheelName{}, &SyntaxError{What: "wheel filename", Input: filename, Msg: msg}
	}
	base, ok := strings.CutSuffix(filename, ".whl")
	if !ok {
		return bad("does not end in .whl")
	}
	parts := strings.Split(base, "-")
	if len(parts) != 5 && len(parts) != 6 {
		return bad("want name-version[-build]-python-abi-platform.whl")
	}
	for _, p := range parts {
		if p == "" {
			return bad("empty field")
		}
	}
	w := WheelName{Name: parts[0], Version: parts[1]}
	if len(parts) == 6 {
		w.Build = parts[2]
		if w.Build[0] < '0' || w.Build[0] > '9' {
			return bad("build tag must start with a digit")
		}
	}
	n := len(parts)
	for _, py := range strings.Split(parts[n-3], ".") {
		for _, abi := range strings.Split(parts[n-2], ".") {
			for _, plat := range strings.Split(parts[n-1], ".") {
				if py == "" || abi == "" || plat == "" {
					return bad("empty tag")
				}
				w.Tags = append(w.Tags, strings.ToLower(py+"-"+abi+"-"+plat))
			}
		}
	}
	if len(w.Tags) > 256 {
		return bad("too many tags")
	}
	return w, nil
}
