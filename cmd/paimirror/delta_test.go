package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/manifests"
)

// TestDeltaServe builds the default bundle, then a delta of the default
// manifest plus three new images over its lock (inspect --lock), from one
// upstream: the delta costs the new images' blobs plus the lock; serve
// BASE DELTA serves every image of the new lock by digest (crane) and
// every file (curl); verify checks both and, signed, the delta's
// signature; a delta alone or after the wrong base is refused with exit
// status 2, naming both.
func TestDeltaServe(t *testing.T) {
	crane := bundletest.Tool(t, "crane")
	curl := bundletest.Tool(t, "curl")
	def := manifests.Default()
	next := *def
	next.Images = append(slices.Clone(def.Images),
		manifests.Image{Ref: "docker.io/library/nginx:1.17"},
		manifests.Image{Ref: "quay.io/prometheus/node-exporter:v0.18.1"},
		manifests.Image{Ref: "docker.io/library/redis:5.0.7", Aliases: []string{"openpai/redis:5.0.7"}})
	u, err := bundletest.Start(&next, bundletest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(u.Close)
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run := func(args ...string) string {
		t.Helper()
		cmd := paimirror(t, args...)
		cmd.Dir = dir
		cmd.Env = append(cmd.Env, "COSIGN_PASSWORD=lab-secret")
		out, err := cmd.Output()
		if err != nil {
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				t.Fatalf("paimirror %s: %v\n%s%s", strings.Join(args, " "), err, out, ee.Stderr)
			}
			t.Fatal(err)
		}
		return string(out)
	}
	// refused runs a command that must fail with status code and returns
	// its stderr.
	refused := func(code int, args ...string) string {
		t.Helper()
		cmd := paimirror(t, args...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != code {
			t.Fatalf("paimirror %s: %v, want exit status %d\n%s", strings.Join(args, " "), err, code, out)
		}
		return string(out)
	}
	baseYAML := write("base.yaml", manifestYAML(t, u.Pin(def)))
	nextYAML := write("next.yaml", manifestYAML(t, u.Manifest))
	mirrors := mirrorArgs(u)

	run(append([]string{"build", "-q", "-f", baseYAML, "-o", "base.tar"}, mirrors...)...)
	// Only the base's lock is carried back out of the lab.
	write("base.lock.json", run("inspect", "--lock", "base.tar"))
	// Signed where it is built, as any bundle.
	run("keygen", "-o", "lab")
	out := run(append([]string{"build", "-q", "-f", nextYAML, "-o", "delta.tar", "--base", "base.lock.json", "--sign-key", "lab.key"}, mirrors...)...)
	if !strings.Contains(out, "it is a delta") || !strings.Contains(out, "signed its lock") {
		t.Errorf("build --base --sign-key does not say it wrote a signed delta:\n%s", out)
	}
	basePath, deltaPath := filepath.Join(dir, "base.tar"), filepath.Join(dir, "delta.tar")

	// Size: the new images' blobs that the base lacks, and the lock.
	base, err := bundle.Open(basePath)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()
	b, err := bundle.Open(basePath, deltaPath)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	have := map[digest.Digest]bool{}
	for _, d := range base.Digests() {
		have[d] = true
	}
	var newBytes int64
	newBlobs := 0
	var newRefs []string
	for _, img := range b.Lock.Images {
		if !slices.ContainsFunc(base.Lock.Images, func(i bundle.Image) bool { return i.Ref == img.Ref }) {
			newRefs = append(newRefs, img.Ref)
		}
		for _, bl := range append([]bundle.Blob{{Digest: img.Digest, Size: img.Size}, img.LayoutIndex}, img.Blobs()...) {
			if !have[bl.Digest] {
				have[bl.Digest] = true
				newBytes += bl.Size
				newBlobs++
			}
		}
	}
	if len(newRefs) != 3 {
		t.Fatalf("the new lock adds %v, want the three new images", newRefs)
	}
	st, err := os.Stat(deltaPath)
	if err != nil {
		t.Fatal(err)
	}
	// Each member: a header (with its PAX record, at most three blocks)
	// and its data padded to a block: the new blobs, the lock, and the
	// small metadata (index.json, oci-layout, two directories); then the
	// end marker.
	const member = 3*512 + 511
	lock := int64(len(b.LockBytes()))
	var rest int64
	for name, size := range tarMetadata(t, deltaPath) {
		if name != bundle.LockName {
			rest += size + member
		}
	}
	bound := newBytes + int64(newBlobs)*member + lock + member + rest + 1024
	if st.Size() > bound {
		t.Errorf("the delta is %d bytes, more than its %d new blobs (%d bytes), the lock (%d bytes) and the rest of its metadata (%d) with their tar headers: %d",
			st.Size(), newBlobs, newBytes, lock, rest, bound)
	}
	if rest > 64<<10 {
		t.Errorf("the delta's metadata besides the lock is %d bytes", rest)
	}
	t.Logf("base %d bytes; delta %d bytes: %d new blobs of %d bytes, lock %d bytes", base.Size, st.Size(), newBlobs, newBytes, lock)

	// inspect DELTA shows what is new; inspect BASE DELTA what was added.
	out = run("inspect", "delta.tar")
	for _, ref := range newRefs {
		if !strings.Contains(out, "new  ") || !strings.Contains(out, ref) {
			t.Errorf("inspect delta.tar does not show %s as new:\n%s", ref, out)
		}
	}
	if !strings.Contains(out, "delta over:") || !strings.Contains(out, b.Lock.Base.LockSHA256) {
		t.Errorf("inspect delta.tar does not name its base:\n%s", out)
	}
	if out := run("inspect", "base.tar", "delta.tar"); strings.Count(out, "\nadded  ") != 3 {
		t.Errorf("inspect base.tar delta.tar does not show three added images:\n%s", out)
	}

	// Signing again (sign verifies the delta's own blobs first); in the
	// lab, verify both with the public key.
	run("sign", "delta.tar", "--key", "lab.key")
	out = run("verify", "base.tar", "delta.tar", "--key", "lab.pub")
	if !strings.Contains(out, "delta.tar: the lock's signature verifies") || !strings.Contains(out, "base.tar + delta.tar is intact") {
		t.Errorf("verify base.tar delta.tar --key:\n%s", out)
	}

	// A wrong base, or none: refused with exit status 2, naming both.
	otherSHA := sha256hex(base.LockBytes())
	msg := refused(2, "serve", "delta.tar", "--addr", "127.0.0.1:0")
	if !strings.Contains(msg, "delta.tar is a delta bundle") || !strings.Contains(msg, otherSHA) {
		t.Errorf("serve delta.tar alone:\n%s", msg)
	}
	// The other bundle: the delta's own base state, whole (another lock).
	run(append([]string{"build", "-q", "-f", baseYAML, "-o", "other.tar", "--exclude", "storage"}, mirrors...)...)
	other, err := bundle.Open(filepath.Join(dir, "other.tar"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for _, verb := range []string{"serve", "verify"} {
		args := []string{verb, "other.tar", "delta.tar"}
		if verb == "serve" {
			args = append(args, "--addr", "127.0.0.1:0")
		}
		msg := refused(2, args...)
		for _, want := range []string{"other.tar", "delta.tar", otherSHA, sha256hex(other.LockBytes())} {
			if !strings.Contains(msg, want) {
				t.Errorf("%s other.tar delta.tar does not say %s:\n%s", verb, want, msg)
			}
		}
	}

	// Serve base and delta: every image of the new lock by digest, every
	// file at each of its paths.
	addr := freeAddr(t)
	_, served := startServe(t, basePath, deltaPath, "--addr", addr)
	if line, _, _ := strings.Cut(served.String(), "\n"); !strings.Contains(line, "base.tar + "+deltaPath) {
		t.Errorf("serve's first line does not name both files it serves: %q", line)
	}
	var refs []string
	for _, img := range b.Lock.Images {
		repo, _, _ := strings.Cut(img.Names[0], ":")
		refs = append(refs, addr+"/"+repo+"@"+string(img.Digest))
	}
	pull := exec.Command(crane, append(append([]string{"pull", "--insecure", "--format=oci"}, refs...), t.TempDir())...)
	if out, err := pull.CombinedOutput(); err != nil {
		t.Fatalf("crane pull of every image by digest: %v\n%s", err, out)
	}
	files := append(slices.Clone(b.Lock.Files), b.Lock.AptServed()...)
	for _, f := range files {
		for _, p := range f.Paths {
			fileURL := (&url.URL{Scheme: "http", Host: addr, Path: p}).String() // a .deb's name holds a literal '%'
			got, err := exec.Command(curl, "-fsS", "--globoff", fileURL).Output()
			if err != nil {
				t.Errorf("curl %s: %v", p, err)
				continue
			}
			if sum := sha256.Sum256(got); hex.EncodeToString(sum[:]) != f.SHA256 {
				t.Errorf("curl %s: content hashes to %x, want %s", p, sum, f.SHA256)
			}
		}
	}
}

// tarMetadata returns the size of each member of a bundle's tar that is
// not a blob.
func tarMetadata(t *testing.T, path string) map[string]int64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]int64{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(h.Name, "blobs/") {
			out[h.Name] = h.Size
		}
	}
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}
