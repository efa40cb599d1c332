package bundle_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/manifests"
)

// smallBundle returns the bytes of bundletest's small fixture, a copy of
// its own for each call.
func smallBundle(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile(bundletest.SmallBundle(t).Path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func writeTemp(t testing.TB, data []byte) string {
	p := filepath.Join(t.TempDir(), "b.tar")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// tarOf makes a tar from (name, type, body) triples.
func tarOf(t testing.TB, entries ...[3]string) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e[0], Typeflag: e[1][0], Mode: 0o644, Size: int64(len(e[2]))}
		if h.Typeflag == tar.TypeSymlink {
			h.Linkname, h.Size = e[2], 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if h.Size > 0 {
			tw.Write([]byte(e[2]))
		}
	}
	tw.Close()
	return buf.Bytes()
}

func TestOpenRejectsDamage(t *testing.T) {
	good := smallBundle(t)
	lock := `{"formatVersion":1}`
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty file", nil, "not a complete tar"},
		{"truncated", good[:len(good)/2], "cut short"},
		{"no end marker", good[:len(good)-1024], "no end marker"},
		{"not a tar", []byte(strings.Repeat("x", 2048)), "damaged"},
		{"symlink", tarOf(t, [3]string{"blobs/sha256/" + strings.Repeat("a", 64), string(tar.TypeSymlink), "/etc/passwd"}), "link or special file"},
		{"escaping name", tarOf(t, [3]string{"../etc/passwd", string(tar.TypeReg), "x"}), "outside the bundle layout"},
		{"stray file", tarOf(t, [3]string{"blobs/sha256/notahash", string(tar.TypeReg), "x"}), "outside the bundle layout"},
		{"no lock", tarOf(t, [3]string{"oci-layout", string(tar.TypeReg), "{}"}, [3]string{"index.json", string(tar.TypeReg), "{}"}), "paimirror.json is missing"},
		{"newer format", tarOf(t, [3]string{"oci-layout", "0", "{}"}, [3]string{"index.json", "0", "{}"}, [3]string{"paimirror.json", "0", `{"formatVersion":99}`}), "use a newer paimirror"},
		{"lock names a missing blob", tarOf(t, [3]string{"oci-layout", "0", "{}"}, [3]string{"index.json", "0", "{}"},
			[3]string{"paimirror.json", "0", `{"formatVersion":1,"files":[{"url":"http://x/y","sha256":"` + strings.Repeat("b", 64) + `","size":3}]}`}), "lock disagrees with the tar"},
		{"lock names a missing python file", tarOf(t, [3]string{"oci-layout", "0", "{}"}, [3]string{"index.json", "0", "{}"},
			[3]string{"paimirror.json", "0", `{"formatVersion":1,"python":{"files":[{"filename":"a-1.0-py3-none-any.whl","sha256":"` + strings.Repeat("c", 64) + `","size":3}]}}`}), "python file a-1.0-py3-none-any.whl: blob sha256:ccc"},
		{"duplicate lock", tarOf(t, [3]string{"paimirror.json", "0", lock}, [3]string{"paimirror.json", "0", lock}), "appears twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := bundle.Open(writeTemp(t, tc.data))
			if err == nil {
				t.Fatal("opened a damaged bundle")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if tc.name != "newer format" && !errors.Is(err, bundle.ErrCorrupt) {
				t.Errorf("error is not ErrCorrupt: %v", err)
			}
		})
	}
}

// TestOpenTruncatedAnywhere cuts a bundle at many offsets: every cut is
// refused as cut short, never opened, never a crash.
func TestOpenTruncatedAnywhere(t *testing.T) {
	good := smallBundle(t)
	for off := 0; off < len(good); off += 509 {
		_, err := bundle.Open(writeTemp(t, good[:off]))
		if err == nil || !strings.Contains(err.Error(), "cut short") && !strings.Contains(err.Error(), "not a complete tar") {
			t.Fatalf("cut at %d of %d: %v", off, len(good), err)
		}
	}
}

