package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
)

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		err  string
	}{
		{in: "4000000000", want: 4000000000},
		{in: "4G", want: 4 << 30},
		{in: "4g", want: 4 << 30},
		{in: "4GiB", want: 4 << 30},
		{in: "4Gi", want: 4 << 30},
		{in: "700M", want: 700 << 20},
		{in: "700MiB", want: 700 << 20},
		{in: "1T", want: 1 << 40},
		{in: "512K", want: 512 << 10},
		{in: "4GB", want: 4000000000},
		{in: "4.7GB", want: 4700000000},
		{in: "4.5G", want: 9 << 29},
		{in: "4095M", want: 4095 << 20},
		{in: " 2 G ", want: 2 << 30},
		{in: "1024B", want: 1024},
		{in: "", err: "empty"},
		{in: "4X", err: `unknown unit "X"`},
		{in: "G", err: "no number"},
		{in: "-1G", err: "no number"},
		{in: "1.5", err: "a number of bytes must be whole"},
		{in: "1e9", err: `unknown unit "e9"`},
		{in: "9999999T", err: "too large"},
		{in: "4..7G", err: "not a number"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, err := parseSize(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("parseSize(%q) = %d, %v; want an error with %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("parseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
			}
		})
	}
}

// TestSplitUsage checks split's and build's --part-size mistakes: usage
// errors, before anything is read or fetched.
func TestSplitUsage(t *testing.T) {
	dir := t.TempDir()
	small := filepath.Join(dir, "small.yaml")
	os.WriteFile(small, []byte(smallManifest), 0o644)
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no part size", []string{"split", "b.tar"}, exitUsage, `required flag(s) "part-size" not set`},
		{"too small", []string{"split", "b.tar", "--part-size", "100K"}, exitUsage, `invalid argument "100K" for "--part-size" flag: 100.0 KiB is less than the 1 MiB a part must hold at least`},
		{"a typo", []string{"split", "b.tar", "--part-size", "4Q"}, exitUsage, `unknown unit "Q"`},
		{"no bundle", []string{"split", "--part-size", "4G"}, exitUsage, "accepts 1 arg(s), received 0"},
		{"a missing bundle", []string{"split", filepath.Join(dir, "none.tar"), "--part-size", "4G"}, exitError, "none.tar does not exist"},
		{"build, too small", []string{"build", "-f", small, "-o", filepath.Join(dir, "x.tar"), "--part-size", "1000"}, exitUsage, "1000 B is less than the 1 MiB"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tc.args, &stdout, &stderr); code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr.String())
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "x.tar.partial")); err == nil {
		t.Error("build started before refusing --part-size")
	}
}

