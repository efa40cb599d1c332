package nodes

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
	"github.com/paimirror/paimirror/manifests/shell"
)

// testApt is a bundle's apt record as the installer hands it to this
// package: Ubuntu 18.04's archive (added to the sources) and Docker's
// repository (added by kubespray, not by prepare).
func testApt(arch string) *Apt {
	return &Apt{
		Repositories: []AptRepository{
			{Name: "test-bionic", Target: "ubuntu-18.04", Prefix: "/apt.test.example/ubuntu", Suites: []string{"bionic", "bionic-updates"},
				Components: []string{"main", "universe"}, Architectures: []string{arch}, Sources: true},
			{Name: "docker-bionic", Target: "ubuntu-18.04", Prefix: "/download.docker.com/linux/ubuntu", Suites: []string{"bionic"},
				Components: []string{"stable"}, Architectures: []string{arch}},
		},
		Wanted: map[string][]string{
			"ubuntu-18.04": {"nfs-common", "unzip", "sshpass (>= 1.0)", "docker-ce=5:18.09.7~3-0~ubuntu-bionic", "unzip"},
			"ubuntu-20.04": {"nfs-common"},
		},
	}
}

func TestRenderAptSources(t *testing.T) {
	a := testApt("amd64")
	a.Repositories = append(a.Repositories, AptRepository{Name: "focal", Target: "ubuntu-20.04", Prefix: "/archive.ubuntu.com/ubuntu",
		Suites: []string{"focal"}, Components: []string{"main"}, Sources: true},
		AptRepository{Name: "nvidia", Target: "ubuntu-20.04", Prefix: "/nvidia.github.io/libnvidia-container/stable/ubuntu20.04/amd64",
			Suites: []string{FlatSuite}, Architectures: []string{"amd64"}, Sources: true})
	for _, tc := range []struct {
		name, target string
		m            Mirror
		want         []string // the deb lines
	}{
		{"plain http", "ubuntu-18.04", Mirror{Addr: "10.0.0.1:5000"}, []string{
			"deb [arch=amd64] http://10.0.0.1:5000/apt.test.example/ubuntu bionic main universe",
			"deb [arch=amd64] http://10.0.0.1:5000/apt.test.example/ubuntu bionic-updates main universe",
		}},
		{"https", "ubuntu-18.04", Mirror{Addr: "mirror.lab:8443", TLS: true}, []string{
			"deb [arch=amd64] https://mirror.lab:8443/apt.test.example/ubuntu bionic main universe",
			"deb [arch=amd64] https://mirror.lab:8443/apt.test.example/ubuntu bionic-updates main universe",
		}},
		{"no architectures, and a flat repository", "ubuntu-20.04", Mirror{Addr: "10.0.0.1:5000"}, []string{
			"deb http://10.0.0.1:5000/archive.ubuntu.com/ubuntu focal main",
			"deb [arch=amd64] http://10.0.0.1:5000/nvidia.github.io/libnvidia-container/stable/ubuntu20.04/amd64 ./",
		}},
		{"no repository", "ubuntu-16.04", Mirror{Addr: "10.0.0.1:5000"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := mustAptSources(t, a, tc.target, tc.m)
			if tc.want == nil {
				if got != "" {
					t.Errorf("got %q, want none", got)
				}
				return
			}
			var lines []string
			for _, l := range strings.Split(strings.TrimSpace(got), "\n") {
				if !strings.HasPrefix(l, "#") {
					lines = append(lines, l)
				}
			}
			if !slices.Equal(lines, tc.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(tc.want, "\n"))
			}
			if !strings.Contains(got, AptBackupDir) || !strings.HasSuffix(got, "\n") {
				t.Errorf("header or ending:\n%s", got)
			}
		})
	}
}

