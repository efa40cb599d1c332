package bundletest_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/apt"
	"github.com/paimirror/paimirror/bundle/apt/apttest"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/fileserver"
	"github.com/paimirror/paimirror/manifests"
)

// aptManifest has two repositories for one target (Docker's left out of
// the nodes' sources, its key armored under the repository's own path),
// a second target sharing Ubuntu's repository, and pins with an epoch
// and a relation.
const aptManifest = `name: apt-small
apt:
  - name: ubuntu-bionic
    target: ubuntu-18.04
    url: http://archive.ubuntu.com/ubuntu
    suites: [bionic, bionic-updates]
    components: [main, universe]
    key:
      url: https://keyserver.ubuntu.com/ubuntu-archive-keyring.gpg
      fingerprint: 790B C727 7767 219C 42C8  6F93 3B4F E6AC C0B2 1F32
    packages: [nfs-common, jq=1.5+dfsg-2]
  - name: docker-bionic
    target: ubuntu-18.04
    url: https://download.docker.com/linux/ubuntu
    suites: [bionic]
    components: [stable]
    key:
      url: https://download.docker.com/linux/ubuntu/gpg
      fingerprint: 9DC858229FC7DD38854AE2D88D81803C0EBFCD88
    packages: ["docker-ce=5:18.09.7~3-0~ubuntu-bionic", "containerd.io (>= 1.2.2-3)"]
    sources: false
  - name: ubuntu-focal
    target: ubuntu-20.04
    url: http://archive.ubuntu.com/ubuntu
    suites: [focal]
    components: [main]
    architectures: [amd64, arm64]
    key:
      url: https://keyserver.ubuntu.com/ubuntu-archive-keyring.gpg
      fingerprint: 790BC7277767219C42C86F933B4FE6ACC0B21F32
    packages: [nfs-common]
`

