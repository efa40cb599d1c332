package pypi_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/pypi"
)

func TestParseVersion(t *testing.T) {
	tests := []struct{ in, want string }{
		{"1.0", "1.0"},
		{"v1.0", "1.0"},
		{" 1.0 ", "1.0"},
		{"01.002", "1.2"},
		{"1.0-alpha.1", "1.0a1"},
		{"1.0.0PREVIEW2", "1.0.0rc2"},
		{"1.0c1", "1.0rc1"},
		{"1.0b", "1.0b0"},
		{"1.0-1", "1.0.post1"},
		{"1.0.post", "1.0.post0"},
		{"1.0-r2", "1.0.post2"},
		{"1.0-dev", "1.0.dev0"},
		{"1.0rc1.post2.dev3", "1.0rc1.post2.dev3"},
		{"1!2.0", "1!2.0"},
		{"0!2.0", "2.0"},
		{"1.0+Ubuntu-1_2", "1.0+ubuntu.1.2"},
		{"1.0+007", "1.0+7"},
		{"99999999999999999999999.1", "99999999999999999999999.1"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			v, err := pypi.ParseVersion(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if v.String() != tc.want {
				t.Errorf("%q normalises to %q, want %q", tc.in, v.String(), tc.want)
			}
		})
	}
	for _, bad := range []string{"", "1.0.x", "abc", "1..0", "1.0+", "1.0+a..b", "1.0 2", "1.0-", "!1.0", "1.0.*"} {
		t.Run("invalid "+bad, func(t *testing.T) {
			if _, err := pypi.ParseVersion(bad); !errors.Is(err, pypi.ErrSyntax) {
				t.Errorf("ParseVersion(%q) = %v, want a syntax error", bad, err)
			}
		})
	}
}

