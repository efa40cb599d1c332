package apt_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/apt"
)

// index parses stanzas (without Filename, Size and SHA256, which Resolve
// does not need) into an index named repo.
func index(t *testing.T, repo string, stanzas ...string) *apt.Index {
	t.Helper()
	idx, err := apt.ParsePackages(strings.NewReader(strings.Join(stanzas, "\n")), repo)
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

// TestResolveInMemory covers the resolver's rules on indexes of a
// release pocket and an updates pocket, without a repository.
func TestResolveInMemory(t *testing.T) {
	release := index(t, "release",
		"Package: libc6\nVersion: 2.27-3ubuntu1\nArchitecture: amd64\nPriority: required\n",
		"Package: dpkg\nVersion: 1.19.0.5\nArchitecture: amd64\nEssential: yes\nDepends: libc6 (>= 2.14)\n",
		"Package: curl\nVersion: 7.58.0-2\nArchitecture: amd64\nDepends: libc6 (>= 2.17), libcurl4 (= 7.58.0-2)\n",
		"Package: libcurl4\nVersion: 7.58.0-2\nArchitecture: amd64\nDepends: libc6 (>= 2.17)\n",
		"Package: editor-a\nVersion: 1\nArchitecture: amd64\nProvides: editor\n",
		"Package: editor-b\nVersion: 1\nArchitecture: amd64\nProvides: editor\n",
		"Package: uses-editor\nVersion: 1\nArchitecture: all\nDepends: editor\n",
		"Package: alt-user\nVersion: 1\nArchitecture: amd64\nDepends: missing-lib | editor-b\n",
		"Package: foreign\nVersion: 1\nArchitecture: arm64\n",
		"Package: arch-limited\nVersion: 1\nArchitecture: amd64\nDepends: only-on-arm [arm64]\n",
	)
	updates := index(t, "updates",
		"Package: libc6\nVersion: 2.27-3ubuntu1.6\nArchitecture: amd64\nPriority: required\n",
		"Package: curl\nVersion: 7.58.0-2ubuntu3.24\nArchitecture: amd64\nDepends: libc6 (>= 2.27-3ubuntu1.6), libcurl4 (= 7.58.0-2ubuntu3.24)\n",
		"Package: libcurl4\nVersion: 7.58.0-2ubuntu3.24\nArchitecture: amd64\nDepends: libc6 (>= 2.17)\n",
	)
	both := []*apt.Index{release, updates}
	tests := []struct {
		name    string
		indexes []*apt.Index
		wanted  []string
		opts    apt.ResolveOptions
		want    []string
		missing string
	}{
		{name: "essential at the release version suffices", indexes: []*apt.Index{release}, wanted: []string{"curl"},
			opts: apt.ResolveOptions{AssumeEssential: true}, want: []string{"curl=7.58.0-2", "libcurl4=7.58.0-2"}},
		{name: "an update needing a newer essential brings it", indexes: both, wanted: []string{"curl"},
			opts: apt.ResolveOptions{AssumeEssential: true},
			want: []string{"curl=7.58.0-2ubuntu3.24", "libc6=2.27-3ubuntu1.6", "libcurl4=7.58.0-2ubuntu3.24"}},
		{name: "installed without a version meets anything", indexes: both, wanted: []string{"curl"},
			opts: apt.ResolveOptions{Installed: []string{"libc6"}}, want: []string{"curl=7.58.0-2ubuntu3.24", "libcurl4=7.58.0-2ubuntu3.24"}},
		{name: "exact pin across pockets", indexes: both, wanted: []string{"curl=7.58.0-2"},
			opts: apt.ResolveOptions{AssumeEssential: true}, want: []string{"curl=7.58.0-2", "libcurl4=7.58.0-2"}},
		{name: "virtual package: first provider", indexes: both, wanted: []string{"uses-editor"},
			want: []string{"editor-a=1", "uses-editor=1"}},
		{name: "virtual package already provided", indexes: both, wanted: []string{"editor-b", "uses-editor"},
			want: []string{"editor-b=1", "uses-editor=1"}},
		{name: "alternative after a missing one", indexes: both, wanted: []string{"alt-user"},
			want: []string{"alt-user=1", "editor-b=1"}},
		{name: "relation for another architecture skipped", indexes: both, wanted: []string{"arch-limited"},
			want: []string{"arch-limited=1"}},
		{name: "package of another architecture is missing", indexes: both, wanted: []string{"foreign"}, missing: "foreign"},
		{name: "version constraint nothing meets", indexes: both, wanted: []string{"curl (>> 8)"}, missing: "curl"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := apt.Resolve(tc.indexes, tc.wanted, tc.opts)
			if tc.missing != "" {
				var me *apt.MissingError
				if !errors.As(err, &me) || me.Package != tc.missing {
					t.Fatalf("err = %v, want a MissingError naming %s", err, tc.missing)
				}
				if !strings.Contains(err.Error(), tc.missing) {
					t.Errorf("message %q does not name %s", err, tc.missing)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := names(res); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestResolveMalformedRelations: a relationship field that does not parse
// harms nothing until a resolution needs its package, and then names it.
func TestResolveMalformedRelations(t *testing.T) {
	idx := index(t, "repo",
		"Package: good\nVersion: 1\nArchitecture: amd64\nDepends: needed\n",
		"Package: needed\nVersion: 1\nArchitecture: amd64\n",
		"Package: broken\nVersion: 2\nArchitecture: amd64\nDepends: needed (>> )\n",
		"Package: uses-broken\nVersion: 1\nArchitecture: amd64\nDepends: broken\n",
	)
	res, err := apt.Resolve([]*apt.Index{idx}, []string{"good"}, apt.ResolveOptions{})
	if err != nil || !slices.Equal(names(res), []string{"good=1", "needed=1"}) {
		t.Fatalf("good: %v, %v", res, err)
	}
	_, err = apt.Resolve([]*apt.Index{idx}, []string{"uses-broken"}, apt.ResolveOptions{})
	if !errors.Is(err, apt.ErrSyntax) || !strings.Contains(err.Error(), "package broken 2: Depends") {
		t.Fatalf("want a syntax error naming broken's Depends, got %v", err)
	}
}

// TestResolveConflicts: Conflicts and Breaks steer the choice among
// alternatives, versions and providers, and a dependency only clashing
// candidates could meet is reported with the clash.
func TestResolveConflicts(t *testing.T) {
	idx := index(t, "repo",
		"Package: mta-a\nVersion: 1\nArchitecture: amd64\nProvides: mail-transport-agent\nConflicts: mail-transport-agent, legacy-mail\n",
		"Package: mta-b\nVersion: 1\nArchitecture: amd64\nProvides: mail-transport-agent\n",
		"Package: legacy-mail\nVersion: 1\nArchitecture: amd64\n",
		"Package: wants-mta\nVersion: 1\nArchitecture: all\nDepends: mail-transport-agent\n",
		"Package: tool\nVersion: 2\nArchitecture: amd64\nBreaks: plugin (<< 2)\n",
		"Package: plugin\nVersion: 1\nArchitecture: amd64\n",
		"Package: plugin\nVersion: 2\nArchitecture: amd64\nBreaks: old-core\n",
		"Package: old-core\nVersion: 1\nArchitecture: amd64\n",
		"Package: alt-user\nVersion: 1\nArchitecture: amd64\nDepends: mta-a | mta-b\n",
	)
	for _, tc := range []struct {
		name   string
		wanted []string
		want   []string
		clash  string
	}{
		// mta-a conflicts with legacy-mail (chosen first): the provider
		// mta-b meets the virtual package instead.
		{name: "provider passed over", wanted: []string{"legacy-mail", "wants-mta"}, want: []string{"legacy-mail=1", "mta-b=1", "wants-mta=1"}},
		{name: "first provider when nothing clashes", wanted: []string{"wants-mta"}, want: []string{"mta-a=1", "wants-mta=1"}},
		{name: "alternative passed over", wanted: []string{"legacy-mail", "alt-user"}, want: []string{"alt-user=1", "legacy-mail=1", "mta-b=1"}},
		// tool 2 breaks plugin << 2: a pinned plugin=1 cannot join it.
		{name: "breaks a pinned version", wanted: []string{"tool", "plugin=1"}, clash: "tool 2"},
		{name: "broken by a chosen package", wanted: []string{"old-core", "plugin (>= 2)"}, clash: "plugin 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := apt.Resolve([]*apt.Index{idx}, tc.wanted, apt.ResolveOptions{})
			if tc.clash != "" {
				if err == nil || !strings.Contains(err.Error(), tc.clash) || !strings.Contains(err.Error(), "conflicts with or breaks") {
					t.Fatalf("want an error naming the clash with %s, got %v (%v)", tc.clash, err, res)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := names(res); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}