func TestRenderAptConf(t *testing.T) {
	plain := renderAptConf(Mirror{Addr: "10.0.0.1:5000"})
	for _, want := range []string{
		"Acquire::Languages \"none\";\n",
		"APT::Install-Recommends \"false\";\n",
		"Acquire::IndexTargets::deb::DEP-11::DefaultEnabled \"false\";\n",
		"Acquire::IndexTargets::deb::DEP-11-icons::DefaultEnabled \"false\";\n",
		"Acquire::IndexTargets::deb::CNF::DefaultEnabled \"false\";\n",
		"Acquire::IndexTargets::deb::Contents-deb::DefaultEnabled \"false\";\n",
		"Acquire::http::Proxy::10.0.0.1 \"DIRECT\";\n",
	} {
		if !strings.Contains(plain, want) {
			t.Errorf("drop-in lacks %q:\n%s", want, plain)
		}
	}
	if strings.Contains(plain, "CaInfo") || strings.Contains(plain, "deb::Packages") {
		t.Errorf("plain mirror drop-in:\n%s", plain)
	}
	tls := renderAptConf(Mirror{Addr: "mirror.lab:8443", TLS: true, CA: []byte("pem")})
	for _, want := range []string{"Acquire::https::Proxy::mirror.lab \"DIRECT\";\n", "Acquire::https::mirror.lab::CaInfo \"" + AptCAPath + "\";\n"} {
		if !strings.Contains(tls, want) {
			t.Errorf("TLS drop-in lacks %q:\n%s", want, tls)
		}
	}
	if strings.Contains(renderAptConf(Mirror{Addr: "mirror.lab:8443", TLS: true}), "CaInfo") {
		t.Error("CaInfo without a CA")
	}
}

