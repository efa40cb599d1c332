package pypi_test

import (
	"bytes"
	"testing"

	"github.com/paimirror/paimirror/bundle/pypi"
)

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.0", "v1.0-alpha.1", "1!2.0.post3.dev4+ubuntu-1", "01.002c3", "1.0-1", "2.0.0PREVIEW", "1.0+"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := pypi.ParseVersion(s)
		if err != nil {
			return
		}
		again, err := pypi.ParseVersion(v.String())
		if err != nil {
			t.Fatalf("%q normalises to %q, which does not parse: %v", s, v.String(), err)
		}
		if again.String() != v.String() || again.Compare(v) != 0 || v.Compare(again) != 0 {
			t.Fatalf("%q: %q and %q differ", s, v.String(), again.String())
		}
		if v.Public().Compare(v) > 0 || v.Base().Compare(v.Base()) != 0 {
			t.Fatalf("%q: inconsistent order", s)
		}
	})
}

func FuzzParseSpecifierSet(f *testing.F) {
	for _, s := range []string{">=1.0,<2", "~=2.2.0", "==1.4.*", "!=3.0", "===foo", " > 1.0 , <= 2.0rc1 ", "==1.0+local"} {
		f.Add(s, "1.0")
	}
	f.Fuzz(func(t *testing.T, s, version string) {
		ss, err := pypi.ParseSpecifierSet(s)
		if err != nil {
			return
		}
		again, err := pypi.ParseSpecifierSet(ss.String())
		if err != nil || again.String() != ss.String() {
			t.Fatalf("%q → %q → %q, %v", s, ss.String(), again.String(), err)
		}
		if v, err := pypi.ParseVersion(version); err == nil {
			if ss.Contains(v, true) != again.Contains(v, true) {
				t.Fatalf("%q and %q disagree on %s", ss.String(), again.String(), version)
			}
			ss.Filter([]pypi.Version{v})
		}
	})
}

func FuzzParseMarker(f *testing.F) {
	for _, s := range []string{
		`python_version < "3.7"`,
		`sys_platform == "win32" or (platform_machine == 'x86_64' and os_name == "posix")`,
		`"linux" in sys_platform and extra not in "a b"`,
		`python_implementation=="CPython"and(os.name=="nt")`,
	} {
		f.Add(s)
	}
	env := pypi.Target{Python: "3.6", Platform: "manylinux_x86_64"}.Env()
	f.Fuzz(func(t *testing.T, s string) {
		m, err := pypi.ParseMarker(s)
		if err != nil {
			return
		}
		again, err := pypi.ParseMarker(m.String())
		if err != nil || again.String() != m.String() {
			t.Fatalf("%q → %q → %q, %v", s, m.String(), again.String(), err)
		}
		if m.Evaluate(env) != again.Evaluate(env) {
			t.Fatalf("%q and %q disagree", s, m.String())
		}
	})
}

func FuzzParseRequirement(f *testing.F) {
	for _, s := range []string{
		"pip==20.3.4", "requests[security,socks]>=2.8.1,==2.8.*; python_version < '2.7'",
		"foo (>=1.0)", "name @ https://example.org/x.whl ; os_name == 'posix'", "ruamel.yaml",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := pypi.ParseRequirement(s)
		if err != nil {
			return
		}
		again, err := pypi.ParseRequirement(r.String())
		if err != nil || again.String() != r.String() || again.Project() != r.Project() {
			t.Fatalf("%q → %q → %q, %v", s, r.String(), again.String(), err)
		}
	})
}

func FuzzParseWheelName(f *testing.F) {
	f.Add("cryptography-3.3.2-cp36-abi3-manylinux2010_x86_64.manylinux2014_x86_64.whl")
	f.Add("x-1.0-2b-py2.py3-none-any.whl")
	f.Fuzz(func(t *testing.T, s string) {
		w, err := pypi.ParseWheelName(s)
		if err == nil && (w.Name == "" || w.Version == "" || len(w.Tags) == 0) {
			t.Fatalf("%q: %+v", s, w)
		}
	})
}

func FuzzParseAnchors(f *testing.F) {
	f.Add(`<a href="../../packages/x/x-1.0.tar.gz#sha256=ab" data-requires-python="&gt;=3.6">x-1.0.tar.gz</a><br/>`)
	f.Add(`<!-- <a href=x> --><script><a></script><A HREF=y data-yanked>z</A`)
	f.Fuzz(func(t *testing.T, s string) {
		for _, a := range pypi.ParseAnchors(s) {
			if a.Attrs == nil {
				t.Fatal("nil attributes")
			}
		}
	})
}

// FuzzMetadataFiles feeds the readers of METADATA, requires.txt,
// pyproject.toml, wheels and sdists, which all read what an index serves.
func FuzzMetadataFiles(f *testing.F) {
	f.Add([]byte("Metadata-Version: 2.1\nName: x\nRequires-Dist: y (>=1); extra == 'z'\n\nbody"))
	f.Add([]byte("a\n[:python_version < \"3\"]\nb\n[x:os_name == 'nt']\nc\n"))
	f.Add([]byte("[build-system]\nrequires = [\n 'setuptools', # c\n \"wheel\"]\n"))
	f.Add(wheelFile(f, pkg{name: "x", version: "1.0", requires: []string{"y"}}, "py3-none-any").Data)
	f.Add(sdistFile(f, pkg{name: "x", version: "1.0", requires: []string{"y; os_name == 'nt'"}}, "[build-system]\nrequires=[]\n").Data)
	f.Fuzz(func(t *testing.T, data []byte) {
		pypi.ParseMetadata(data)
		pypi.ParseRequiresTxt(data)
		pypi.ParseBuildRequires(data)
		r := bytes.NewReader(data)
		pypi.WheelMetadata(r, int64(len(data)), "x-1.0-py3-none-any.whl")
		pypi.SdistMetadata(r, int64(len(data)), "x-1.0.tar.gz")
		pypi.SdistMetadata(r, int64(len(data)), "x-1.0.zip")
	})
}