func TestVersionOrder(t *testing.T) {
	// PEP 440's own example of the order, then epochs and huge numbers.
	ordered := []string{
		"1.0.dev456", "1.0a1", "1.0a2.dev456", "1.0a12.dev456", "1.0a12", "1.0b1.dev456", "1.0b2",
		"1.0b2.post345.dev456", "1.0b2.post345", "1.0rc1.dev456", "1.0rc1", "1.0", "1.0+abc.5", "1.0+abc.7",
		"1.0+5", "1.0.post456.dev34", "1.0.post456", "1.0.15", "1.1.dev1", "2.0", "10.0",
		"99999999999999999999999.0", "1!0.1",
	}
	for i := range ordered {
		for j := range ordered {
			a, b := pypi.MustParseVersion(ordered[i]), pypi.MustParseVersion(ordered[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got := a.Compare(b); got != want {
				t.Errorf("Compare(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
	for _, eq := range [][2]string{{"1.0", "1.0.0"}, {"1.0", "1"}, {"1.0rc1", "1.0c1"}, {"0!1.0", "1.0"}} {
		if pypi.MustParseVersion(eq[0]).Compare(pypi.MustParseVersion(eq[1])) != 0 {
			t.Errorf("%s != %s", eq[0], eq[1])
		}
	}
}

func TestSpecifier(t *testing.T) {
	tests := []struct {
		spec, version string
		want          bool
	}{
		{"~=2.2", "2.3", true},
		{"~=2.2", "2.2", true},
		{"~=2.2", "3.0", false},
		{"~=2.2", "2.1", false},
		{"~=1.4.5", "1.4.9", true},
		{"~=1.4.5", "1.5.0", false},
		{"~=2.2.post3", "2.2.post4", true},
		{"==1.1.*", "1.1.5", true},
		{"==1.1.*", "1.1", true},
		{"==1.1.*", "1.1.0.post1", true},
		{"==1.1.*", "1.2", false},
		{"==1.1.*", "1.10", false},
		{"!=1.1.*", "1.2", true},
		{"!=1.1.*", "1.1.3", false},
		{"==1.0", "1.0.0", true},
		{"==1.0", "1.0+local", true},
		{"==1.0+local", "1.0", false},
		{"==1.0+local", "1.0+local", true},
		{"!=1.0", "1.0.0", false},
		{"<2.0", "1.9", true},
		{"<2.0", "2.0rc1", false},
		{"<2.0rc2", "2.0rc1", true},
		{"<=1.0", "1.0+local", true},
		{">1.0", "1.0.post1", false},
		{">1.0", "1.0.1", true},
		{">1.0.post1", "1.0.post2", true},
		{">1.0", "1.0+local", false},
		{">=1.0", "1.0", true},
		{">=1.0", "0.9", false},
		{"===1.0", "1.0", true},
		{"===1.0", "1.0.0", false},
		{">=1.0,<2.0,!=1.5", "1.5", false},
		{">=1.0,<2.0,!=1.5", "1.6", true},
		{" >= 1.0 , < 2 ", "1.9", true},
		{"", "7.0", true},
	}
	for _, tc := range tests {
		t.Run(tc.spec+" "+tc.version, func(t *testing.T) {
			ss, err := pypi.ParseSpecifierSet(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			if got := ss.Contains(pypi.MustParseVersion(tc.version), true); got != tc.want {
				t.Errorf("%q contains %s = %v, want %v", tc.spec, tc.version, got, tc.want)
			}
		})
	}
	for _, bad := range []string{"~=1", "<1.0.*", ">=1.0+local", "1.0", "==", "=>1.0", "==1.0.post1.*", ">=1.0,", "=== a b"} {
		t.Run("invalid "+bad, func(t *testing.T) {
			if _, err := pypi.ParseSpecifierSet(bad); !errors.Is(err, pypi.ErrSyntax) {
				t.Errorf("ParseSpecifierSet(%q) = %v, want a syntax error", bad, err)
			}
		})
	}
}

func TestSpecifierPrereleases(t *testing.T) {
	vs := func(s ...string) []pypi.Version {
		var out []pypi.Version
		for _, x := range s {
			out = append(out, pypi.MustParseVersion(x))
		}
		return out
	}
	tests := []struct {
		spec string
		in   []pypi.Version
		want string
	}{
		{">=1.0", vs("2.0rc1", "1.5", "1.0"), "1.5 1.0"},
		{">=2.0rc1", vs("2.0rc1", "1.5"), "2.0rc1"},
		{"==2.0b2", vs("2.0b2", "2.0"), "2.0b2"},
		{">=1.6", vs("2.0rc1", "1.5"), "2.0rc1"}, // nothing final matches
		{"!=2.0rc1", vs("2.0rc1", "2.0rc2", "1.0"), "1.0"},
		{"<3", vs("3.0.dev1", "2.0"), "2.0"},
	}
	for _, tc := range tests {
		t.Run(tc.spec, func(t *testing.T) {
			ss, err := pypi.ParseSpecifierSet(tc.spec)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, v := range ss.Filter(tc.in) {
				got = append(got, v.String())
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("Filter = %q, want %q", got, tc.want)
			}
		})
	}
	if pypi.MustParseRequirement("x>=1").Specifier.Contains(pypi.MustParseVersion("2.0a1"), false) {
		t.Error("a pre-release matched without being allowed")
	}
}

func TestMarker(t *testing.T) {
	env36 := py36.Env()
	env38 := py38.Env()
	tests := []struct {
		marker string
		env    map[string]string
		want   bool
	}{
		{`python_version < "3.7"`, env36, true},
		{`python_version < "3.7"`, env38, false},
		{`python_version >= "3.10"`, env38, false}, // as versions, not strings
		{`python_full_version == "3.6.9"`, env36, true},
		{`python_full_version < '3.6.2'`, env36, false},
		{`python_version ~= "3.6"`, env36, true},
		{`python_version == "3.6.*"`, env36, true},
		{`"3.7" > python_version`, env36, true},
		{`sys_platform == "win32"`, env36, false},
		{`sys_platform == "win32" or (platform_machine == "x86_64" and os_name == "posix")`, env36, true},
		{`(sys_platform == "win32" or platform_machine == "x86_64") and os_name == "nt"`, env36, false},
		{`sys_platform == "linux" and python_version >= "3.7" or platform_system == "Linux"`, env36, true},
		{`"linux" in sys_platform`, env36, true},
		{`platform_system not in "Windows Darwin"`, env36, true},
		{`platform_system not  in "Linux"`, env36, false},
		{`implementation_name == "cpython" and platform_python_implementation == 'CPython'`, env36, true},
		{`python_implementation == "CPython"`, env36, true},
		{`os.name == "posix"`, env36, true},
		{`platform_release >= "5"`, env36, false},
		{`extra == "fancy"`, env36, false},
		{`extra == "Fancy_Thing"`, map[string]string{"extra": "fancy-thing"}, true},
		{`python_version=="3.6"and(os_name=="posix")`, env36, true},
	}
	for _, tc := range tests {
		t.Run(tc.marker, func(t *testing.T) {
			m, err := pypi.ParseMarker(tc.marker)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Evaluate(tc.env); got != tc.want {
				t.Errorf("Evaluate = %v, want %v", got, tc.want)
			}
			again, err := pypi.ParseMarker(m.String())
			if err != nil || again.String() != m.String() || again.Evaluate(tc.env) != tc.want {
				t.Errorf("%q does not survive String() = %q: %v", tc.marker, m.String(), err)
			}
		})
	}
	for _, bad := range []string{
		`python_version`, `python_version <`, `foo == "1"`, `"a" == "b"`, `(python_version == "3"`,
		`python_version == "3" and`, `python_version == '3`, `python_version === `, `python_version == "3" xor os_name == "x"`,
		`python_version == "3")`, strings.Repeat("(", 100) + `os_name == "x"` + strings.Repeat(")", 100),
	} {
		t.Run("invalid "+bad, func(t *testing.T) {
			if _, err := pypi.ParseMarker(bad); !errors.Is(err, pypi.ErrSyntax) {
				t.Errorf("ParseMarker(%q) = %v, want a syntax error", bad, err)
			}
		})
	}
	m := pypi.Marker{}
	if !m.Evaluate(nil) || m.String() != "" {
		t.Error("the zero marker is not empty and true")
	}
	if got := pypi.MustParseRequirement(`x; (os_name == "a" or os_name == "b") and python_version > "3"`).Marker.String(); got != `(os_name == "a" or os_name == "b") and python_version > "3"` {
		t.Errorf("String() = %s", got)
	}
}

func TestParseRequirement(t *testing.T) {
	tests := []struct {
		in, want, project string
		extras            []string
	}{
		{"pip==20.3.4", "pip==20.3.4", "pip", nil},
		{"ruamel.yaml==0.15.96", "ruamel.yaml==0.15.96", "ruamel-yaml", nil},
		{"requests[security, Socks] >= 2.8.1, == 2.8.* ; python_version < '2.7'",
			`requests[security,socks]>=2.8.1,==2.8.*; python_version < "2.7"`, "requests", []string{"security", "socks"}},
		{"foo (>=1.0)", "foo>=1.0", "foo", nil},
		{"Foo_Bar.baz", "Foo_Bar.baz", "foo-bar-baz", nil},
		{"name @ https://example.org/name-1.0.whl ; os_name == 'posix'", `name @ https://example.org/name-1.0.whl ; os_name == "posix"`, "name", nil},
		{"  paramiko", "paramiko", "paramiko", nil},
		{"x[]", "x", "x", nil},
		{`pywin32>=1.0; sys_platform == "win32" and extra == "ssh"`, `pywin32>=1.0; sys_platform == "win32" and extra == "ssh"`, "pywin32", nil},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			r, err := pypi.ParseRequirement(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if r.String() != tc.want || r.Project() != tc.project || !slices.Equal(r.Extras, tc.extras) {
				t.Errorf("got %q (project %q, extras %q), want %q (%q, %q)", r.String(), r.Project(), r.Extras, tc.want, tc.project, tc.extras)
			}
		})
	}
	for _, bad := range []string{"", ">=1.0", "foo[", "foo >=", "foo; ", "-foo", "foo bar", "foo-", "foo[bar baz]", "foo @ ", "foo (>=1", "foo; os_name", "foo @ http://x; os_name == 'a'"} {
		t.Run("invalid "+bad, func(t *testing.T) {
			if _, err := pypi.ParseRequirement(bad); !errors.Is(err, pypi.ErrSyntax) {
				t.Errorf("ParseRequirement(%q) = %v, want a syntax error", bad, err)
			}
		})
	}
}

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{
		"Ruamel.YAML": "ruamel-yaml", "Foo__Bar--baz": "foo-bar-baz", "jinja2": "jinja2", "A.-_b": "a-b", "PyYAML": "pyyaml",
	} {
		if got := pypi.NormalizeName(in); got != want {
			t.Errorf("NormalizeName(%q) = %q, want %q", in, got, want)
		}
	}
	for _, bad := range []string{"", "..", "a/b", "-a", "a ", "a\x00"} {
		if pypi.ValidName(bad) {
			t.Errorf("ValidName(%q)", bad)
		}
	}
}

func TestTags(t *testing.T) {
	rank := func(t *testing.T, target pypi.Target) map[string]int {
		tags, err := target.Tags()
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]int{}
		for i, tag := range tags {
			if _, dup := m[tag]; dup {
				t.Errorf("tag %s listed twice", tag)
			}
			m[tag] = i
		}
		return m
	}
	t.Run("3.6 in preference order", func(t *testing.T) {
		r := rank(t, py36)
		order := []string{
			"cp36-cp36m-manylinux_2_27_x86_64", "cp36-cp36m-manylinux_2_17_x86_64", "cp36-cp36m-manylinux2014_x86_64",
			"cp36-cp36m-manylinux2010_x86_64", "cp36-cp36m-manylinux1_x86_64", "cp36-cp36m-linux_x86_64",
			"cp36-abi3-manylinux_2_27_x86_64", "cp36-abi3-manylinux1_x86_64", "cp36-none-manylinux1_x86_64",
			"cp35-abi3-manylinux2014_x86_64", "cp32-abi3-manylinux1_x86_64", "py36-none-manylinux1_x86_64",
			"py3-none-manylinux1_x86_64", "cp36-none-any", "py36-none-any", "py3-none-any", "py35-none-any", "py30-none-any",
		}
		for i := 1; i < len(order); i++ {
			a, ok1 := r[order[i-1]]
			b, ok2 := r[order[i]]
			if !ok1 || !ok2 || a >= b {
				t.Errorf("%s (%d, %v) should come before %s (%d, %v)", order[i-1], a, ok1, order[i], b, ok2)
			}
		}
		for _, no := range []string{"cp36-cp36-manylinux1_x86_64", "cp37-abi3-manylinux1_x86_64", "cp36-cp36m-manylinux_2_28_x86_64", "py2-none-any", "cp36-cp36m-win_amd64", "cp36-cp36m-manylinux_2_4_x86_64"} {
			if _, ok := r[no]; ok {
				t.Errorf("3.6 accepts %s", no)
			}
		}
	})
	t.Run("3.8 has no m ABI", func(t *testing.T) {
		r := rank(t, py38)
		if _, ok := r["cp38-cp38-manylinux1_x86_64"]; !ok {
			t.Error("cp38-cp38-manylinux1_x86_64 missing")
		}
		if _, ok := r["cp38-cp38m-manylinux1_x86_64"]; ok {
			t.Error("cp38m accepted")
		}
	})
	t.Run("3.5 has cp35m", func(t *testing.T) {
		if _, ok := rank(t, py35)["cp35-cp35m-manylinux2010_x86_64"]; !ok {
			t.Error("cp35m missing")
		}
	})
	t.Run("default glibc is 2.17", func(t *testing.T) {
		tags, _ := pypi.Target{Python: "3.6", Platform: "manylinux_x86_64"}.Tags()
		if tags[0] != "cp36-cp36m-manylinux_2_17_x86_64" || tags[1] != "cp36-cp36m-manylinux2014_x86_64" {
			t.Errorf("first tags %q", tags[:2])
		}
	})
	t.Run("aarch64 starts at manylinux2014", func(t *testing.T) {
		r := rank(t, pypi.Target{Python: "3.8", Platform: "manylinux_aarch64"})
		if _, ok := r["cp38-cp38-manylinux2014_aarch64"]; !ok {
			t.Error("manylinux2014_aarch64 missing")
		}
		if _, ok := r["cp38-cp38-manylinux2010_aarch64"]; ok {
			t.Error("manylinux2010_aarch64 accepted")
		}
	})
	for _, bad := range []pypi.Target{
		{Python: "3", Platform: "manylinux_x86_64"},
		{Python: "3.6", Platform: "win_amd64"},
		{Python: "3.6", Platform: "manylinux_x86_64", Glibc: "3.1"},
		{Python: "", Platform: "manylinux_x86_64"},
	} {
		if _, err := bad.Tags(); !errors.Is(err, pypi.ErrUnsupported) {
			t.Errorf("%+v: %v, want ErrUnsupported", bad, err)
		}
	}
	env := pypi.Target{Python: "3.6", Platform: "manylinux_x86_64", Markers: map[string]string{"platform_release": "4.15.0"}}.Env()
	if env["python_full_version"] != "3.6.0" || env["platform_machine"] != "x86_64" || env["sys_platform"] != "linux" || env["platform_release"] != "4.15.0" {
		t.Errorf("env %v", env)
	}
}

func TestParseWheelName(t *testing.T) {
	tests := []struct {
		in, name, version, build string
		tags                     []string
	}{
		{"cryptography-3.3.2-cp36-abi3-manylinux2010_x86_64.whl", "cryptography", "3.3.2", "", []string{"cp36-abi3-manylinux2010_x86_64"}},
		{"six-1.15.0-py2.py3-none-any.whl", "six", "1.15.0", "", []string{"py2-none-any", "py3-none-any"}},
		{"x-1.0-2b-cp38-cp38-manylinux1_x86_64.manylinux2010_x86_64.whl", "x", "1.0", "2b", []string{"cp38-cp38-manylinux1_x86_64", "cp38-cp38-manylinux2010_x86_64"}},
	}
	for _, tc := range tests {
		w, err := pypi.ParseWheelName(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if w.Name != tc.name || w.Version != tc.version || w.Build != tc.build || !slices.Equal(w.Tags, tc.tags) {
			t.Errorf("%s: %+v", tc.in, w)
		}
	}
	for _, bad := range []string{"x-1.0.tar.gz", "x-1.0-py3-any.whl", "x-1.0-b-py3-none-any.whl", "x--py3-none-any.whl", "a-b-c-d-e-f-g.whl"} {
		if _, err := pypi.ParseWheelName(bad); !errors.Is(err, pypi.ErrSyntax) {
			t.Errorf("ParseWheelName(%q) = %v", bad, err)
		}
	}
}

func TestParseMetadata(t *testing.T) {
	m, err := pypi.ParseMetadata([]byte("Metadata-Version: 2.1\r\nName: paramiko\nVersion: 2.7.2\nSummary: SSH2\n  protocol library\n" +
		"Requires-Dist: bcrypt (>=3.1.3)\nRequires-Dist: pynacl>=1.0.1; extra == 'ed25519'\nRequires-Python: >=2.7\n\nRequires-Dist: ignored\n"))
	if err != nil {
		t.Fatal(err)
	}
	var reqs []string
	for _, r := range m.RequiresDist {
		reqs = append(reqs, r.String())
	}
	if m.Name != "paramiko" || m.Version != "2.7.2" || m.RequiresPython != ">=2.7" || !slices.Equal(reqs, []string{"bcrypt>=3.1.3", `pynacl>=1.0.1; extra == "ed25519"`}) {
		t.Errorf("metadata %+v, %q", m, reqs)
	}
	for _, bad := range []string{" continues nothing\n", "no colon here\n", "Requires-Dist: -bad\n"} {
		if _, err := pypi.ParseMetadata([]byte(bad)); err == nil {
			t.Errorf("ParseMetadata(%q) succeeded", bad)
		}
	}
}

func TestParseRequiresTxt(t *testing.T) {
	// As setuptools 65's sdist writes it.
	got, err := pypi.ParseRequiresTxt([]byte("delta>=1.0\n\n[:python_version < \"3.7\"]\ngamma\n\n[:sys_platform == \"win32\"]\nwinonly\n\n[fancy]\nextrapkg\n\n[Socks:os_name == 'nt']\nwin-inet-pton\n"))
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, r := range got {
		s = append(s, r.String())
	}
	want := []string{
		"delta>=1.0", `gamma; python_version < "3.7"`, `winonly; sys_platform == "win32"`,
		`extrapkg; extra == "fancy"`, `win-inet-pton; os_name == "nt" and extra == "socks"`,
	}
	if !slices.Equal(s, want) {
		t.Errorf("got\n  %s\nwant\n  %s", strings.Join(s, "\n  "), strings.Join(want, "\n  "))
	}
	for _, bad := range []string{"[unclosed\n", "[-bad]\n", "[:os_name]\n", "-x\n"} {
		if _, err := pypi.ParseRequiresTxt([]byte(bad)); err == nil {
			t.Errorf("ParseRequiresTxt(%q) succeeded", bad)
		}
	}
}

func TestParseBuildRequires(t *testing.T) {
	tests := []struct{ name, toml, want string }{
		{"no build-system: pip's default", "[tool.black]\nline-length = 88\n", "setuptools>=40.8.0 wheel"},
		{"inline", "[build-system]\nrequires = [\"setuptools\", 'wheel', \"Cython>=0.29; python_version<'3.9'\"]\n",
			`setuptools wheel Cython>=0.29; python_version < "3.9"`},
		{"multi-line with comments", "[project]\nname = 'x'\n[ build-system ]\n# c\nrequires = [\n  \"setuptools>=42\", # why\n  \"setuptools_scm[toml]>=3.4\",\n]\n[tool.x]\nrequires = [\"no\"]\n",
			"setuptools>=42 setuptools_scm[toml]>=3.4"},
		{"empty", "[build-system]\nrequires = []\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := pypi.ParseBuildRequires([]byte(tc.toml))
			if err != nil {
				t.Fatal(err)
			}
			var s []string
			for _, r := range got {
				s = append(s, r.String())
			}
			if strings.Join(s, " ") != tc.want {
				t.Errorf("got %q, want %q", strings.Join(s, " "), tc.want)
			}
		})
	}
	for _, bad := range []string{"[build-system]\nbuild-backend = 'x'\n", "[build-system]\nrequires = \"x\"\n", "[build-system]\nrequires = [\"x\"\n", "[build-system]\nrequires = [x]\n"} {
		if _, err := pypi.ParseBuildRequires([]byte(bad)); err == nil {
			t.Errorf("ParseBuildRequires(%q) succeeded", bad)
		}
	}
}

func TestParseAnchors(t *testing.T) {
	page := `<!DOCTYPE html><html><body>
<!-- <a href="commented">no</a> -->
<script>var s = "<a href='script'>no</a>";</script>
<h1>Links for x</h1>
<a href="../../packages/aa/x-1.0.tar.gz#sha256=ab" data-requires-python="&gt;=3.6, !=3.7.*">x-1.0.tar.gz</a><br/>
<A HREF='https://h/x-1.1-py3-none-any.whl#sha256=cd' data-yanked data-core-metadata="sha256=ef">x-1.1-py3-none-any.whl</A>
<a href=x-1.2.zip>x&#45;1.2.zip</a>
<a class="x">no href <b>bold</b></a>
<abbr>not an anchor</abbr>
`
	got := pypi.ParseAnchors(page)
	if len(got) != 4 {
		t.Fatalf("%d anchors: %+v", len(got), got)
	}
	check := func(i int, href, text string, attrs map[string]string) {
		t.Helper()
		a := got[i]
		if a.Attrs["href"] != href || a.Text != text {
			t.Errorf("anchor %d: %+v", i, a)
		}
		for k, v := range attrs {
			if got, ok := a.Attrs[k]; !ok || got != v {
				t.Errorf("anchor %d: %s = %q, want %q", i, k, got, v)
			}
		}
	}
	check(0, "../../packages/aa/x-1.0.tar.gz#sha256=ab", "x-1.0.tar.gz", map[string]string{"data-requires-python": ">=3.6, !=3.7.*"})
	check(1, "https://h/x-1.1-py3-none-any.whl#sha256=cd", "x-1.1-py3-none-any.whl", map[string]string{"data-yanked": "", "data-core-metadata": "sha256=ef"})
	check(2, "x-1.2.zip", "x-1.2.zip", nil)
	check(3, "", "no href bold", map[string]string{"class": "x"})
}
