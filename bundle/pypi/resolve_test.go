package pypi_test

import (
	"context"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/pypi"
)

var (
	py36 = pypi.Target{Name: "py36", Python: "3.6", PythonFull: "3.6.9", Platform: "manylinux_x86_64", Glibc: "2.27"}
	py38 = pypi.Target{Name: "py38", Python: "3.8", PythonFull: "3.8.10", Platform: "manylinux_x86_64", Glibc: "2.31"}
	py35 = pypi.Target{Name: "py35", Python: "3.5", PythonFull: "3.5.2", Platform: "manylinux_x86_64", Glibc: "2.23"}
)

func groups(t testing.TB, gs ...[]string) []pypi.Group {
	t.Helper()
	var out []pypi.Group
	for i, g := range gs {
		grp := pypi.Group{Name: "g" + string(rune('1'+i))}
		for _, s := range g {
			r, err := pypi.ParseRequirement(s)
			if err != nil {
				t.Fatal(err)
			}
			grp.Requirements = append(grp.Requirements, r)
		}
		out = append(out, grp)
	}
	return out
}

// chosen returns "project version filename" per package of every group,
// "(installed)" marking kept ones, with build groups prefixed "build:".
func chosen(res *pypi.Resolution) []string {
	var out []string
	for _, g := range res.Groups {
		for _, p := range g.Packages {
			s := p.Project + " " + p.Version + " " + p.File.Filename
			if p.Installed {
				s += " (installed)"
			}
			if len(g.BuildFor) > 0 {
				s = "build:" + s
			}
			out = append(out, s)
		}
	}
	return out
}

