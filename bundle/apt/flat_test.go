package apt_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/apt"
	"github.com/paimirror/paimirror/bundle/apt/apttest"
	"github.com/paimirror/paimirror/bundle/bundletest"
)

// TestFlatRepository mirrors a flat repository (NVIDIA's layout: "deb
// URL ./", no dists/, "./" Filenames): FetchMetadata verifies it and
// keeps its Packages variants at the root, the resolver takes its
// packages (an arch-all one included) with a dependency from a regular
// suite, and the real apt-get updates from and downloads out of the
// mirrored copy alone.
func TestFlatRepository(t *testing.T) {
	flat, err := apttest.New(apttest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := flat.AddFlat([]apttest.Package{
		{Name: "nvidia-container-runtime", Version: "3.1.4-1", Architecture: "amd64", Depends: "nvidia-container-toolkit (>= 1.0.2)"},
		{Name: "nvidia-container-toolkit", Version: "1.0.5-1", Architecture: "amd64", Depends: "libnvidia-container-tools (>= 1.0.0)"},
		{Name: "libnvidia-container-tools", Version: "1.0.6-1", Architecture: "amd64", Depends: "libseccomp2"},
		{Name: "nvidia-docs", Version: "1.0-1", Architecture: "all"},
	}); err != nil {
		t.Fatal(err)
	}
	base, err := apttest.New(apttest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := base.AddSuite(apttest.Suite{Name: "bionic", Components: []apttest.Component{{Name: "main", Packages: []apttest.Package{
		{Name: "libseccomp2", Version: "2.4.3-1ubuntu3.18.04.3"}}}}}); err != nil {
		t.Fatal(err)
	}
	upFlat := httptest.NewServer(flat.Handler())
	defer upFlat.Close()
	upBase := httptest.NewServer(base.Handler())
	defer upBase.Close()

	fkey, err := apt.NewKey(flat.Key(), flat.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	bkey, err := apt.NewKey(base.Key(), base.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{} // the mirror's, under /nvidia
	keep := func(f apt.MetaFile) error {
		addMirrored(files, f.Path, f.Data)
		return nil
	}
	fmd, err := apt.FetchMetadata(context.Background(), apt.Source{URL: upFlat.URL + "/", Flat: true, Key: fkey}, apt.FetchOptions{Store: keep})
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range fmd.Files {
		paths = append(paths, f.Path)
		if f.Data != nil || f.SHA256 != sum(files[f.Path]) {
			t.Errorf("%s: handed to Store as other bytes than listed, or kept in Files", f.Path)
		}
	}
	if want := []string{"InRelease", "Release", "Release.gpg", "Packages.gz", "Packages.xz"}; !slices.Equal(paths, want) {
		t.Errorf("kept %v, want %v", paths, want)
	}
	if fmd.Source.Name() != upFlat.URL+" ./" {
		t.Errorf("name %q", fmd.Source.Name())
	}
	bmd, err := apt.FetchMetadata(context.Background(), apt.Source{URL: upBase.URL, Suite: "bionic", Components: []string{"main"}, Key: bkey}, apt.FetchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := apt.Resolve(append(fmd.Indexes, bmd.Indexes...), []string{"nvidia-container-runtime", "nvidia-docs"}, apt.ResolveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(res); !slices.Equal(got, []string{"libnvidia-container-tools=1.0.6-1", "libseccomp2=2.4.3-1ubuntu3.18.04.3",
		"nvidia-container-runtime=3.1.4-1", "nvidia-container-toolkit=1.0.5-1", "nvidia-docs=1.0-1"}) {
		t.Fatalf("resolved %v", got)
	}
	// The mirror: the flat repository's files under /nvidia, its .debs at
	// the Filename the index gives, "./" dropped.
	for _, p := range res.Packages {
		if p.Repository != fmd.Source.Name() {
			continue
		}
		if strings.HasPrefix(p.Filename, "./") || strings.Contains(p.Filename, "/") {
			t.Errorf("%s: Filename %q", p.Name, p.Filename)
		}
		data, ok := flat.File(p.Filename)
		if !ok || sum(data) != p.SHA256 || int64(len(data)) != p.Size {
			t.Fatalf("%s: the index lists size %d, sha256 %s; the repository does not hold that", p.Filename, p.Size, p.SHA256)
		}
		addMirrored(files, p.Filename, data)
	}
	h := http.StripPrefix("/nvidia", apttest.Mirror(files))
	mirror := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { t.Logf("GET %s", r.URL.Path); h.ServeHTTP(w, r) }))
	defer mirror.Close()

	aptGet := bundletest.Tool(t, "apt-get")
	bundletest.Tool(t, "gpgv")
	ag, err := apttest.NewAptGet(aptGet, t.TempDir(), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if err := ag.AddSource(mirror.URL+"/nvidia", "./", nil, flat.Key()); err != nil {
		t.Fatal(err)
	}
	if _, err := ag.RunClean(context.Background(), "update"); err != nil {
		t.Fatal(err)
	}
	if out, err := ag.Run(context.Background(), "download", "nvidia-container-runtime", "nvidia-docs"); err != nil {
		t.Fatalf("apt-get download: %v\n%s", err, out)
	}
}
