package apt_test

import (
	"errors"
	"os/exec"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/apt"
	"github.com/paimirror/paimirror/bundle/bundletest"
)

// versionCases are dpkg's own comparisons (lib/dpkg/t/t-version.c and
// deb-version(7)): want is the sign of Compare(a, b).
var versionCases = []struct {
	a, b string
	want int
}{
	{"1.0", "1.0", 0},
	{"0:1.0", "1.0", 0},
	{"1.0-0", "1.0", 0},
	{"1:0", "2.0", 1},
	{"1.0~rc1", "1.0", -1},
	{"1.0~~", "1.0~", -1},
	{"1.0~~a", "1.0~~", 1},
	{"1.0~", "1.0", -1},
	{"1.0", "1.0+", -1},
	{"1.0a", "1.0", 1},
	{"1.0a", "1.0+", -1},
	{"1.0.1", "1.0a", 1},
	{"1.2.3", "1.2.10", -1},
	{"1.001", "1.1", 0},
	{"2.30-1", "2.30-1ubuntu1", -1},
	{"1.0-1", "1.0-1.1", -1},
	{"5:18.09.7~3-0~ubuntu-bionic", "5:18.09.9~3-0~ubuntu-bionic", -1},
	{"2.6.1", "2.6.1-1", -1},
	{"a", "B", 1},
	{"1.0-a", "1.0-+", -1},
	{"0.1.0", "0.1", 1},
	{"7.6p2-4", "7.6-0", 1},
	{"1.0.3-3", "1.0-1", 1},
	{"1.3", "1.2.2-2", 1},
	{"1.3", "1.2.2", 1},
	{"0-pre", "0-pre", 0},
	{"0-pre", "0-pree", -1},
	{"1.1.6r2-2", "1.1.6r-1", 1},
	{"2.6b2-1", "2.6b-2", 1},
	{"98.1p5-1", "98.1-pre2-b6-2", -1},
	{"0.4a6-2", "0.4-1", 1},
	{"1:3.0.5-2", "1:3.0.5.1", -1},
	{"10.3", "1:0.4", -1},
	{"1:1.25-4", "1:1.25-8", -1},
	{"0:1.18.36", "1.18.36", 0},
	{"1.18.36", "1.18.35", 1},
	{"0:1.18.36", "1.18.35", 1},
	{"9:1.18.36:5.4-20", "10:0.5.1-22", -1},
	{"9:1.18.36:5.4-20", "9:1.18.36:5.5-1", -1},
	{"9:1.18.36:5.4-20", " 9:1.18.37:4.3-22", -1},
	{"1.18.36-0.17.35-18", "1.18.36-19", 1},
	{"1:1.2.13-3", "1:1.2.13-3.1", -1},
	{"2.0.7pre1-4", "2.0.7r-1", -1},
	{"0.10.0", "0.8.7", 1},
}