// TestSplitParts runs the real binary: a bundle built whole and split, and
// one built with --part-size, give the same parts and index byte for byte
// (the parts of the second, concatenated, are the bundle it built); verify
// names a missing, unnamed or damaged part before anything else, and
// serve serves the parts.
func TestSplitParts(t *testing.T) {
	u, err := bundletest.Start(smallFor(t), bundletest.Options{LayerSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	mf := filepath.Join(t.TempDir(), "m.yaml")
	os.WriteFile(mf, []byte(manifestYAML(t, u.Manifest)), 0o644)
	pm := func(args ...string) (string, string, int) {
		t.Helper()
		return runCLI(t, args...)
	}
	must := func(args ...string) string {
		t.Helper()
		stdout, stderr, code := pm(args...)
		if code != 0 {
			t.Fatalf("paimirror %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
		}
		return stdout
	}
	build := func(out string, more ...string) string {
		t.Helper()
		return must(append(append([]string{"build", "-q", "-f", mf, "-o", out}, mirrorArgs(u)...), more...)...)
	}

	// Built with --part-size: only parts and the index are left.
	partsDir := t.TempDir()
	built := filepath.Join(partsDir, "b.tar")
	stdout := build(built, "--part-size", "1M")
	if _, err := os.Stat(built); !os.IsNotExist(err) {
		t.Fatalf("build --part-size kept the single file: %v", err)
	}
	files, err := bundle.SplitFiles(built)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("build --part-size wrote %v", files)
	}
	parts, index := files[:len(files)-1], files[len(files)-1]
	for _, p := range files {
		if !strings.Contains(stdout, p) {
			t.Errorf("build's output does not name %s:\n%s", p, stdout)
		}
	}
	if !strings.Contains(stdout, fmt.Sprintf("wrote %d parts of 1.0 MiB", len(parts))) || !strings.Contains(stdout, "removed "+built) {
		t.Errorf("build's output:\n%s", stdout)
	}
	whole := concatFiles(t, parts)

	// The same bundle, split by split, gives the same parts and index.
	again := filepath.Join(t.TempDir(), "b.tar")
	os.WriteFile(again, whole, 0o644)
	stdout = must("split", again, "--part-size", "1M")
	if !strings.Contains(stdout, again+" is kept") {
		t.Errorf("split's output:\n%s", stdout)
	}
	for _, p := range files {
		q := filepath.Join(filepath.Dir(again), filepath.Base(p))
		if !bytes.Equal(readFile(t, p), readFile(t, q)) {
			t.Errorf("%s from split differs from %s from build --part-size", q, p)
		}
	}
	// ... and its parts concatenated are the single file byte for byte.
	if !bytes.Equal(concatFiles(t, parts), readFile(t, again)) {
		t.Error("the parts do not concatenate to the bundle")
	}

	// A bundle built whole and split elsewhere (-o): the parts are its bytes.
	single := filepath.Join(t.TempDir(), "s.tar")
	build(single)
	media := filepath.Join(t.TempDir(), "media")
	must("split", single, "--part-size", "1100K", "-o", media)
	mediaFiles, err := bundle.SplitFiles(media)
	if err != nil || len(mediaFiles) < 3 || mediaFiles[0] != media+".part001" || mediaFiles[len(mediaFiles)-1] != media+".split.json" {
		t.Fatalf("split -o %s wrote %v (%v)", media, mediaFiles, err)
	}
	if !bytes.Equal(concatFiles(t, mediaFiles[:len(mediaFiles)-1]), readFile(t, single)) {
		t.Error("the parts split -o wrote do not concatenate to the bundle")
	}

	// verify reads the parts, by the index or named, and checks them first.
	for _, args := range [][]string{{index}, parts, append([]string{index}, parts...)} {
		stdout := must(append([]string{"verify"}, args...)...)
		want := fmt.Sprintf("%s: all %d parts match their sha256", index, len(parts))
		if !strings.Contains(stdout, want) || !strings.Contains(stdout, fmt.Sprintf("b.tar (%d parts) is intact", len(parts))) {
			t.Errorf("verify %v:\n%s\nwant %q", args, stdout, want)
		}
	}
	// A part not named is a usage error naming it; the others are fine.
	left := append(append([]string{}, parts[:1]...), parts[2:]...)
	_, stderr, code := pm(append([]string{"verify"}, left...)...)
	if code != exitUsage || !strings.Contains(stderr, "not named: part 2 of") || !strings.Contains(stderr, "b.tar.part002") {
		t.Errorf("verify without part 2: exit %d\n%s", code, stderr)
	}

	// serve reads the parts as one bundle, named one by one or by their
	// index.
	repo, layer := firstImageLayerOf(t, parts)
	for _, args := range [][]string{parts, {index}} {
		addr := freeAddr(t)
		startServe(t, append(append([]string{}, args...), "--addr", addr)...)
		resp, err := http.Get(fmt.Sprintf("http://%s/v2/%s/blobs/%s", addr, repo, layer.Digest))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if sum := sha256.Sum256(body); resp.StatusCode != 200 || "sha256:"+hex.EncodeToString(sum[:]) != string(layer.Digest) || int64(len(body)) != layer.Size {
			t.Errorf("serve %v: a layer: %s, %d bytes", args, resp.Status, len(body))
		}
	}

	// A damaged part is named, and nothing else is read; so is a missing one.
	p3 := readFile(t, parts[2])
	p3[len(p3)/3] ^= 0x20
	os.WriteFile(parts[2], p3, 0o644)
	stdout, stderr, code = pm("verify", index)
	if code != exitDamaged || !strings.Contains(stdout, fmt.Sprintf("DAMAGED: part 3 of %d, b.tar.part003: sha256 mismatch", len(parts))) ||
		!strings.Contains(stdout, "copy it again from the source medium") || strings.Contains(stdout, "blob") {
		t.Errorf("verify with part 3 damaged: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, fmt.Sprintf("1 of %d parts damaged or missing (b.tar.part003)", len(parts))) {
		t.Errorf("verify's error:\n%s", stderr)
	}
	os.Remove(parts[1])
	stdout, _, code = pm(append([]string{"verify"}, parts...)...) // as a glob gave them before part 2 went
	if code != exitDamaged || !strings.Contains(stdout, "DAMAGED: part 2 of") || !strings.Contains(stdout, "b.tar.part002: missing (no file") ||
		!strings.Contains(stdout, "DAMAGED: part 3 of") {
		t.Errorf("verify with part 2 gone and part 3 damaged: exit %d\n%s", code, stdout)
	}
	_, stderr, code = pm(append([]string{"verify"}, left...)...)
	if code != exitDamaged || !strings.Contains(stderr, "missing: part 2 of") || !strings.Contains(stderr, "copy it from the source medium") {
		t.Errorf("verify with part 2 gone: exit %d\n%s", code, stderr)
	}

	// build --part-size does not overwrite parts.
	_, stderr, code = pm(append(append([]string{"build", "-q", "-f", mf, "-o", built}, mirrorArgs(u)...), "--part-size", "1M")...)
	if code != exitError || !strings.Contains(stderr, "b.tar.part001 already exists") {
		t.Errorf("a second build --part-size: exit %d\n%s", code, stderr)
	}
	if _, err := os.Stat(built + ".partial"); err == nil {
		t.Error("the second build started")
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func concatFiles(t *testing.T, paths []string) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, p := range paths {
		buf.Write(readFile(t, p))
	}
	return buf.Bytes()
}

// firstImageLayerOf is firstImageLayer for a bundle in parts.
func firstImageLayerOf(t *testing.T, parts []string) (string, bundle.Blob) {
	t.Helper()
	b, err := bundle.Open(parts...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	img := b.Lock.Images[0]
	repo, _, _ := strings.Cut(img.Names[0], ":")
	return repo, img.Layers[len(img.Layers)-1]
}

// TestSplitBaseAndDelta: a split base bundle and a delta over it, split
// or not, verify as one, each one's parts checked against its index first.
func TestSplitBaseAndDelta(t *testing.T) {
	u, err := bundletest.Start(smallFor(t), bundletest.Options{LayerSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	dir := t.TempDir()
	mf := filepath.Join(dir, "m.yaml")
	os.WriteFile(mf, []byte(manifestYAML(t, u.Manifest)), 0o644)
	run := func(args ...string) (string, string, int) {
		t.Helper()
		return runCLI(t, args...)
	}
	must := func(args ...string) string {
		t.Helper()
		stdout, stderr, code := run(args...)
		if code != 0 {
			t.Fatalf("paimirror %s: exit %d\n%s%s", strings.Join(args, " "), code, stdout, stderr)
		}
		return stdout
	}
	base, delta := filepath.Join(dir, "base.tar"), filepath.Join(dir, "delta.tar")
	must(append([]string{"build", "-q", "-f", mf, "-o", base}, mirrorArgs(u)...)...)
	must(append([]string{"build", "-q", "-f", mf, "-o", delta, "--include", "extra", "--base", base}, mirrorArgs(u)...)...)
	must("split", base, "--part-size", "1M", "--remove")
	index := base + bundle.SplitIndexSuffix
	stdout := must("verify", index, delta)
	if !strings.Contains(stdout, index+": all ") || !strings.Contains(stdout, "is intact") {
		t.Errorf("verify of a split base and its delta:\n%s", stdout)
	}
	// The delta splits too (it does not open alone).
	must("split", delta, "--part-size", "1M")
	stdout = must("verify", index, delta+bundle.SplitIndexSuffix)
	if strings.Count(stdout, ": all ") != 2 || !strings.Contains(stdout, "is intact") {
		t.Errorf("verify of a split base and a split delta:\n%s", stdout)
	}
	p1 := readFile(t, base+".part001")
	p1[len(p1)-1] ^= 1
	os.WriteFile(base+".part001", p1, 0o644)
	stdout, stderr, code := run("verify", index, delta)
	if code != exitDamaged || !strings.Contains(stdout, "DAMAGED: part 1 of ") || !strings.Contains(stdout, "base.tar.part001: sha256 mismatch") {
		t.Errorf("verify with the base's part 1 damaged: exit %d\n%s%s", code, stdout, stderr)
	}
}

// FuzzParseSize: any input is refused or read as a size that prints back
// to itself in bytes.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"4G", "4.7GB", "700MiB", "4000000000", "1.5", "9999999T", "", "4..7G", "1e9"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("parseSize(%q) = %d", s, n)
		}
		if m, err := parseSize(fmt.Sprint(n)); err != nil || m != n {
			t.Fatalf("parseSize(%q) = %d, which reads back as %d, %v", s, n, m, err)
		}
	})
}
