package nodes

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle/apt/apttest"
	"github.com/paimirror/paimirror/bundle/bundletest"
)

// TestPrepareInstallsDocker: a real sshd node on Ubuntu 18.04 without
// docker gets docker-ce and its dependencies from the mirror's copy of
// Docker's repository (not in its sources: kubespray adds that itself),
// with the real apt-get checking the signature against the key the mirror
// serves. The test node's root is the host's, so apt-get only downloads
// (--download-only); the docker step then reports that docker is still
// missing. A node with docker is left alone, and preflight says prepare
// will install it.
func TestPrepareInstallsDocker(t *testing.T) {
	bundletest.Tool(t, "apt-get")
	bundletest.Tool(t, "gpgv")
	mirror := newMirror(t)
	arch := hostArch(t)
	serve := func(prefix string, suite apttest.Suite) *apttest.Repo {
		t.Helper()
		r, err := apttest.New(apttest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.AddSuite(suite); err != nil {
			t.Fatal(err)
		}
		for _, p := range r.Paths() {
			data, _ := r.File(p)
			mirror.serve(prefix+"/"+p, data)
		}
		return r
	}
	ubuntu := serve("/apt.test.example/ubuntu", apttest.Suite{Name: "bionic", Architectures: []string{arch}, Components: []apttest.Component{
		{Name: "main", Packages: []apttest.Package{{Name: "libseccomp2", Version: "2.5.1-1ubuntu1~18.04.2", Architecture: arch}}}}})
	docker := serve("/download.docker.com/linux/ubuntu", apttest.Suite{Name: "bionic", Architectures: []string{arch}, Components: []apttest.Component{
		{Name: "stable", Packages: []apttest.Package{
			{Name: "docker-ce", Version: "5:18.09.7~3-0~ubuntu-bionic", Architecture: arch, Depends: "docker-ce-cli, containerd.io (>= 1.2.2-3)"},
			{Name: "docker-ce", Version: "5:19.03.15~3-0~ubuntu-bionic", Architecture: arch, Depends: "docker-ce-cli, containerd.io (>= 1.2.2-3)"},
			{Name: "docker-ce-cli", Version: "5:19.03.15~3-0~ubuntu-bionic", Architecture: arch},
			{Name: "containerd.io", Version: "1.2.6-3", Architecture: arch, Depends: "libseccomp2 (>= 2.3.0)"},
		}}}})
	mirror.serve("/download.docker.com/linux/ubuntu/gpg", docker.Key())

	wantPkgs := []string{"containerd.io=1.2.6-3", "docker-ce=5:18.09.7~3-0~ubuntu-bionic", "docker-ce-cli=5:19.03.15~3-0~ubuntu-bionic"}
	a := &Apt{Repositories: []AptRepository{
		{Name: "test-bionic", Target: "ubuntu-18.04", Prefix: "/apt.test.example/ubuntu", Suites: []string{"bionic"},
			Components: []string{"main"}, Architectures: []string{arch}, Sources: true, Packages: []string{"libseccomp2=2.5.1-1ubuntu1~18.04.2"}},
		{Name: "docker-bionic", Target: "ubuntu-18.04", Prefix: "/download.docker.com/linux/ubuntu", Suites: []string{"bionic"},
			Components: []string{"stable"}, Architectures: []string{arch}, Packages: wantPkgs, KeyPath: "/download.docker.com/linux/ubuntu/gpg"},
	}, Wanted: map[string][]string{"ubuntu-18.04": {"docker-ce=5:18.09.7~3-0~ubuntu-bionic"}}}

	trusted := map[string]string{"trusted.gpg.d/test-ubuntu.asc": string(ubuntu.Key())}
	bare := newNode(t, nodeSpec{hostname: "pai-worker1", noDocker: true, apt: trusted})
	withDocker := newNode(t, nodeSpec{hostname: "pai-worker2", apt: map[string]string{"trusted.gpg.d/test-ubuntu.asc": string(ubuntu.Key())}})
	nodes := []Node{bare.node(Worker), withDocker.node(Worker)}
	keys, _ := openKeys(t)

	tab, err := Preflight(context.Background(), nodes[:1], testAuth(), keys, PreflightOptions{Mirror: Mirror{Addr: mirror.addr}, Apt: a})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range tab.Results {
		if r.Check == CheckDocker && (r.Status != Warn || !strings.Contains(r.Detail, "the prepare step installs "+strings.Join(wantPkgs, " "))) {
			t.Errorf("preflight docker: %+v", r)
		}
	}

	opts := PrepareOptions{Mirror: Mirror{Addr: mirror.addr}, Apt: a, DockerWait: time.Second, aptInstallArgs: []string{"--download-only"}}
	results, err := Prepare(context.Background(), nodes, testAuth(), keys, opts)
	got := byNode(results)
	r := got["pai-worker1"]
	if !slices.Equal(r.DockerInstalled, wantPkgs) {
		t.Fatalf("pai-worker1 installed %v (error %v), want %v", r.DockerInstalled, err, wantPkgs)
	}
	var de *DockerError
	if !errors.As(r.Err, &de) {
		t.Errorf("pai-worker1: after a download-only install docker should still be missing: %v", r.Err)
	}
	debs := bare.run(t, keys, "ls /var/cache/apt/archives")
	for _, want := range []string{"docker-ce_5%3a18.09.7~3-0~ubuntu-bionic_", "docker-ce-cli_5%3a19.03.15", "containerd.io_1.2.6-3_"} {
		if !strings.Contains(debs, want) {
			t.Errorf("pai-worker1 downloaded\n%s\nwithout %s", debs, want)
		}
	}
	// The install used its own lists: the node's own apt state knows
	// nothing of Docker's repository.
	if s := bare.run(t, keys, "apt-cache policy docker-ce"); strings.Contains(s, "download.docker.com") {
		t.Errorf("the node's apt state holds Docker's repository:\n%s", s)
	}
	if r := got["pai-worker2"]; r.Err != nil || len(r.DockerInstalled) != 0 {
		t.Errorf("pai-worker2 (docker installed): %+v", r)
	}
	if hits := strings.Join(mirror.hitsFrom(withDocker.ip), "\n"); strings.Contains(hits, "/download.docker.com/") {
		t.Errorf("pai-worker2 asked for Docker's repository:\n%s", hits)
	}
}