func TestCompareVersions(t *testing.T) {
	for _, c := range versionCases {
		t.Run(c.a+" vs "+c.b, func(t *testing.T) {
			if got := apt.CompareVersions(c.a, c.b); got != c.want {
				t.Errorf("Compare(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
			}
			if got := apt.CompareVersions(c.b, c.a); got != -c.want {
				t.Errorf("Compare(%q, %q) = %d, want %d", c.b, c.a, got, -c.want)
			}
		})
	}
}

// TestCompareVersionsDpkg checks every pair of the table's versions against
// the real dpkg --compare-versions.
func TestCompareVersionsDpkg(t *testing.T) {
	dpkg := bundletest.Tool(t, "dpkg")
	seen := map[string]bool{}
	var vs []string
	for _, c := range versionCases {
		for _, v := range []string{strings.TrimSpace(c.a), strings.TrimSpace(c.b)} {
			if !seen[v] {
				seen[v] = true
				vs = append(vs, v)
			}
		}
	}
	vs = append(vs, "1.0~beta1~svn1245", "1.0~beta1", "1.0", "1:0.9", "0.0~0", "2.0+dfsg-1~bpo1")
	// One shell per version keeps this to tens of processes.
	for _, a := range vs {
		var script strings.Builder
		for _, b := range vs {
			script.WriteString(`if "$0" --compare-versions '` + a + `' lt '` + b + `'; then echo -1; elif "$0" --compare-versions '` + a + `' eq '` + b + `'; then echo 0; else echo 1; fi` + "\n")
		}
		out, err := exec.Command("sh", "-c", script.String(), dpkg).Output()
		if err != nil {
			t.Fatalf("dpkg: %v", err)
		}
		got := strings.Fields(string(out))
		for i, b := range vs {
			want := map[string]int{"-1": -1, "0": 0, "1": 1}[got[i]]
			if c := apt.CompareVersions(a, b); c != want {
				t.Errorf("Compare(%q, %q) = %d, dpkg says %d", a, b, c, want)
			}
		}
	}
}

func TestParseVersionErrors(t *testing.T) {
	for _, s := range []string{"", "a:1.0", "1.0-", ":1.0", "1:", "1.0 2", "1_0", "-1:2"} {
		t.Run(s, func(t *testing.T) {
			if _, err := apt.ParseVersion(s); !errors.Is(err, apt.ErrSyntax) {
				t.Errorf("ParseVersion(%q) = %v, want ErrSyntax", s, err)
			}
		})
	}
}

func TestParseDependencies(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"simple", "libc6", "libc6"},
		{"versioned", "libc6 (>= 2.34), zlib1g(>=1:1.1.4)", "libc6 (>= 2.34), zlib1g (>= 1:1.1.4)"},
		{"alternatives", "default-mta | mail-transport-agent, debconf (>= 0.5) | debconf-2.0", "default-mta | mail-transport-agent, debconf (>= 0.5) | debconf-2.0"},
		{"all operators", "a (<< 1), b (<= 1), c (= 1), d (>= 1), e (>> 1)", "a (<< 1), b (<= 1), c (= 1), d (>= 1), e (>> 1)"},
		{"obsolete operators", "a (< 1), b (> 1)", "a (<= 1), b (>= 1)"},
		{"arch qualifier", "python3:any (>= 3.6), perl:native", "python3:any (>= 3.6), perl:native"},
		{"arch list", "libc6 [amd64 arm64], foo [!i386]", "libc6 [amd64 arm64], foo [!i386]"},
		{"profiles dropped", "debhelper (>= 13) <!nocheck> <cross>", "debhelper (>= 13)"},
		{"folded", "libc6 (>= 2.34),\nlibssl3 (>= 3.0.0)", "libc6 (>= 2.34), libssl3 (>= 3.0.0)"},
		{"empty", "", ""},
		{"trailing comma", "a, b,", "a, b"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			deps, err := apt.ParseDependencies(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			s := make([]string, len(deps))
			for i, d := range deps {
				s[i] = d.String()
			}
			if got := strings.Join(s, ", "); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"a (>= )", "a (~ 1)", "a (>= 1", "a [amd64", "a [amd64 !i386]", "(>= 1)", "a b", "a:"} {
		t.Run("bad "+bad, func(t *testing.T) {
			if _, err := apt.ParseDependencies(bad); !errors.Is(err, apt.ErrSyntax) {
				t.Errorf("ParseDependencies(%q) = %v, want ErrSyntax", bad, err)
			}
		})
	}
}

func TestRelationAppliesTo(t *testing.T) {
	tests := []struct {
		rel, arch string
		want      bool
	}{
		{"a", "amd64", true},
		{"a [amd64]", "amd64", true},
		{"a [arm64]", "amd64", false},
		{"a [!amd64]", "amd64", false},
		{"a [!i386 !arm64]", "amd64", true},
		{"a [linux-any]", "amd64", true},
		{"a [any-amd64]", "amd64", true},
	}
	for _, tc := range tests {
		r, err := apt.ParseRelation(tc.rel)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.AppliesTo(tc.arch); got != tc.want {
			t.Errorf("%q applies to %s = %v, want %v", tc.rel, tc.arch, got, tc.want)
		}
	}
}

func TestParseControl(t *testing.T) {
	in := "# comment\nPackage: a\nDescription: short\n more\n .\n  indented\nDepends: b,\n c\n\n\n \nPackage: b\r\nVersion: 1\r\n"
	ps, err := apt.ParseControl(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 2 {
		t.Fatalf("got %d paragraphs, want 2", len(ps))
	}
	if got, want := ps[0].Get("description"), "short\nmore\n.\nindented"; got != want {
		t.Errorf("Description = %q, want %q", got, want)
	}
	if got := ps[0].Get("Depends"); got != "b,\nc" {
		t.Errorf("Depends = %q", got)
	}
	if got := ps[1].Get("Version"); got != "1" {
		t.Errorf("Version = %q", got)
	}
	for _, bad := range []string{" cont\n", "Package a\n", "A: 1\nA: 2\n"} {
		if _, err := apt.ParseControl(strings.NewReader(bad)); !errors.Is(err, apt.ErrSyntax) {
			t.Errorf("ParseControl(%q) = %v, want ErrSyntax", bad, err)
		}
	}
}

func TestParseRelease(t *testing.T) {
	in := `Origin: Debian
Suite: stable
Codename: bookworm
Architectures: amd64 arm64
Components: main contrib
Acquire-By-Hash: yes
SHA256:
 0000000000000000000000000000000000000000000000000000000000000001 1234 main/binary-amd64/Packages
 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA   99 main/binary-amd64/Packages.gz
`
	r, err := apt.ParseRelease([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if r.Suite != "stable" || r.Codename != "bookworm" || strings.Join(r.Architectures, ",") != "amd64,arm64" || strings.Join(r.Components, ",") != "main,contrib" || !r.AcquireByHash {
		t.Errorf("got %+v", r)
	}
	if got := r.SHA256["main/binary-amd64/Packages.gz"]; got.Size != 99 || got.SHA256 != strings.Repeat("a", 64) {
		t.Errorf("Packages.gz = %+v", got)
	}
	if len(r.SHA256) != 2 {
		t.Errorf("%d files, want 2", len(r.SHA256))
	}
}