// indexes returns the index kinds a resolution must agree across.
func indexes(t *testing.T, fi *fakeIndex) map[string]pypi.Index {
	opts := pypi.IndexOptions{Client: loopbackClient(), TempDir: t.TempDir()}
	return map[string]pypi.Index{
		"json":   pypi.NewJSONAPI(fi.URL(), opts),
		"simple": pypi.NewSimpleAPI(fi.URL()+"/simple/", opts),
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		name   string
		groups [][]string
		target pypi.Target
		want   []string
	}{
		{
			name:   "3.6: markers, transitive, yanked and requires_python skipped, cp36 wheel, sdist with build env",
			groups: [][]string{{"alpha"}},
			target: py36,
			want: []string{
				"alpha 1.1 alpha-1.1-py3-none-any.whl",
				"beta 1.0 beta-1.0-cp36-cp36m-manylinux1_x86_64.whl",
				"gamma 1.0 gamma-1.0.tar.gz",
				"delta 1.0 delta-1.0-cp36-abi3-manylinux2014_x86_64.whl",
				"build:setuptools 44.0.0 setuptools-44.0.0-py2.py3-none-any.whl",
				"build:wheel 0.34.2 wheel-0.34.2-py2.py3-none-any.whl",
			},
		},
		{
			name:   "3.8: newest release, cp38 wheel, no gamma",
			groups: [][]string{{"alpha"}},
			target: py38,
			want: []string{
				"alpha 2.1 alpha-2.1-py3-none-any.whl",
				"beta 1.0 beta-1.0-cp38-cp38-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
				"delta 1.0 delta-1.0-cp36-abi3-manylinux2014_x86_64.whl",
			},
		},
		{
			name:   "3.5: sdist of beta (deps from egg-info), pure delta",
			groups: [][]string{{"alpha==1.1"}},
			target: py35,
			want: []string{
				"alpha 1.1 alpha-1.1-py3-none-any.whl",
				"beta 1.0 beta-1.0.tar.gz",
				"gamma 1.0 gamma-1.0.tar.gz",
				"delta 1.0 delta-1.0-py2.py3-none-any.whl",
				"build:setuptools 44.0.0 setuptools-44.0.0-py2.py3-none-any.whl",
				"build:wheel 0.34.2 wheel-0.34.2-py2.py3-none-any.whl",
			},
		},
		{
			name:   "extra pulls its dependency",
			groups: [][]string{{"alpha[fancy]==1.1"}},
			target: py38,
			want: []string{
				"alpha 1.1 alpha-1.1-py3-none-any.whl",
				"beta 1.0 beta-1.0-cp38-cp38-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
				"fancy-dep 1.0 fancy_dep-1.0-py3-none-any.whl",
				"delta 1.0 delta-1.0-cp36-abi3-manylinux2014_x86_64.whl",
			},
		},
		{
			name:   "an extra added later by another requirer",
			groups: [][]string{{"alpha==1.1", "fancy-dep", "alpha[fancy]"}},
			target: py38,
			want: []string{
				"alpha 1.1 alpha-1.1-py3-none-any.whl",
				"fancy-dep 1.0 fancy_dep-1.0-py3-none-any.whl",
				"beta 1.0 beta-1.0-cp38-cp38-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
				"delta 1.0 delta-1.0-cp36-abi3-manylinux2014_x86_64.whl",
			},
		},
		{
			name:   "an earlier group's install is kept when it still fits",
			groups: [][]string{{"delta==0.9"}, {"alpha"}},
			target: py38,
			want: []string{
				"delta 0.9 delta-0.9-py2.py3-none-any.whl",
				"alpha 2.1 alpha-2.1-py3-none-any.whl",
				"beta 1.0 beta-1.0-cp38-cp38-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
				"delta 0.9 delta-0.9-py2.py3-none-any.whl (installed)",
			},
		},
		{
			name:   "and replaced when a later group pins another version",
			groups: [][]string{{"delta==0.9"}, {"delta==1.0"}, {"delta"}},
			target: py38,
			want: []string{
				"delta 0.9 delta-0.9-py2.py3-none-any.whl",
				"delta 1.0 delta-1.0-cp36-abi3-manylinux2014_x86_64.whl",
				"delta 1.0 delta-1.0-cp36-abi3-manylinux2014_x86_64.whl (installed)",
			},
		},
		{
			name:   "a later constraint changes an earlier choice",
			groups: [][]string{{"alpha", "mid"}},
			target: py38,
			want: []string{
				"alpha 2.1 alpha-2.1-py3-none-any.whl",
				"mid 1.0 mid-1.0-py3-none-any.whl",
				"beta 1.0 beta-1.0-cp38-cp38-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
				"lowdelta 1.0 lowdelta-1.0-py3-none-any.whl",
				"delta 0.9 delta-0.9-py2.py3-none-any.whl",
			},
		},
		{
			name:   "a pin takes a yanked release (PEP 592)",
			groups: [][]string{{"alpha==2.0"}},
			target: py38,
			want: []string{
				"alpha 2.0 alpha-2.0-py3-none-any.whl",
				"beta 1.0 beta-1.0-cp38-cp38-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
				"delta 1.0 delta-1.0-cp36-abi3-manylinux2014_x86_64.whl",
			},
		},
		{
			name:   "pre-releases only when named or nothing else matches",
			groups: [][]string{{"delta>=1.0.dev0,<2"}, {"delta>1.0"}, {"alpha>=3.0rc1"}},
			target: py38,
			want: []string{
				"delta 1.1rc1 delta-1.1rc1-py2.py3-none-any.whl",
				"delta 1.1rc1 delta-1.1rc1-py2.py3-none-any.whl (installed)",
				"alpha 3.0rc1 alpha-3.0rc1-py3-none-any.whl",
				"beta 1.0 beta-1.0-cp38-cp38-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
				"delta 1.1rc1 delta-1.1rc1-py2.py3-none-any.whl (installed)",
			},
		},
		{
			name:   "a marker on a group requirement",
			groups: [][]string{{`winpkg; sys_platform == "win32"`, `delta==0.9; python_version >= "3.8"`}},
			target: py38,
			want:   []string{"delta 0.9 delta-0.9-py2.py3-none-any.whl"},
		},
		{
			name:   "names are normalised",
			groups: [][]string{{"DOTTED_name==1.0"}},
			target: py36,
			want:   []string{"dotted-name 1.0 Dotted.Name-1.0-py3-none-any.whl"},
		},
	}
	fi := newFakeIndex(t, testDists(t))
	for kind, idx := range indexes(t, fi) {
		for _, tc := range tests {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				res, err := pypi.Resolve(context.Background(), idx, groups(t, tc.groups...), tc.target, pypi.ResolveOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if got := chosen(res); !slices.Equal(got, tc.want) {
					t.Errorf("chose\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.want, "\n  "))
				}
			})
		}
	}
}