// TestOpenParts reads a bundle split at awkward offsets as one.
func TestOpenParts(t *testing.T) {
	good := smallBundle(t)
	dir := t.TempDir()
	cuts := []int{0, 700, 1537, len(good) / 2, len(good)}
	var parts []string
	for i := 0; i+1 < len(cuts); i++ {
		p := filepath.Join(dir, "part"+string(rune('a'+i)))
		os.WriteFile(p, good[cuts[i]:cuts[i+1]], 0o644)
		parts = append(parts, p)
	}
	b, err := bundle.Open(parts...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rep, err := b.Verify(context.Background(), bundle.VerifyOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("verify of parts: %v %v", err, rep)
	}
	// A part left out is named as a likely cause.
	if _, err := bundle.Open(parts[0]); err == nil || !strings.Contains(err.Error(), "name every part") {
		t.Errorf("first part alone: %v", err)
	}
}

// fuzzSeedBundle is the smallest bundle that opens and verifies: the
// layout files and a lock holding one file, with its blob. It is a seed of
// FuzzOpen, a few KiB, so that the fuzzer starts past Open's checks and
// minimising an input it finds stays cheap.
func fuzzSeedBundle(t testing.TB) []byte {
	const body = "paimirror\n"
	sum := sha256.Sum256([]byte(body))
	hexSum := hex.EncodeToString(sum[:])
	lock := fmt.Sprintf(`{"formatVersion":%d,"manifest":{"name":"seed"},"images":[],"files":[{"name":"f","url":"https://example.org/f","sha256":%q,"size":%d,"paths":["/example.org/f"]}]}`,
		bundle.FormatVersion, hexSum, len(body))
	return tarOf(t,
		[3]string{"oci-layout", "0", `{"imageLayoutVersion":"1.0.0"}`},
		[3]string{"index.json", "0", `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`},
		[3]string{"paimirror.json", "0", lock},
		[3]string{"blobs/sha256/" + hexSum, "0", body})
}

// TestFuzzSeedBundle checks that FuzzOpen's seed bundle opens and verifies,
// so the fuzzer starts from a bundle Open accepts.
func TestFuzzSeedBundle(t *testing.T) {
	b, err := bundle.Open(writeTemp(t, fuzzSeedBundle(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rep, err := b.Verify(context.Background(), bundle.VerifyOptions{Jobs: 1})
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep.Problems)
	}
	if len(b.Lock.Files) != 1 {
		t.Fatalf("the seed's lock has %d files, want 1", len(b.Lock.Files))
	}
}

// FuzzOpen opens and verifies arbitrary bytes as a bundle. Each execution
// rewrites one file in a directory made once per process, so an execution
// costs a write and Open (no directory made and removed each time); the
// seeds are small (make fuzz bounds the minimisation of what it finds with
// -fuzzminimizetime).
func FuzzOpen(f *testing.F) {
	f.Add([]byte{})
	f.Add(tarOf(f, [3]string{"paimirror.json", "0", `{"formatVersion":1}`}))
	f.Add(fuzzSeedBundle(f))
	f.Add(signedFuzzSeed(f))
	path := filepath.Join(f.TempDir(), "b.tar")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := bundle.Open(path)
		if err != nil {
			return
		}
		defer b.Close()
		if b.Lock == nil {
			t.Fatal("opened without a lock")
		}
		if _, err := b.Verify(context.Background(), bundle.VerifyOptions{Jobs: 1}); err != nil {
			t.Fatal(err)
		}
	})
}

func parseB(text string) (*manifests.Manifest, error) {
	return manifests.Parse("test.yaml", []byte(text))
}

func TestHumanSize(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {5 << 30, "5.0 GiB"}} {
		if got := bundle.HumanSize(tc.n); got != tc.want {
			t.Errorf("HumanSize(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
