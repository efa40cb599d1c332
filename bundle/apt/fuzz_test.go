package apt_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/apt"
)

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"1.0", "1:2.3-4ubuntu1~18.04", "5:18.09.7~3-0~ubuntu-bionic", "1.0~rc1+dfsg", "0"} {
		f.Add(s, "1.0")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		va, err := apt.ParseVersion(a)
		if err != nil {
			return
		}
		again, err := apt.ParseVersion(va.String())
		if err != nil || again.Compare(va) != 0 {
			t.Fatalf("%q prints as %q, which parses to %v (%v)", a, va.String(), again, err)
		}
		if c1, c2 := apt.CompareVersions(a, b), apt.CompareVersions(b, a); c1 != -c2 {
			t.Fatalf("Compare(%q,%q)=%d but Compare(%q,%q)=%d", a, b, c1, b, a, c2)
		}
	})
}

func FuzzParseDependencies(f *testing.F) {
	for _, s := range []string{"a (>= 1) | b, c:any [amd64]", "debhelper (>= 13) <!nocheck>", "x (<< 2:1.0-1)"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		deps, err := apt.ParseDependencies(s)
		if err != nil {
			return
		}
		var parts []string
		for _, d := range deps {
			parts = append(parts, d.String())
		}
		again, err := apt.ParseDependencies(strings.Join(parts, ", "))
		if err != nil || len(again) != len(deps) {
			t.Fatalf("%q prints as %q, which gives %v (%v)", s, strings.Join(parts, ", "), again, err)
		}
	})
}

func FuzzParsePackages(f *testing.F) {
	f.Add("Package: a\nVersion: 1\nDepends: b | c (>= 2)\nProvides: d (= 1)\nSize: 10\n\nPackage: b\nVersion: 2\n")
	f.Fuzz(func(t *testing.T, s string) {
		idx, err := apt.ParsePackages(strings.NewReader(s), "fuzz")
		if err != nil {
			return
		}
		for _, p := range idx.Packages {
			if len(idx.Lookup(p.Name)) == 0 {
				t.Fatalf("%s not found by name", p.Name)
			}
			p.Dependencies(true)
		}
		if len(idx.Packages) > 0 {
			// Resolving anything the index holds ends, with an answer or
			// an error.
			apt.Resolve([]*apt.Index{idx}, []string{idx.Packages[0].Name}, apt.ResolveOptions{Recommends: true, AssumeEssential: true})
		}
	})
}

func FuzzParseRelease(f *testing.F) {
	f.Add([]byte("Suite: x\nSHA256:\n " + strings.Repeat("a", 64) + " 1 main/binary-amd64/Packages\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := apt.ParseRelease(b)
		if err != nil {
			return
		}
		for p, s := range r.SHA256 {
			if s.Size < 0 || len(s.SHA256) != 64 || p == "" || bytes.ContainsAny([]byte(p), " \n") {
				t.Fatalf("bad entry %q %+v", p, s)
			}
		}
	})
}