func TestResolveDetails(t *testing.T) {
	fi := newFakeIndex(t, testDists(t))
	idx := pypi.NewSimpleAPI(fi.URL(), pypi.IndexOptions{Client: loopbackClient()})
	res, err := pypi.Resolve(context.Background(), idx, groups(t, []string{"alpha"}), py36, pypi.ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pkgs := map[string]pypi.Package{}
	for _, p := range res.Groups[0].Packages {
		pkgs[p.Project] = p
	}
	alpha := pkgs["alpha"]
	if alpha.DependencySource != "PEP 658 metadata" {
		t.Errorf("alpha's dependencies came from %q, want PEP 658 metadata", alpha.DependencySource)
	}
	if want := []string{"beta>=1.0", "gamma"}; !slices.Equal(alpha.Requires, want) {
		t.Errorf("alpha requires %q on 3.6, want %q (markers evaluated)", alpha.Requires, want)
	}
	if got := pkgs["delta"].RequiredBy; !slices.Equal(got, []string{"beta 1.0"}) {
		t.Errorf("delta required by %q", got)
	}
	if got := pkgs["alpha"].RequiredBy; !slices.Equal(got, []string{`group "g1"`}) {
		t.Errorf("alpha required by %q", got)
	}
	if got := res.Groups[1].BuildFor; !slices.Equal(got, []string{"gamma 1.0"}) {
		t.Errorf("build group is for %q", got)
	}
	if got := pkgs["gamma"].DependencySource; got != "sdist without dependency metadata" {
		t.Errorf("gamma's dependency source %q", got)
	}
	// Files carry what a bundle stores.
	files := res.Files()
	if len(files) != 6 {
		t.Fatalf("%d files, want 6: %v", len(files), files)
	}
	for _, f := range files {
		var d *dist
		for _, x := range fi.Dists() {
			if x.Filename == f.Filename {
				d = x
			}
		}
		if f.SHA256 != d.SHA256() || f.URL != fi.URL()+"/packages/"+f.Filename || f.Project != d.Project || f.Version != d.Version {
			t.Errorf("file %+v does not describe %s", f, d.Filename)
		}
	}
	// Several targets: each file once.
	res38, err := pypi.Resolve(context.Background(), idx, groups(t, []string{"alpha"}), py38, pypi.ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	all := pypi.MergeFiles(res, res38)
	if len(all) != 6+2 { // alpha 2.1 and beta's cp38 wheel are new; delta's abi3 wheel is shared
		t.Errorf("merged %d files, want 8", len(all))
	}
}

func TestResolveErrors(t *testing.T) {
	fi := newFakeIndex(t, testDists(t))
	tests := []struct {
		name   string
		groups [][]string
		target pypi.Target
		is     error
		check  func(t *testing.T, err error)
		says   []string
	}{
		{
			name: "conflict names both requirers", groups: [][]string{{"conflicta", "conflictb"}}, target: py38, is: pypi.ErrConflict,
			check: func(t *testing.T, err error) {
				var ce *pypi.ConflictError
				if !errors.As(err, &ce) || ce.Project != "delta" || ce.First.By != "conflicta 1.0" || ce.Second.By != "conflictb 1.0" ||
					ce.First.Specifier != "<1.0" || ce.Second.Specifier != ">=1.0" {
					t.Errorf("conflict %+v", ce)
				}
			},
			says: []string{"conflicta 1.0 wants <1.0", "conflictb 1.0 wants >=1.0", "delta", "py38"},
		},
		{
			name: "conflict between a group and a dependency", groups: [][]string{{"conflicta", "delta>=1.0"}}, target: py36, is: pypi.ErrConflict,
			says: []string{"conflicta 1.0 wants <1.0", `group "g1" wants >=1.0`},
		},
		{
			name: "missing package", groups: [][]string{{"nosuchpkg"}}, target: py36, is: pypi.ErrNotFound,
			says: []string{"nosuchpkg", `required by group "g1"`},
		},
		{
			name: "missing dependency", groups: [][]string{{"brokendep"}}, target: py36, is: pypi.ErrNotFound,
			says: []string{"nosuchpkg", "required by brokendep 1.0", "py36"},
		},
		{
			name: "only a Windows wheel", groups: [][]string{{"winpkg"}}, target: py36, is: pypi.ErrNoFile,
			check: func(t *testing.T, err error) {
				var nf *pypi.NoFileError
				if !errors.As(err, &nf) || nf.Project != "winpkg" || nf.Version != "1.0" || !strings.Contains(nf.Target, "py36") {
					t.Errorf("no-file error %+v", nf)
				}
			},
			says: []string{"winpkg 1.0 has no file for py36", "winpkg-1.0-cp36-cp36m-win_amd64.whl: wheel for another Python or platform"},
		},
		{
			name: "requires_python excludes every file", groups: [][]string{{"oldpy"}}, target: py38, is: pypi.ErrNoFile,
			says: []string{"oldpy 1.0 has no file for py38", "requires Python <3"},
		},
		{
			name: "no such version", groups: [][]string{{"delta==7.0"}}, target: py38, is: pypi.ErrNoVersion,
			says: []string{"delta: no release matches ==7.0", "1.1rc1, 1.0, 0.9"},
		},
		{
			name: "requires_python and yanked leave nothing", groups: [][]string{{"alpha>=2.0"}}, target: py36, is: pypi.ErrNoFile,
			says: []string{"alpha 2.1 has no file", "alpha-2.1-py3-none-any.whl: requires Python >=3.7", "alpha-2.0-py3-none-any.whl: yanked"},
		},
		{
			name: "direct URLs are not resolved", groups: [][]string{{"alpha @ https://example.org/alpha.whl"}}, target: py36, is: pypi.ErrUnsupported,
		},
	}
	for kind, idx := range indexes(t, fi) {
		for _, tc := range tests {
			t.Run(kind+"/"+tc.name, func(t *testing.T) {
				_, err := pypi.Resolve(context.Background(), idx, groups(t, tc.groups...), tc.target, pypi.ResolveOptions{})
				if !errors.Is(err, tc.is) {
					t.Fatalf("error %v, want %v", err, tc.is)
				}
				if tc.check != nil {
					tc.check(t, err)
				}
				for _, s := range tc.says {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not say %q", err, s)
					}
				}
			})
		}
	}
}

func TestResolveDigestMismatch(t *testing.T) {
	// gamma's sdist is read for its metadata during resolution: altered
	// bytes stop the resolution, naming the file, the source and both
	// digests.
	fi := newFakeIndex(t, testDists(t))
	fi.Tamper("gamma-1.0.tar.gz")
	idx := pypi.NewJSONAPI(fi.URL(), pypi.IndexOptions{Client: loopbackClient()})
	_, err := pypi.Resolve(context.Background(), idx, groups(t, []string{"alpha"}), py36, pypi.ResolveOptions{})
	var de *pypi.DigestError
	if !errors.As(err, &de) || !errors.Is(err, pypi.ErrDigestMismatch) {
		t.Fatalf("error %v, want a digest error", err)
	}
	if de.Filename != "gamma-1.0.tar.gz" || de.Source != fi.URL()+"/packages/gamma-1.0.tar.gz" || de.Want == de.Got || len(de.Got) != 64 {
		t.Errorf("digest error %+v", de)
	}
}

func TestResolveThroughMirror(t *testing.T) {
	// The JSON API names files on files.pythonhosted.org, which cannot be
	// reached; a rewrite sends them to the mirror.
	fi := newFakeIndex(t, testDists(t))
	fi.FileBase = "https://files.pythonhosted.org"
	urls := func(u string) []string {
		if rest, ok := strings.CutPrefix(u, "https://files.pythonhosted.org/"); ok {
			return []string{fi.URL() + "/" + rest, u}
		}
		return []string{u}
	}
	idx := pypi.NewJSONAPI(fi.URL(), pypi.IndexOptions{Client: loopbackClient(), URLs: urls})
	res, err := pypi.Resolve(context.Background(), idx, groups(t, []string{"alpha"}), py36, pypi.ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range res.Files() {
		if !strings.HasPrefix(f.URL, "https://files.pythonhosted.org/packages/") {
			t.Errorf("file URL %s: want the index's own URL kept", f.URL)
		}
	}
	// Without the rewrite the file host cannot be reached.
	idx = pypi.NewJSONAPI(fi.URL(), pypi.IndexOptions{Client: loopbackClient()})
	if _, err := pypi.Resolve(context.Background(), idx, groups(t, []string{"alpha"}), py36, pypi.ResolveOptions{}); err == nil || !strings.Contains(err.Error(), "files.pythonhosted.org") {
		t.Errorf("error %v, want one naming files.pythonhosted.org", err)
	}
}

func TestSimpleAPIVariants(t *testing.T) {
	// PEP 691 JSON and HTML with relative links give the same files.
	want := []string{
		"alpha 1.1 alpha-1.1-py3-none-any.whl",
		"beta 1.0 beta-1.0-cp36-cp36m-manylinux1_x86_64.whl",
		"gamma 1.0 gamma-1.0.tar.gz",
		"delta 1.0 delta-1.0-cp36-abi3-manylinux2014_x86_64.whl",
		"build:setuptools 44.0.0 setuptools-44.0.0-py2.py3-none-any.whl",
		"build:wheel 0.34.2 wheel-0.34.2-py2.py3-none-any.whl",
	}
	for _, tc := range []struct {
		name              string
		json691, relative bool
	}{{"pep 691 json", true, false}, {"relative html links", false, true}} {
		t.Run(tc.name, func(t *testing.T) {
			fi := newFakeIndex(t, testDists(t))
			fi.JSON691, fi.Relative = tc.json691, tc.relative
			idx := pypi.NewSimpleAPI(fi.URL(), pypi.IndexOptions{Client: loopbackClient()})
			res, err := pypi.Resolve(context.Background(), idx, groups(t, []string{"alpha"}), py36, pypi.ResolveOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if got := chosen(res); !slices.Equal(got, want) {
				t.Errorf("chose %q", got)
			}
			for _, f := range res.Files() {
				if !strings.HasPrefix(f.URL, fi.URL()+"/packages/") {
					t.Errorf("URL %s not resolved against the page", f.URL)
				}
			}
		})
	}
}

func TestIndexCaches(t *testing.T) {
	fi := newFakeIndex(t, testDists(t))
	idx := pypi.NewJSONAPI(fi.URL(), pypi.IndexOptions{Client: loopbackClient()})
	for _, target := range []pypi.Target{py36, py36, py38} {
		if _, err := pypi.Resolve(context.Background(), idx, groups(t, []string{"alpha"}, []string{"alpha"}), target, pypi.ResolveOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if n := fi.Hits("/pypi/alpha/json"); n != 1 {
		t.Errorf("alpha's project JSON fetched %d times, want 1", n)
	}
	if n := fi.Hits("/packages/gamma-1.0.tar.gz"); n != 1 {
		t.Errorf("gamma's sdist fetched %d times for its metadata, want 1", n)
	}
}

func TestResolveNextSource(t *testing.T) {
	// Files are read through IndexOptions.URLs in order: bytes from the
	// first source that do not match the index's sha256 are dropped, and
	// the next source gives the right ones.
	fi := newFakeIndex(t, testDists(t))
	bad := newFakeIndex(t, testDists(t))
	bad.Tamper("gamma-1.0.tar.gz")
	tmp := t.TempDir()
	urls := func(u string) []string {
		return []string{strings.Replace(u, fi.URL(), bad.URL(), 1), u}
	}
	idx := pypi.NewJSONAPI(fi.URL(), pypi.IndexOptions{Client: loopbackClient(), URLs: urls, TempDir: tmp})
	res, err := pypi.Resolve(context.Background(), idx, groups(t, []string{"alpha"}), py36, pypi.ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(chosen(res), "gamma 1.0 gamma-1.0.tar.gz") {
		t.Errorf("chose %q, want gamma's sdist among them", chosen(res))
	}
	if bad.Hits("/packages/gamma-1.0.tar.gz") != 1 || fi.Hits("/packages/gamma-1.0.tar.gz") != 1 {
		t.Errorf("gamma's sdist fetched %d times from the bad source and %d from the good one, want once each",
			bad.Hits("/packages/gamma-1.0.tar.gz"), fi.Hits("/packages/gamma-1.0.tar.gz"))
	}
	if left, _ := os.ReadDir(tmp); len(left) != 0 {
		t.Errorf("left %v behind", left)
	}
}
