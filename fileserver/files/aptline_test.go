package files

import (
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle"
)

// aptLinesSummary is a bundle summary with every shape of apt repository
// the page writes a sources line for.
func aptLinesSummary() bundle.Summary {
	return bundle.Summary{Apt: []bundle.AptInfo{
		{Name: "ubuntu-bionic", Target: "ubuntu-18.04", Prefix: "/archive.ubuntu.com/ubuntu", Suites: []string{"bionic", "bionic-updates"},
			Components: []string{"main", "universe"}, Architectures: []string{"amd64"}, Sources: true},
		{Name: "docker-bionic", Target: "ubuntu-18.04", Prefix: "/download.docker.com/linux/ubuntu", Suites: []string{"bionic"},
			Components: []string{"stable"}, Architectures: []string{"amd64", "arm64"}},
		{Name: "focal", Target: "ubuntu-20.04", Prefix: "/archive.ubuntu.com/ubuntu", Suites: []string{"focal"},
			Components: []string{"main"}, Sources: true},
		{Name: "nvidia", Target: "ubuntu-18.04", Prefix: "/nvidia.github.io/libnvidia-container/stable/ubuntu18.04/amd64",
			Architectures: []string{"amd64"}, Flat: true, Sources: true},
		{Name: "nvidia-noarch", Target: "ubuntu-18.04", Prefix: "/nvidia.github.io/nvidia-docker/ubuntu18.04/amd64", Flat: true},
	}}
}

// TestAptLineText pins the page's sources lines, byte for byte, for each
// shape of repository: with and without architectures, several suites,
// flat.
func TestAptLineText(t *testing.T) {
	const base = "http://127.0.0.7:5000"
	want := [][]string{
		{"deb [arch=amd64] http://127.0.0.7:5000/archive.ubuntu.com/ubuntu bionic main universe",
			"deb [arch=amd64] http://127.0.0.7:5000/archive.ubuntu.com/ubuntu bionic-updates main universe"},
		{"deb [arch=amd64,arm64] http://127.0.0.7:5000/download.docker.com/linux/ubuntu bionic stable"},
		{"deb http://127.0.0.7:5000/archive.ubuntu.com/ubuntu focal main"},
		{"deb [arch=amd64] http://127.0.0.7:5000/nvidia.github.io/libnvidia-container/stable/ubuntu18.04/amd64 ./"},
		{"deb http://127.0.0.7:5000/nvidia.github.io/nvidia-docker/ubuntu18.04/amd64 ./"},
	}
	rows := aptRows(aptLinesSummary())
	if len(rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(rows), len(want))
	}
	for i, r := range rows {
		var got []string
		for _, l := range r.Lines {
			got = append(got, l.Text(base))
		}
		if strings.Join(got, "\n") != strings.Join(want[i], "\n") {
			t.Errorf("%s: lines\n%q\nwant\n%q", r.Name, got, want[i])
		}
	}
	// The config to paste holds the same lines, under a comment.
	s := &Server{aptRows: rows}
	sn := s.aptSnippets("127.0.0.7:5000", "http")
	if len(sn) != 3 || sn[0].ID != "apt-sources-ubuntu-18.04" || sn[1].ID != "apt-sources-ubuntu-20.04" {
		t.Fatalf("snippets %+v", sn)
	}
	if got, want := sn[0].Text, "# paimirror at 127.0.0.7:5000: the apt repositories for ubuntu-18.04\n"+
		want[0][0]+"\n"+want[0][1]+"\n"+want[3][0]+"\n"; got != want {
		t.Errorf("ubuntu-18.04's sources:\n%s\nwant\n%s", got, want)
	}
}

// TestAptLineRefusesInjection: a lock's apt record comes from the bundle
// as it is (serve checks no more of it than its digests), so a suite,
// component, architecture or prefix holding whitespace must not turn into
// a second sources line, or a shifted one, on the page or in the config
// to paste.
func TestAptLineRefusesInjection(t *testing.T) {
	const base = "http://127.0.0.7:5000"
	const evil = "deb http://evil.example/ ./"
	good := bundle.AptInfo{Name: "ubuntu", Target: "ubuntu-18.04", Prefix: "/archive.ubuntu.com/ubuntu", Suites: []string{"bionic"},
		Components: []string{"main"}, Architectures: []string{"amd64"}, Sources: true}
	for _, tc := range []struct {
		name string
		edit func(r *bundle.AptInfo)
	}{
		{"suite", func(r *bundle.AptInfo) { r.Suites = []string{"bionic main\n" + evil} }},
		{"component", func(r *bundle.AptInfo) { r.Components = []string{"main\r\n" + evil} }},
		{"architecture", func(r *bundle.AptInfo) { r.Architectures = []string{"amd64] http://evil.example/ ./ #"} }},
		{"prefix", func(r *bundle.AptInfo) { r.Prefix = "/x ./\n" + evil + " #" }},
		{"prefix of a flat repository", func(r *bundle.AptInfo) { r.Prefix, r.Flat, r.Suites = "/x\t./\n"+evil, true, nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := good
			r.Suites, r.Components, r.Architectures = append([]string{}, good.Suites...), append([]string{}, good.Components...), append([]string{}, good.Architectures...)
			tc.edit(&r)
			r.Name = "ubuntu\n" + evil // quoted in the comment
			rows := aptRows(bundle.Summary{Apt: []bundle.AptInfo{r}})
			var texts []string
			for _, l := range rows[0].Lines {
				text := l.Text(base)
				if strings.ContainsAny(text, "\n\r") || !strings.HasPrefix(text, `# apt repository "ubuntu\ndeb`) {
					t.Errorf("%s: the line reads %q, want one comment saying why there is none", tc.name, text)
				}
				texts = append(texts, text)
			}
			for _, sn := range (&Server{aptRows: rows}).aptSnippets("127.0.0.7:5000", "http") {
				texts = append(texts, sn.Text)
			}
			for _, text := range texts {
				for _, line := range strings.Split(text, "\n") {
					if strings.HasPrefix(strings.TrimSpace(line), "deb") {
						t.Errorf("the sources line of %s reads %q", tc.name, line)
					}
				}
			}
		})
	}
}
