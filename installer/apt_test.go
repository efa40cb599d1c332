package installer

import (
	"context"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/installer/nodes"
	"github.com/paimirror/paimirror/installer/pai"
	"github.com/paimirror/paimirror/installer/patch"
	"github.com/paimirror/paimirror/installer/steps"
)

// testLock is a lock as a bundle with the default manifest's apt entries
// records them: Ubuntu 18.04's archive (in the sources) and Docker's
// repository (kubespray adds it).
func testLock() *bundle.Lock {
	return &bundle.Lock{
		FormatVersion: bundle.FormatVersion,
		Apt: &bundle.Apt{
			Repositories: []bundle.AptRepository{
				{Name: "ubuntu-bionic", Target: "ubuntu-18.04", URL: "http://archive.ubuntu.com/ubuntu", Suites: []string{"bionic", "bionic-updates", "bionic-security"},
					Components: []string{"main", "universe"}, Architectures: []string{"amd64"}, KeyURL: "https://keyserver.example/ubuntu.gpg",
					Sources: true, Prefix: "/archive.ubuntu.com/ubuntu"},
				{Name: "docker-bionic", Target: "ubuntu-18.04", URL: "https://download.docker.com/linux/ubuntu/", Suites: []string{"bionic"},
					Components: []string{"stable"}, Architectures: []string{"amd64"}, KeyURL: "https://download.docker.com/linux/ubuntu/gpg",
					Prefix: "/download.docker.com/linux/ubuntu", Files: []bundle.AptFile{
						{Path: "dists/bionic/InRelease"},
						{Path: "pool/stable/amd64/docker-ce_18.09.7~3-0~ubuntu-bionic_amd64.deb", Package: "docker-ce=5:18.09.7~3-0~ubuntu-bionic"}}},
			},
			Keys: []bundle.AptKey{
				{URL: "https://keyserver.example/ubuntu.gpg", Path: "/keyserver.example/ubuntu.gpg"},
				{URL: "https://download.docker.com/linux/ubuntu/gpg", Path: "/download.docker.com/linux/ubuntu/gpg"},
			},
			Resolutions: []bundle.AptResolution{{
				Target: "ubuntu-18.04", Architecture: "amd64",
				Wanted: []string{"sshpass", "python3", "python3-pip", "nfs-common", "docker-ce=5:18.09.7~3-0~ubuntu-bionic"},
				Packages: []bundle.AptPackage{{Name: "sshpass"}, {Name: "python3"}, {Name: "python3-pip"}, {Name: "python3.6"},
					{Name: "nfs-common"}, {Name: "docker-ce"}, {Name: "containerd.io"}},
			}},
		},
	}
}

func TestAptOfLock(t *testing.T) {
	l := testLock()
	a := aptOf(l)
	if a == nil || len(a.Repositories) != 2 || !a.Repositories[0].Sources || a.Repositories[1].Sources ||
		a.Repositories[0].Prefix != "/archive.ubuntu.com/ubuntu" || !slices.Equal(a.Wanted["ubuntu-18.04"], l.Apt.Resolutions[0].Wanted) {
		t.Errorf("aptOf: %+v", a)
	}
	if d := dockerAptOf(l); d == nil || *d != (patch.DockerApt{Path: "/download.docker.com/linux/ubuntu", KeyPath: "/download.docker.com/linux/ubuntu/gpg"}) {
		t.Errorf("dockerAptOf: %+v", d)
	}
	if got := aptPackages(l); !slices.Contains(got, "docker-ce") || !slices.Contains(got, "python3.6") || slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, "=") }) {
		t.Errorf("aptPackages: %v", got)
	}
	if aptFingerprint(l) == "" {
		t.Error("no fingerprint for a lock with apt")
	}
	for _, none := range []*bundle.Lock{nil, {}, {Apt: &bundle.Apt{}}} {
		if aptOf(none) != nil || dockerAptOf(none) != nil || aptPackages(none) != nil || aptFingerprint(none) != "" {
			t.Errorf("a lock without apt: %+v", none)
		}
	}
	// A flat repository is the one suite "./", without components.
	fl := testLock()
	fl.Apt.Repositories[0].Flat, fl.Apt.Repositories[0].Suites, fl.Apt.Repositories[0].Components = true, []string{}, []string{}
	if r := aptOf(fl).Repositories[0]; !slices.Equal(r.Suites, []string{nodes.FlatSuite}) || len(r.Components) != 0 {
		t.Errorf("flat repository: %+v", r)
	}
	// Docker's repository without its key: not pointed at.
	l.Apt.Keys = l.Apt.Keys[:1]
	if d := dockerAptOf(l); d != nil {
		t.Errorf("dockerAptOf without the key: %+v", d)
	}
}

