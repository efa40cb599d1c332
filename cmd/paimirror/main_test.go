package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	"github.com/rogpeppe/go-internal/testscript"
	"go.yaml.in/yaml/v3"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/manifests"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"paimirror": main,
	})
}

// TestScripts runs the CLI golden scripts in testdata/script. Each script
// gets a local upstream holding the default manifest's images (random
// content under the real names), generated files, and a package index with
// a tiny wheel for each requirement of its python section (see
// bundletest), and:
//
//	$WORK/openpai.yaml          the default manifest with the generated files' sha256 and the upstream's apt keys
//	$WORK/small.yaml            a four-image, two-file manifest
//	$WORK/mirrors.txt           --mirrors-file lines sending every source upstream
//	$WORK/mirrors-nopypi.txt    the same but for pypi.org and files.pythonhosted.org
//
// HTTP(S)_PROXY point at a closed loopback port, so anything not mirrored
// fails at once instead of reaching out.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup:               setupScript,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"corrupt":  cmdCorrupt,
			"truncate": cmdTruncate,
			"fliplock": cmdFlipLock,
		},
	})
}

const smallManifest = bundletest.SmallManifest

func setupScript(env *testscript.Env) error {
	small, err := manifests.Parse("small.yaml", []byte(smallManifest))
	if err != nil {
		return err
	}
	def := manifests.Default()
	// One upstream holds both manifests' content.
	both := *def
	both.Images = append(append([]manifests.Image{}, def.Images...), small.Images[3])
	both.Files = append(append([]manifests.File{}, def.Files...), small.Files...)
	both.Groups = nil
	for i := range both.Images {
		both.Images[i].Groups = nil
	}
	for i := range both.Files {
		both.Files[i].Groups = nil
	}
	both.Apt = append([]manifests.Apt{}, def.Apt...)
	for i := range both.Apt {
		both.Apt[i].Groups = nil
	}
	u, err := bundletest.Start(&both, bundletest.Options{})
	if err != nil {
		return err
	}
	env.Defer(u.Close)
	// Rewrite each manifest's files with the sha256 of what upstream
	// serves, and its apt keys' fingerprints with the upstream's keys.
	write := func(name string, m *manifests.Manifest) error {
		data, err := yaml.Marshal(u.Pin(m))
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(env.WorkDir, name), data, 0o644)
	}
	if err := write("openpai.yaml", def); err != nil {
		return err
	}
	if err := write("small.yaml", small); err != nil {
		return err
	}
	var lines, noPyPI bytes.Buffer
	for _, m := range u.MirrorFlags() {
		fmt.Fprintln(&lines, m)
		if !strings.HasPrefix(m, manifests.DefaultPythonIndex+"=") && !strings.HasPrefix(m, bundletest.PythonFileHost+"=") {
			fmt.Fprintln(&noPyPI, m)
		}
	}
	if err := os.WriteFile(filepath.Join(env.WorkDir, "mirrors.txt"), lines.Bytes(), 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(env.WorkDir, "mirrors-nopypi.txt"), noPyPI.Bytes(), 0o644); err != nil {
		return err
	}
	closed, err := bundletest.ClosedAddr()
	if err != nil {
		return err
	}
	env.Setenv("HTTP_PROXY", "http://"+closed)
	env.Setenv("HTTPS_PROXY", "http://"+closed)
	env.Setenv("NO_PROXY", "")
	env.Setenv("HOME", env.WorkDir)
	env.Setenv("DOCKER_CONFIG", filepath.Join(env.WorkDir, ".docker"))
	return nil
}

// cmdCorrupt flips one byte in the middle of the largest blob of a bundle:
// fliplock BUNDLE MARKER changes one letter of the first string after
// MARKER (e.g. `"names": [`) in the bundle's paimirror.json, in place.
func cmdFlipLock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: fliplock BUNDLE MARKER")
	}
	path := ts.MkAbs(args[0])
	data, err := os.ReadFile(path)
	ts.Check(err)
	r := bytes.NewReader(data)
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		ts.Check(err)
		if h.Name != bundle.LockName {
			continue
		}
		start := len(data) - r.Len()
		lock := data[start : start+int(h.Size)]
		i := bytes.Index(lock, []byte(args[1]))
		if i < 0 {
			ts.Fatalf("%q not in the lock", args[1])
		}
		j := i + len(args[1]) + bytes.IndexByte(lock[i+len(args[1]):], '"') + 1
		for ; lock[j] < 'a' || lock[j] > 'y'; j++ {
		}
		lock[j]++
		ts.Check(os.WriteFile(path, data, 0o644))
		return
	}
}

// corrupt BUNDLE
func cmdCorrupt(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: corrupt BUNDLE")
	}
	path := ts.MkAbs(args[0])
	b, err := bundle.Open(path)
	ts.Check(err)
	var largest digest.Digest
	var size int64
	for _, d := range b.Digests() {
		if n, _ := b.BlobSize(d); n > size {
			largest, size = d, n
		}
	}
	b.Close()
	ts.Check(bundletest.FlipByte(path, largest))
}

// cmdTruncate cuts a file to N bytes less: truncate FILE N
func cmdTruncate(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: truncate FILE BYTES")
	}
	path := ts.MkAbs(args[0])
	n, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	st, err := os.Stat(path)
	ts.Check(err)
	ts.Check(os.Truncate(path, st.Size()-n))
}

func manifestYAML(t *testing.T, m *manifests.Manifest) string {
	t.Helper()
	data, err := yaml.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func smallFor(t *testing.T) *manifests.Manifest {
	t.Helper()
	m, err := manifests.Parse("small.yaml", []byte(smallManifest))
	if err != nil {
		t.Fatal(err)
	}
	return m
}