func startApt(t *testing.T) *bundletest.Upstream {
	t.Helper()
	m, err := manifests.Parse("apt-small.yaml", []byte(aptManifest))
	if err != nil {
		t.Fatal(err)
	}
	u, err := bundletest.Start(m, bundletest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	return u
}

// TestStartApt checks what the fake serves for the apt entries: one
// repository per URL, keys at the key URLs holding the fingerprints the
// rewritten manifest pins, and mirrors for every host.
func TestStartApt(t *testing.T) {
	u := startApt(t)
	if len(u.Apt) != 2 || len(u.AptKeys) != 2 {
		t.Fatalf("%d repositories and %d keys, want 2 and 2", len(u.Apt), len(u.AptKeys))
	}
	ctx := context.Background()
	for _, e := range u.Manifest.Apt {
		repo := u.Apt[e.URL]
		if e.Key.Fingerprint != repo.Fingerprint() {
			t.Errorf("%s pins %s, the fake signs with %s", e.Name, e.Key.Fingerprint, repo.Fingerprint())
		}
		// The key and the metadata through the mirror, as build gets them.
		keyURL := mirrored(t, u, e.Key.URL)
		data := get(t, keyURL)
		if armored := strings.HasPrefix(string(data), "-----BEGIN PGP PUBLIC KEY BLOCK-----"); armored == strings.HasSuffix(e.Key.URL, ".gpg") {
			t.Errorf("%s: key armored %v", e.Key.URL, armored)
		}
		key, err := apt.NewKey(data, e.Key.Fingerprint)
		if err != nil {
			t.Fatalf("%s: %v", e.Name, err)
		}
		for _, suite := range e.Suites {
			md, err := apt.FetchMetadata(ctx, apt.Source{URL: mirrored(t, u, e.URL), Suite: suite, Components: e.Components, Architectures: e.ArchitectureList(), Key: key}, apt.FetchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(md.Indexes) != len(e.Components)*len(e.ArchitectureList()) {
				t.Errorf("%s %s: %d indexes", e.Name, suite, len(md.Indexes))
			}
			for _, want := range e.Packages {
				name, _, _ := strings.Cut(strings.Fields(want)[0], "=")
				if len(md.Indexes[0].Lookup(name)) == 0 {
					t.Errorf("%s %s: no %s in %s", e.Name, suite, name, md.Indexes[0].Path)
				}
			}
		}
	}
	if r := u.Apt["http://archive.ubuntu.com/ubuntu"]; r != nil {
		rel, _ := r.File("dists/bionic-updates/Release")
		if !strings.Contains(string(rel), "\nSuite: bionic-updates\nCodename: bionic\n") {
			t.Errorf("bionic-updates Release:\n%s", rel)
		}
	}
	// Pin gives a part of the manifest the same fingerprints.
	m, _ := manifests.Parse("apt-small.yaml", []byte(aptManifest))
	part := &manifests.Manifest{Name: "part", Apt: m.Apt[2:]}
	if got := u.Pin(part).Apt[0].Key.Fingerprint; got != u.Manifest.Apt[2].Key.Fingerprint || m.Apt[2].Key.Fingerprint == got {
		t.Errorf("Pin: %s, want %s", got, u.Manifest.Apt[2].Key.Fingerprint)
	}
	flags := strings.Join(u.MirrorFlags(), " ")
	for _, host := range []string{"http://archive.ubuntu.com=", "https://download.docker.com=", "https://keyserver.ubuntu.com="} {
		if !strings.Contains(flags, host) {
			t.Errorf("no mirror for %s in %s", host, flags)
		}
	}
}

// mirrored returns where the upstream's mirrors send u.
func mirrored(t *testing.T, up *bundletest.Upstream, u string) string {
	t.Helper()
	for _, m := range up.Mirrors() {
		if rest, ok := strings.CutPrefix(u, m.From); ok && (rest == "" || rest[0] == '/') {
			return m.To + rest
		}
	}
	t.Fatalf("no mirror for %s", u)
	return ""
}

func get(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", u, resp.StatusCode, err)
	}
	return data
}

// TestBuildApt builds the apt entries through the fake and checks what
// each target resolved to, then lets the real apt-get update from the
// bundle's files, served at the paths the lock gives, and download each
// target's wanted packages: it must fetch exactly what was resolved.
func TestBuildApt(t *testing.T) {
	u := startApt(t)
	res, err := bundle.Build(context.Background(), u.Manifest, bundle.BuildOptions{
		Output:    filepath.Join(t.TempDir(), "apt.tar"),
		Mirrors:   u.Mirrors(),
		Transport: bundletest.LoopbackTransport(),
	})
	if err != nil {
		t.Fatal(err)
	}
	la := res.Lock.Apt
	if la == nil {
		t.Fatal("the lock has no apt record")
	}
	want := map[string][]string{
		// jq and nfs-common are installed before kubespray adds Docker's
		// repository, so their dependencies come without it (r1); docker-ce
		// is installed after, with every repository (r2).
		"ubuntu-18.04 amd64": {"containerd.io=1.2.2-3", "docker-ce=5:18.09.7~3-0~ubuntu-bionic", "jq=1.5+dfsg-2",
			"libpaimirror-demo=1.0+r1", "libpaimirror-demo=1.0+r2", "nfs-common=1.0", "paimirror-demo-config-default=1.0+r1", "paimirror-demo-config-default=1.0+r2"},
		"ubuntu-20.04 amd64": {"libpaimirror-demo=1.0+r1", "nfs-common=1.0", "paimirror-demo-config-default=1.0+r1"},
		"ubuntu-20.04 arm64": {"libpaimirror-demo=1.0+r1", "nfs-common=1.0", "paimirror-demo-config-default=1.0+r1"},
	}
	if len(la.Resolutions) != len(want) {
		t.Errorf("%d resolutions, want %d", len(la.Resolutions), len(want))
	}
	for _, r := range la.Resolutions {
		var got []string
		for _, p := range r.Packages {
			got = append(got, p.Name+"="+p.Version)
			if p.Name == bundletest.AptLibrary && len(p.RequiredBy) == 0 {
				t.Errorf("%s: %s is not required by anything", r.Target, p.Name)
			}
		}
		if k := r.Target + " " + r.Architecture; !slices.Equal(got, want[k]) {
			t.Errorf("%s: resolved %v, want %v", k, got, want[k])
		}
	}

	aptGetEachTarget(t, res)
}

// TestBuildDefaultManifestApt builds every apt entry of the default
// manifest, all its groups included, through the fake and checks it with
// apt-get as TestBuildApt does; the other sections are left out.
func TestBuildDefaultManifestApt(t *testing.T) {
	m := manifests.Default()
	if len(m.Apt) == 0 {
		t.Skip("the default manifest has no apt entries")
	}
	aptGroups := map[string]bool{}
	for _, e := range m.Apt {
		for _, g := range e.Groups {
			aptGroups[g] = true
		}
	}
	var include, exclude []string
	for _, g := range m.Groups {
		if aptGroups[g.Name] {
			include = append(include, g.Name)
		} else {
			exclude = append(exclude, g.Name)
		}
	}
	u, err := bundletest.Start(&manifests.Manifest{Name: m.Name, Groups: m.Groups, Apt: m.Apt}, bundletest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	res, err := bundle.Build(context.Background(), u.Manifest, bundle.BuildOptions{
		Output:    filepath.Join(t.TempDir(), "default-apt.tar"),
		Mirrors:   u.Mirrors(),
		Transport: bundletest.LoopbackTransport(),
		Include:   include,
		Exclude:   exclude,
	})
	if err != nil {
		t.Fatal(err)
	}
	targets := map[string]bool{}
	for _, e := range m.Apt {
		targets[e.Target] = true
	}
	got := map[string]bool{}
	for _, r := range res.Lock.Apt.Resolutions {
		got[r.Target] = true
		if len(r.Packages) <= len(r.Wanted) {
			t.Errorf("%s %s: %d packages for %d wanted: no dependency came in", r.Target, r.Architecture, len(r.Packages), len(r.Wanted))
		}
	}
	if len(got) != len(targets) {
		t.Errorf("resolved targets %v, the manifest has %v", got, targets)
	}
	aptGetEachTarget(t, res)
}

// aptGetEachTarget opens and verifies the bundle res wrote, serves its apt
// files at the paths the lock gives and lets the real apt-get, for each
// target and architecture, update from every repository of the target
// (the key fetched from the mirror as signed-by) and download the wanted
// packages: without a complaint, and exactly the .debs resolved.
func aptGetEachTarget(t *testing.T, res *bundle.Result) {
	t.Helper()
	la := res.Lock.Apt
	b, err := bundle.Open(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if rep, err := b.Verify(context.Background(), bundle.VerifyOptions{}); err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep)
	}

	aptGet := bundletest.Tool(t, "apt-get")
	bundletest.Tool(t, "gpgv")
	mirror := httptest.NewServer(fileserver.New(b).Handler(http.NotFoundHandler()))
	t.Cleanup(mirror.Close)
	keys := map[string][]byte{}
	for _, k := range la.Keys {
		keys[k.URL] = get(t, mirror.URL+k.Path)
	}
	for _, r := range la.Resolutions {
		t.Run(r.Target+"-"+r.Architecture, func(t *testing.T) {
			ag, err := apttest.NewAptGet(aptGet, t.TempDir(), r.Architecture)
			if err != nil {
				t.Fatal(err)
			}
			for _, repo := range la.Repositories {
				if repo.Target != r.Target || !slices.Contains(repo.Architectures, r.Architecture) {
					continue
				}
				suites := repo.Suites
				if repo.Flat {
					suites = []string{"./"}
				}
				for _, suite := range suites {
					if err := ag.AddSource(mirror.URL+repo.Prefix, suite, repo.Components, keys[repo.KeyURL]); err != nil {
						t.Fatal(err)
					}
				}
			}
			if _, err := ag.RunClean(context.Background(), "update"); err != nil {
				t.Fatal(err)
			}
			args := []string{"install", "-y", "--download-only"}
			for _, w := range r.Wanted {
				args = append(args, strings.Fields(w)[0]) // "name (>= v)": apt-get takes the name
			}
			if _, err := ag.RunClean(context.Background(), args...); err != nil {
				t.Error(err)
			}
			got, err := ag.Downloaded()
			if err != nil {
				t.Fatal(err)
			}
			var wantDebs []string
			for _, p := range r.Packages {
				wantDebs = append(wantDebs, p.Name+"_"+strings.ReplaceAll(p.Version, ":", "%3a")+"_"+p.Architecture+".deb")
			}
			// apt here sees every repository of the target at once; the
			// bundle also holds what the machines take before kubespray
			// adds Docker's, so it may hold more, never less.
			for _, g := range got {
				if !slices.Contains(wantDebs, g) {
					t.Errorf("apt-get downloaded %s, which the build did not resolve (%v)", g, wantDebs)
				}
			}
			for _, w := range r.Wanted {
				name := strings.Fields(strings.Split(w, "=")[0])[0]
				if !slices.ContainsFunc(got, func(g string) bool { return strings.HasPrefix(g, name+"_") }) {
					t.Errorf("apt-get did not download the wanted %s: %v", name, got)
				}
			}
		})
	}
}