// TestPatchWithApt: against a mirror whose lock carries apt repositories,
// the patch step points kubespray's Docker repository at the mirror and
// the scan no longer counts the apt accesses the bundle covers; a second
// run changes nothing.
func TestPatchWithApt(t *testing.T) {
	lock, err := json.Marshal(testLock())
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/"+bundle.LockName {
			w.Write(lock)
			return
		}
		http.NotFound(w, r)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	tree := filepath.Join(t.TempDir(), "pai")
	copyDir(t, filepath.Join("patch", "testdata", "pai"), tree)

	var results []*patch.Result
	opts := Options{PaiDir: tree, Mirror: addr, StateDir: t.TempDir(), Only: []string{StepPatch},
		Report: func(e steps.Event) {
			if e.Kind == steps.Done {
				results = append(results, e.Result.(*patch.Result))
			}
		}}
	if err := Install(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	config, _ := os.ReadFile(filepath.Join(tree, filepath.FromSlash(pai.ConfigFile)))
	for _, want := range []string{
		`docker_ubuntu_repo_base_url: "http://` + addr + `/download.docker.com/linux/ubuntu"`,
		`docker_ubuntu_repo_gpgkey: "http://` + addr + `/download.docker.com/linux/ubuntu/gpg"`,
	} {
		if !strings.Contains(string(config), want) {
			t.Errorf("config.yaml lacks %s", want)
		}
	}
	if len(results) != 1 || len(results[0].Changes) == 0 {
		t.Fatalf("the patch step's results: %+v", results)
	}
	for _, f := range results[0].Findings {
		if out := f.String(); strings.Contains(out, "archive.ubuntu.com") || strings.Contains(out, "requirement check") {
			t.Errorf("the scan still reports apt or the requirement check: %s", out)
		}
	}
	results = nil
	if err := Install(context.Background(), opts); err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || len(results[0].Changes) != 0 {
		t.Errorf("second patch changes %+v", results)
	}
}

func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestCheckAptLock: the lock's apt record reaches root shell scripts and
// sources lists; anything but plain names and paths is refused.
func TestCheckAptLock(t *testing.T) {
	if err := checkAptLock(testLock()); err != nil {
		t.Fatalf("a good lock: %v", err)
	}
	if err := checkAptLock(&bundle.Lock{}); err != nil {
		t.Fatalf("a lock without apt: %v", err)
	}
	for name, edit := range map[string]func(l *bundle.Lock){
		"suite with a newline": func(l *bundle.Lock) { l.Apt.Repositories[0].Suites[0] = "bionic\nPAIMIRROR_END_OF_FILE\nreboot" },
		"prefix traversal":     func(l *bundle.Lock) { l.Apt.Repositories[0].Prefix = "/a/../../etc" },
		"prefix with a space":  func(l *bundle.Lock) { l.Apt.Repositories[0].Prefix = "/a b" },
		"component quote":      func(l *bundle.Lock) { l.Apt.Repositories[0].Components[0] = "main'" },
		"architecture":         func(l *bundle.Lock) { l.Apt.Repositories[0].Architectures = []string{"amd64;id"} },
		"package":              func(l *bundle.Lock) { l.Apt.Repositories[1].Files[1].Package = "docker-ce=1$(id)" },
		"key path":             func(l *bundle.Lock) { l.Apt.Keys[0].Path = "/k'ey" },
		"wanted":               func(l *bundle.Lock) { l.Apt.Resolutions[0].Wanted[0] = "curl; reboot" },
		"target":               func(l *bundle.Lock) { l.Apt.Repositories[0].Target = "../x" },
	} {
		l := testLock()
		edit(l)
		if err := checkAptLock(l); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