func TestAptWanted(t *testing.T) {
	a := testApt("amd64")
	if got, want := a.wanted("ubuntu-18.04"), []string{"nfs-common", "unzip", "sshpass", "docker-ce"}; !slices.Equal(got, want) {
		t.Errorf("wanted %v, want %v", got, want)
	}
	for in, want := range map[string]string{"curl": "curl", "curl:amd64": "curl", " a (>= 1)": "a", "b=1:2": "b", "": ""} {
		if got := PackageName(in); got != want {
			t.Errorf("PackageName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestAptUpdateError: apt's messages are kept and the repository they
// name is found, the longest prefix winning.
func TestAptUpdateError(t *testing.T) {
	m := Mirror{Addr: "10.0.0.1:5000"}
	repos := []AptRepository{{Name: "ubuntu", Prefix: "/archive.ubuntu.com/ubuntu"}, {Name: "ports", Prefix: "/archive.ubuntu.com/ubuntu-ports"}}
	out := `Hit:1 http://10.0.0.1:5000/archive.ubuntu.com/ubuntu bionic InRelease
Err:2 http://10.0.0.1:5000/archive.ubuntu.com/ubuntu-ports bionic InRelease
  404  Not Found [IP: 10.0.0.1 5000]
Reading package lists...
W: GPG error: http://10.0.0.1:5000/archive.ubuntu.com/ubuntu bionic InRelease: NO_PUBKEY 0123
E: The repository 'http://10.0.0.1:5000/archive.ubuntu.com/ubuntu-ports bionic InRelease' does not have a Release file.
`
	lines := aptMessages(out)
	if len(lines) != 3 || lines[0] != "Err:2 http://10.0.0.1:5000/archive.ubuntu.com/ubuntu-ports bionic InRelease: 404  Not Found [IP: 10.0.0.1 5000]" {
		t.Fatalf("messages %q", lines)
	}
	e := newAptUpdateError("n1", repos, m, lines, &CommandError{Node: "n1", Status: 100})
	if !slices.Equal(e.Repositories, []string{"ports", "ubuntu"}) {
		t.Errorf("repositories %v", e.Repositories)
	}
	for _, want := range []string{"node n1", "repository ports, ubuntu", "exit status 100", "404  Not Found", "does not have a Release file", AptSourcesPath} {
		if !strings.Contains(e.Error(), want) {
			t.Errorf("%q lacks %q", e.Error(), want)
		}
	}
}

// etcApt runs script as root with dir bound over /etc/apt in a private
// mount namespace, so the machine's own /etc/apt is never touched.
func etcApt(t *testing.T, dir, script string) string {
	t.Helper()
	bundletest.Tool(t, "unshare")
	if os.Geteuid() != 0 {
		testenv.Need(t, "the apt script tests need root (a private mount namespace)")
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", `mount --bind "$1" /etc/apt && exec sh -c "$2"`, "sh", dir, script)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("script: %v\n%s%s", err, out.String(), errb.String())
	}
	return out.String()
}

// tree reads every file under dir as path -> content ("<dir>" for a
// directory).
func tree(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			m[rel] = "<dir>"
			return nil
		}
		data, _ := os.ReadFile(p)
		m[rel] = string(data)
		return nil
	})
	return m
}

func writeTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for p, c := range files {
		full := filepath.Join(dir, p)
		if c == "<dir>" {
			os.MkdirAll(full, 0o755)
			continue
		}
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestAptScripts runs the prepare and restore scripts on a directory
// standing in for /etc/apt: the originals are kept once and never
// overwritten, a rerun changes nothing, files naming the mirror stay,
// files that appear later are kept too, and restore puts back exactly
// what there was.
func TestAptScripts(t *testing.T) {
	const mirror = "10.0.0.1:5000"
	m := Mirror{Addr: mirror}
	a := testApt("amd64")
	sources := strings.TrimRight(mustAptSources(t, a, "ubuntu-18.04", m), "\n")
	conf := strings.TrimRight(renderAptConf(m), "\n")
	prepare := prepareAptScript(mirror, sources, conf, "")
	original := map[string]string{
		"sources.list":                          "deb http://archive.ubuntu.com/ubuntu bionic main\n",
		"sources.list.d/ppa.list":               "deb http://ppa.launchpad.net/x/y/ubuntu bionic main\n",
		"sources.list.d/debian.sources":         "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\n",
		"sources.list.d/old.list.save":          "not read by apt\n",
		"apt.conf.d/50appstream":                "// DEP-11\n",
		"trusted.gpg.d/ubuntu-keyring-2018.gpg": "key\n",
	}
	dir := t.TempDir()
	writeTree(t, dir, original)

	out := etcApt(t, dir, prepare)
	got := tree(t, dir)
	for p, want := range map[string]string{
		"sources.list":                                   aptPlaceholder,
		"sources.list.d/paimirror.list":                  sources + "\n",
		"apt.conf.d/99paimirror":                         conf + "\n",
		"paimirror-backup/sources.list":                  original["sources.list"],
		"paimirror-backup/sources.list.d/ppa.list":       original["sources.list.d/ppa.list"],
		"paimirror-backup/sources.list.d/debian.sources": original["sources.list.d/debian.sources"],
		"sources.list.d/old.list.save":                   original["sources.list.d/old.list.save"],
		"apt.conf.d/50appstream":                         original["apt.conf.d/50appstream"],
	} {
		if got[p] != want {
			t.Errorf("%s = %q, want %q", p, got[p], want)
		}
	}
	for _, gone := range []string{"sources.list.d/ppa.list", "sources.list.d/debian.sources", "paimirror-ca.crt", "paimirror-backup.tmp"} {
		if _, ok := got[gone]; ok {
			t.Errorf("%s is still there", gone)
		}
	}
	for _, want := range []string{"backup=created", "moved=/etc/apt/sources.list\n", "moved=/etc/apt/sources.list.d/ppa.list", "wrote=" + AptSourcesPath, "wrote=" + AptConfPath} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, ".paimirror-tmp*")); len(leftovers) > 0 {
		t.Errorf("temporary files left: %v", leftovers)
	}

	// A rerun: nothing to do.
	first := tree(t, dir)
	if out := etcApt(t, dir, prepare); strings.TrimSpace(out) != "" {
		t.Errorf("rerun did something:\n%s", out)
	}
	if again := tree(t, dir); !mapsEqual(again, first) {
		t.Errorf("rerun changed files:\n%v\nwant\n%v", again, first)
	}

	// Later: kubespray's Docker list names the mirror and stays; a new
	// list is kept in the backup beside the first originals; one whose
	// name is kept already with other content stays in place; the
	// sources.list someone put back is kept (the backup has it already
	// and it differs) and the kept original is not overwritten. A TLS
	// mirror with a CA adds the CA.
	docker := "deb http://" + mirror + "/download.docker.com/linux/ubuntu bionic stable\n"
	writeTree(t, dir, map[string]string{
		"sources.list.d/download_docker_com_linux_ubuntu.list": docker,
		"sources.list.d/later.list":                            "deb http://later.example.org/ bionic main\n",
		"sources.list.d/ppa.list":                              "deb http://ppa.launchpad.net/other/ubuntu bionic main\n",
		"sources.list":                                         "deb http://somewhere.else/ubuntu bionic main\n",
	})
	out = etcApt(t, dir, prepareAptScript(mirror, sources, conf, "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"))
	got = tree(t, dir)
	if got["sources.list.d/download_docker_com_linux_ubuntu.list"] != docker {
		t.Error("the list naming the mirror was moved")
	}
	if got["paimirror-backup/sources.list.d/later.list"] == "" || got["sources.list.d/later.list"] != "" {
		t.Error("the later list was not kept")
	}
	if got["paimirror-backup/sources.list.d/ppa.list"] != original["sources.list.d/ppa.list"] || got["paimirror-backup/sources.list"] != original["sources.list"] {
		t.Error("a kept original was overwritten")
	}
	for _, want := range []string{"kept=/etc/apt/sources.list.d/ppa.list", "kept=/etc/apt/sources.list\n", "moved=/etc/apt/sources.list.d/later.list", "wrote=" + AptCAPath} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if got["paimirror-ca.crt"] == "" {
		t.Error("no CA written")
	}
	// Then a plain mirror again: the CA goes.
	os.Remove(filepath.Join(dir, "sources.list.d/ppa.list"))
	os.Remove(filepath.Join(dir, "sources.list"))
	out = etcApt(t, dir, prepare)
	if !strings.Contains(out, "removed="+AptCAPath) {
		t.Errorf("the CA was not removed:\n%s", out)
	}

	// Restore: the originals back, ours gone, the backup gone.
	out = etcApt(t, dir, restoreAptScript)
	got = tree(t, dir)
	want := map[string]string{}
	for p, c := range original {
		want[p] = c
	}
	want["sources.list.d/later.list"] = "deb http://later.example.org/ bionic main\n"
	want["sources.list.d/download_docker_com_linux_ubuntu.list"] = docker
	for _, d := range []string{"sources.list.d", "apt.conf.d", "trusted.gpg.d"} {
		want[d] = "<dir>"
	}
	if !mapsEqual(got, want) {
		t.Errorf("after restore:\n%v\nwant\n%v\noutput:\n%s", got, want, out)
	}
	if out := etcApt(t, dir, restoreAptScript); strings.TrimSpace(out) != "nobackup" {
		t.Errorf("second restore: %q", out)
	}

	// A machine without sources.list: none after restore either.
	dir = t.TempDir()
	writeTree(t, dir, map[string]string{"sources.list.d/debian.sources": original["sources.list.d/debian.sources"]})
	etcApt(t, dir, prepare)
	if got := tree(t, dir); got["sources.list"] != aptPlaceholder || got["paimirror-backup/sources.list"] != "" {
		t.Errorf("placeholder %q, backup %q", got["sources.list"], got["paimirror-backup/sources.list"])
	}
	etcApt(t, dir, restoreAptScript)
	if _, ok := tree(t, dir)["sources.list"]; ok {
		t.Error("restore left the placeholder sources.list")
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

var (
	aptKeyOnce sync.Once
	aptKey     *openpgp.Entity
	aptKeyErr  error
)

// testAptKey is one throwaway signing key for the process.
func testAptKey(t *testing.T) *openpgp.Entity {
	t.Helper()
	aptKeyOnce.Do(func() {
		aptKey, aptKeyErr = openpgp.NewEntity("paimirror nodes test", "", "nodes@example.invalid", &packet.Config{RSABits: 2048})
	})
	if aptKeyErr != nil {
		t.Fatal(aptKeyErr)
	}
	return aptKey
}

// publicKey is the key as apt reads it from trusted.gpg.d (binary).
func publicKey(t *testing.T, e *openpgp.Entity) string {
	t.Helper()
	var b bytes.Buffer
	if err := e.Serialize(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// serveRepo adds the suites of r to the mirror: an InRelease whose
// Release lists each component's Packages (served) and, as Ubuntu's does,
// a DEP-11 index, command-not-found metadata and a translation (not
// served), so apt-get update fails unless the drop-in turns those off.
func serveRepo(t *testing.T, mirror *testMirror, r AptRepository, key *openpgp.Entity) {
	t.Helper()
	for _, suite := range r.Suites {
		sums := map[string][]byte{}
		for _, c := range r.Components {
			for _, arch := range r.Architectures {
				pkgs := []byte(fmt.Sprintf("Package: %s-tool\nVersion: 1.0-1\nArchitecture: %s\nMaintainer: Test <t@example.invalid>\nFilename: pool/%s/t/%s-tool_1.0-1_%s.deb\nSize: 1000\nSHA256: %s\nDescription: a test package\n\n",
					c, arch, c, c, arch, strings.Repeat("ab", 32)))
				p := c + "/binary-" + arch + "/Packages"
				sums[p] = pkgs
				mirror.serve(r.Prefix+"/dists/"+suite+"/"+p, pkgs)
				for _, ext := range []string{"", ".gz", ".xz"} { // as Ubuntu lists them
					sums[c+"/dep11/Components-"+arch+".yml"+ext] = []byte("not served")
				}
				sums[c+"/cnf/Commands-"+arch] = []byte("not served")
			}
			sums[c+"/i18n/Translation-en"] = []byte("not served")
		}
		release := fmt.Sprintf("Origin: test\nLabel: test\nSuite: %s\nCodename: %s\nDate: Sat, 01 Jan 2022 00:00:00 UTC\nArchitectures: %s\nComponents: %s\nSHA256:\n",
			suite, suite, strings.Join(r.Architectures, " "), strings.Join(r.Components, " "))
		paths := make([]string, 0, len(sums))
		for p := range sums {
			paths = append(paths, p)
		}
		slices.Sort(paths)
		for _, p := range paths {
			s := sha256.Sum256(sums[p])
			release += fmt.Sprintf(" %s %d %s\n", hex.EncodeToString(s[:]), len(sums[p]), p)
		}
		var in bytes.Buffer
		w, err := clearsign.Encode(&in, key.PrivateKey, nil)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(release))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		mirror.serve(r.Prefix+"/dists/"+suite+"/InRelease", in.Bytes())
	}
}

// hostArch is the dpkg architecture of this machine, which the nodes'
// apt-get is.
func hostArch(t *testing.T) string {
	t.Helper()
	out, err := exec.Command(bundletest.Tool(t, "dpkg"), "--print-architecture").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

// run runs cmd on the node over SSH as root and returns its output.
func (n *testNode) run(t *testing.T, keys *HostKeys, cmd string) string {
	t.Helper()
	c, err := Dial(context.Background(), n.node(Worker), testAuth(), keys, DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out, errb, err := c.Run(context.Background(), cmd, RunOptions{Sudo: true})
	if err != nil {
		t.Fatalf("%s on %s: %v %s", cmd, n.spec.hostname, err, errb)
	}
	return string(out)
}

// TestPrepareApt points real nodes' apt at a mirror serving a signed
// repository and lets the real apt-get update from it: the originals are
// kept once, the sources and the drop-in are written, apt asks the mirror
// only for what it carries; a node of another release is left alone, one
// without the repository's key fails with the repository named. A rerun
// changes nothing; RestoreApt puts the originals back, and a second one
// finds nothing to do. The host's own /etc/apt is never touched.
func TestPrepareApt(t *testing.T) {
	bundletest.Tool(t, "apt-get")
	bundletest.Tool(t, "gpgv")
	hostBefore := tree(t, "/etc/apt")
	mirror := newMirror(t)
	arch := hostArch(t)
	a := testApt(arch)
	key := testAptKey(t)
	for _, r := range a.Repositories {
		serveRepo(t, mirror, r, key)
	}
	trusted := map[string]string{"trusted.gpg.d/paimirror-test.gpg": publicKey(t, key)}
	withKey := func(files map[string]string) map[string]string {
		for k, v := range trusted {
			files[k] = v
		}
		return files
	}
	origSources := "deb http://archive.ubuntu.com/ubuntu bionic main universe\n"
	origPPA := "deb http://ppa.launchpad.net/graphics-drivers/ppa/ubuntu bionic main\n"
	master := newNode(t, nodeSpec{hostname: "pai-master", apt: withKey(map[string]string{
		"sources.list": origSources, "sources.list.d/graphics-drivers.list": origPPA})})
	focal := newNode(t, nodeSpec{hostname: "pai-worker1", osRelease: ubuntu("20.04"), apt: map[string]string{"sources.list": origSources}})
	nokey := newNode(t, nodeSpec{hostname: "pai-worker2"})
	dev := newNode(t, nodeSpec{hostname: "dev-box", apt: withKey(map[string]string{})})
	nodes := []Node{master.node(Master), focal.node(Worker), nokey.node(Worker), {Name: "dev-box", Addr: dev.ip, Role: DevBox}}
	keys, stateDir := openKeys(t)
	log, logs := testLogger()
	opts := PrepareOptions{Mirror: Mirror{Addr: mirror.addr}, Apt: a, Logger: log}

	results, err := Prepare(context.Background(), nodes, testAuth(), keys, opts)
	var ue *AptUpdateError
	if !errors.As(err, &ue) || ue.Node != "pai-worker2" || !slices.Equal(ue.Repositories, []string{"test-bionic"}) {
		t.Fatalf("error %v, want an *AptUpdateError for pai-worker2 naming test-bionic", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "NO_PUBKEY") && !strings.Contains(msg, "not signed") {
		t.Errorf("error %q does not say the key is missing", msg)
	}
	t.Logf("pai-worker2: %v", err)
	got := byNode(results)
	for _, name := range []string{"pai-master", "dev-box"} {
		r := got[name]
		if r.Err != nil || r.Apt == nil || r.Apt.Target != "ubuntu-18.04" || r.Apt.Skipped != "" || !r.Apt.BackedUp || !r.Apt.Updated ||
			!slices.Contains(r.Apt.Wrote, AptSourcesPath) || !slices.Contains(r.Apt.Wrote, AptConfPath) {
			t.Errorf("%s: %+v %+v", name, r, r.Apt)
		}
	}
	if r := got["pai-master"]; !slices.Contains(r.Apt.Moved, "/etc/apt/sources.list") || !slices.Contains(r.Apt.Moved, "/etc/apt/sources.list.d/graphics-drivers.list") {
		t.Errorf("pai-master moved %v", r.Apt.Moved)
	}
	if r := got["pai-worker1"]; r.Err != nil || r.Apt == nil || r.Apt.Target != "ubuntu-20.04" || !strings.Contains(r.Apt.Skipped, "no apt repository for ubuntu-20.04") || r.Apt.Changed() {
		t.Errorf("pai-worker1: %+v %+v", r, r.Apt)
	}

	// The files as the master sees them, and as its overlay holds them.
	want := mustAptSources(t, a, "ubuntu-18.04", opts.Mirror)
	if s := master.run(t, keys, "cat "+AptSourcesPath); s != want {
		t.Errorf("sources:\n%s\nwant\n%s", s, want)
	}
	if s := master.run(t, keys, "cat "+AptConfPath); s != renderAptConf(opts.Mirror) {
		t.Errorf("drop-in:\n%s", s)
	}
	if s := master.run(t, keys, "cd /etc/apt/sources.list.d && ls *.list *.sources 2>/dev/null || true"); strings.TrimSpace(s) != "paimirror.list" {
		t.Errorf("sources.list.d holds %q", s)
	}
	backup := filepath.Join(master.upper, "apt", "paimirror-backup")
	if b, _ := os.ReadFile(filepath.Join(backup, "sources.list")); string(b) != origSources {
		t.Errorf("backup of sources.list: %q", b)
	}
	if b, _ := os.ReadFile(filepath.Join(backup, "sources.list.d", "graphics-drivers.list")); string(b) != origPPA {
		t.Errorf("backup of the ppa list: %q", b)
	}
	if _, err := os.Stat(filepath.Join(focal.upper, "apt", "paimirror-backup")); err == nil {
		t.Error("pai-worker1's apt was changed")
	}
	if s := master.run(t, keys, "apt-cache policy main-tool"); !strings.Contains(s, "Candidate: 1.0-1") || !strings.Contains(s, mirror.addr+"/apt.test.example/ubuntu bionic") {
		t.Errorf("apt does not see the mirror's package:\n%s", s)
	}

	// apt asked the mirror for the InRelease and Packages of each suite,
	// and for nothing it does not carry.
	for _, n := range []*testNode{master, dev} {
		hits := strings.Join(mirror.hitsFrom(n.ip), "\n")
		for _, want := range []string{"GET /apt.test.example/ubuntu/dists/bionic/InRelease", "GET /apt.test.example/ubuntu/dists/bionic-updates/main/binary-" + arch + "/Packages"} {
			if !strings.Contains(hits, want) {
				t.Errorf("%s: mirror hits lack %q:\n%s", n.spec.hostname, want, hits)
			}
		}
		for _, never := range []string{"dep11", "cnf", "i18n", "/download.docker.com/"} {
			if strings.Contains(hits, never) {
				t.Errorf("%s asked the mirror for %s:\n%s", n.spec.hostname, never, hits)
			}
		}
	}

	// Without the drop-in, apt asks the mirror for the DEP-11 metadata
	// the Release lists (where appstream is installed, as on this
	// machine and on Ubuntu) and fails.
	if _, err := os.Stat("/etc/apt/apt.conf.d/50appstream"); err == nil {
		out := master.run(t, keys, "d=$(mktemp -d); mkdir $d/partial; chown _apt $d/partial; mv "+AptConfPath+" /etc/apt/no-dropin; apt-get -q -o Dir::State::Lists=$d update 2>&1; echo status=$?; mv /etc/apt/no-dropin "+AptConfPath+"; rm -rf $d")
		if !strings.Contains(out, "dep11/Components-"+arch+".yml") || !strings.Contains(out, "status=100") {
			t.Errorf("apt-get update without the drop-in did not fail on DEP-11, so the test proves nothing:\n%s", out)
		}
	}

	// A rerun changes nothing; apt-get update works again.
	before := tree(t, filepath.Join(master.upper, "apt"))
	results, _ = Prepare(context.Background(), nodes[:2], testAuth(), keys, opts)
	for _, r := range results {
		if r.Err != nil || r.Apt == nil || r.Apt.Changed() || (r.Node == "pai-master" && !r.Apt.Updated) {
			t.Errorf("rerun, %s: %+v %+v", r.Node, r, r.Apt)
		}
	}
	if after := tree(t, filepath.Join(master.upper, "apt")); !mapsEqual(after, before) {
		t.Error("the rerun changed the master's /etc/apt")
	}

	// kubespray adds Docker's repository from the mirror later; a rerun
	// leaves it and apt-get update reads it too.
	dockerList := "deb [arch=" + arch + "] http://" + mirror.addr + "/download.docker.com/linux/ubuntu bionic stable\n"
	master.run(t, keys, "printf '%s' "+shell.Quote(dockerList)+" > /etc/apt/sources.list.d/download_docker_com_linux_ubuntu.list")
	results, err = Prepare(context.Background(), nodes[:1], testAuth(), keys, opts)
	if err != nil || results[0].Apt.Changed() || !results[0].Apt.Updated {
		t.Errorf("rerun with Docker's list: %v %+v", err, results[0].Apt)
	}
	if hits := strings.Join(mirror.hitsFrom(master.ip), "\n"); !strings.Contains(hits, "GET /download.docker.com/linux/ubuntu/dists/bionic/InRelease") {
		t.Errorf("apt did not read Docker's repository from the mirror:\n%s", hits)
	}

	// Restore: the originals are back, paimirror's files gone; the node
	// of another release had nothing to restore. A second restore finds
	// nothing anywhere.
	rr, err := RestoreApt(context.Background(), nodes, testAuth(), keys, RestoreAptOptions{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	rgot := map[string]RestoreAptResult{}
	for _, r := range rr {
		rgot[r.Node] = r
	}
	if r := rgot["pai-master"]; r.NoBackup || !slices.Contains(r.Restored, "/etc/apt/sources.list") ||
		!slices.Contains(r.Restored, "/etc/apt/sources.list.d/graphics-drivers.list") || !slices.Contains(r.Removed, AptSourcesPath) ||
		!slices.Contains(r.Removed, AptConfPath) || len(r.Left) > 0 {
		t.Errorf("restore pai-master: %+v", r)
	}
	if r := rgot["pai-worker1"]; !r.NoBackup {
		t.Errorf("restore pai-worker1: %+v", r)
	}
	if r := rgot["pai-worker2"]; r.NoBackup || !slices.Contains(r.Removed, AptSourcesPath) {
		t.Errorf("restore pai-worker2 (its apt was changed, the update failed): %+v", r)
	}
	if s := master.run(t, keys, "cat /etc/apt/sources.list /etc/apt/sources.list.d/graphics-drivers.list"); s != origSources+origPPA {
		t.Errorf("restored sources: %q", s)
	}
	if s := master.run(t, keys, "ls -a /etc/apt/; ls /etc/apt/sources.list.d /etc/apt/apt.conf.d"); strings.Contains(s, "paimirror") {
		t.Errorf("paimirror's files are left:\n%s", s)
	}
	if s := master.run(t, keys, "cat /etc/apt/sources.list.d/download_docker_com_linux_ubuntu.list"); s != dockerList {
		t.Errorf("kubespray's list: %q", s)
	}
	rr, err = RestoreApt(context.Background(), nodes, testAuth(), keys, RestoreAptOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rr {
		if !r.NoBackup || len(r.Restored)+len(r.Removed) > 0 {
			t.Errorf("second restore, %s: %+v", r.Node, r)
		}
	}

	if hostAfter := tree(t, "/etc/apt"); !mapsEqual(hostAfter, hostBefore) {
		t.Error("the host's /etc/apt changed")
	}
	assertNoPassword(t, "the log", logs.String())
	assertNoPasswordInFiles(t, stateDir)
	for _, n := range []*testNode{master, focal, nokey, dev} {
		assertNoPasswordInFiles(t, n.dir)
	}
}

// TestPreflightApt: the apt check reports the packages installed, passes
// when the mirror's repositories answer, fails when they do not and
// packages are missing, and only warns when nothing is missing or the
// bundle has no repository for the machine's release.
func TestPreflightApt(t *testing.T) {
	good := newMirror(t)
	partial := newMirror(t) // Docker's repository is missing
	arch := hostArch(t)
	a := testApt(arch)
	key := testAptKey(t)
	for _, r := range a.Repositories {
		serveRepo(t, good, r, key)
	}
	serveRepo(t, partial, a.Repositories[0], key)
	some := newNode(t, nodeSpec{hostname: "pai-master", packages: []string{"nfs-common=1:1.3.4-2.1ubuntu5", "unzip"}})
	all := newNode(t, nodeSpec{hostname: "pai-worker1", packages: []string{"nfs-common", "unzip", "sshpass", "docker-ce=5:18.09.7~3-0~ubuntu-bionic"}})
	focal := newNode(t, nodeSpec{hostname: "pai-worker2", osRelease: ubuntu("20.04")})
	nodes := []Node{some.node(Master), all.node(Worker), focal.node(Worker)}
	keys, _ := openKeys(t)
	check := func(m *testMirror) *Table {
		t.Helper()
		tab, err := Preflight(context.Background(), nodes, testAuth(), keys, PreflightOptions{Mirror: Mirror{Addr: m.addr}, Apt: a})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("\n%s", tab)
		if !slices.ContainsFunc(tab.Checks, func(c Check) bool { return c.ID == CheckApt }) {
			t.Error("no apt column")
		}
		return tab
	}
	status := func(tab *Table, node string) Status {
		r, _ := tab.Result(node, CheckApt)
		return r.Status
	}

	tab := check(good)
	if status(tab, "pai-master") != Pass || status(tab, "pai-worker1") != Pass || status(tab, "pai-worker2") != Warn {
		t.Errorf("statuses %v %v %v", status(tab, "pai-master"), status(tab, "pai-worker1"), status(tab, "pai-worker2"))
	}
	assertDetail(t, tab, "pai-master", CheckApt, "ubuntu-18.04: 2 of 4 packages installed (missing sshpass, docker-ce)", "2 apt repositories", "3 suites")
	assertDetail(t, tab, "pai-worker1", CheckApt, "4 of 4 packages installed;")
	assertDetail(t, tab, "pai-worker2", CheckApt, "ubuntu-20.04: 0 of 1 packages installed (missing nfs-common)", "no apt repository for ubuntu-20.04")
	if hits := strings.Join(good.hitsFrom(some.ip), "\n"); !strings.Contains(hits, "GET /download.docker.com/linux/ubuntu/dists/bionic/InRelease") {
		t.Errorf("the node did not ask for Docker's InRelease:\n%s", hits)
	}

	tab = check(partial)
	if status(tab, "pai-master") != Fail || status(tab, "pai-worker1") != Warn {
		t.Errorf("without Docker's repository: %v %v", status(tab, "pai-master"), status(tab, "pai-worker1"))
	}
	assertDetail(t, tab, "pai-master", CheckApt, "1 of 3 suites", "docker-bionic bionic (http://"+partial.addr+"/download.docker.com/linux/ubuntu/dists/bionic/InRelease)", "404")
	assertDetail(t, tab, "pai-worker1", CheckApt, "every package is installed")
	var be *BlockingError
	if err := tab.Err(); !errors.As(err, &be) || len(be.Failures) != 1 || be.Failures[0].Check != CheckApt {
		t.Errorf("Err() = %v", err)
	}
}

func FuzzAptMessages(f *testing.F) {
	f.Add("Err:2 http://10.0.0.1:5000/a bionic InRelease\n  404  Not Found\nE: Failed to fetch http://10.0.0.1:5000/a/dists/x\nW: y\n")
	f.Add("Err:1\n")
	f.Add("E:\r\nW:")
	repos := []AptRepository{{Name: "a", Prefix: "/a"}, {Name: "b", Prefix: "/a/b"}}
	m := Mirror{Addr: "10.0.0.1:5000"}
	f.Fuzz(func(t *testing.T, out string) {
		lines := aptMessages(out)
		for _, l := range lines {
			if !strings.HasPrefix(l, "E:") && !strings.HasPrefix(l, "W:") && !strings.HasPrefix(l, "Err:") {
				t.Fatalf("kept %q", l)
			}
		}
		e := newAptUpdateError("n", repos, m, lines, errors.New("exit status 100"))
		if !strings.HasPrefix(e.Error(), "node n: ") {
			t.Fatalf("error %q", e.Error())
		}
		for _, kv := range scriptLines(out) {
			if strings.Contains(kv[0], "\n") {
				t.Fatalf("key %q", kv[0])
			}
		}
	})
}
