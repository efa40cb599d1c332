package bundle_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
)

// The bundle package stores a signature and names its signer; it never
// checks one (bundle/sign does, with real keys). These stand for any
// base64 signature and fingerprint.
const (
	sigA    = "MEUCIQDm6nBbBmtMHHuN1VGb+Z4J3x5sUxwrcIAxlsbI7ky3nQIgTNl1r4qUaKV2gvRGUH3KXqg5CPPyWbcoS3rdt0HnqTE="
	sigB    = "MEQCIBPv8l2a0wSC3hR39YfYx0bmKdfyvFMfqiI34RA5YcjcAiBUIq+dEx9x8cNCc36ObIvQzSWXzqsXbjg73lLvhGQ+3A=="
	signerA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	signerB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// signatureOf opens the bundle at path and returns its signature.
func signatureOf(t *testing.T, path string) (bundle.Signature, bool) {
	t.Helper()
	b, err := bundle.Open(path)
	if err != nil {
		t.Fatalf("the bundle does not open: %v", err)
	}
	defer b.Close()
	rep, err := b.Verify(context.Background(), bundle.VerifyOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", err, rep.Problems)
	}
	return b.Signature()
}

func TestAttachSignature(t *testing.T) {
	path := writeTemp(t, smallBundle(t))
	if _, ok := signatureOf(t, path); ok {
		t.Fatal("a fresh bundle has a signature")
	}
	size := func() int64 {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	before := size()
	if err := bundle.AttachSignature(path, sigA, signerA); err != nil {
		t.Fatal(err)
	}
	if got, ok := signatureOf(t, path); !ok || got != (bundle.Signature{Base64: sigA, Signer: signerA}) {
		t.Fatalf("signature = %+v, %v; want A", got, ok)
	}
	// Two members of one data block each: 4 blocks more.
	if grew := size() - before; grew != 4*512 {
		t.Errorf("signing grew the bundle by %d bytes, want %d", grew, 4*512)
	}
	signed := size()

	// tar -x of a signed bundle is still the OCI layout, with the
	// signature beside the lock as cosign verify-blob reads it; GNU tar
	// warns of nothing.
	tarBin := bundletest.Tool(t, "tar")
	dir := t.TempDir()
	out, err := exec.Command(tarBin, "-xf", path, "-C", dir).CombinedOutput()
	if err != nil || len(out) > 0 {
		t.Fatalf("tar -x: %v\n%s", err, out)
	}
	for _, name := range []string{bundle.OCILayoutName, bundle.IndexName, bundle.LockName} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("tar -x: %v", err)
		}
	}
	data, err := os.ReadFile(filepath.Join(dir, bundle.SignatureName))
	if err != nil || strings.TrimRight(string(data), "\n") != sigA {
		t.Errorf("tar -x gives %s = %q, %v; want %q and newlines", bundle.SignatureName, data, err, sigA)
	}
	data, err = os.ReadFile(filepath.Join(dir, bundle.SignerName))
	if err != nil || string(data) != signerA+"\n" {
		t.Errorf("tar -x gives %s = %q, %v", bundle.SignerName, data, err)
	}

	// Signing again replaces the signature in place.
	if err := bundle.AttachSignature(path, sigB, signerB); err != nil {
		t.Fatal(err)
	}
	if got, ok := signatureOf(t, path); !ok || got != (bundle.Signature{Base64: sigB, Signer: signerB}) {
		t.Fatalf("signature = %+v, %v; want B", got, ok)
	}
	if size() != signed {
		t.Errorf("signing again changed the size from %d to %d", signed, size())
	}
}

// TestAttachSignatureInterrupted stops AttachSignature after each step it
// syncs, as a kill or a power cut would: the bundle opens and verifies
// every time, unsigned, with the old signature or with the new one (its
// signer maybe unknown), and signing again completes it.
func TestAttachSignatureInterrupted(t *testing.T) {
	unsigned := smallBundle(t)
	signedA := func() []byte {
		p := writeTemp(t, unsigned)
		if err := bundle.AttachSignature(p, sigA, signerA); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}()
	none := bundle.Signature{}
	stopped := errors.New("killed")
	for _, tc := range []struct {
		name   string
		from   []byte
		stopAt string
		want   bundle.Signature // none: unsigned
	}{
		{"first signature, after the tail", unsigned, "tail", none},
		{"first signature, after the signer's header", unsigned, "signer header", bundle.Signature{Base64: sigB}},
		{"first signature, after the signer", unsigned, "signer", bundle.Signature{Base64: sigB, Signer: signerB}},
		{"new signature, after clearing the signer", signedA, "signer cleared", bundle.Signature{Base64: sigA}},
		{"new signature, after the signature", signedA, "signature", bundle.Signature{Base64: sigB}},
		{"new signature, after the signer", signedA, "signer", bundle.Signature{Base64: sigB, Signer: signerB}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, tc.from)
			var steps []string
			restore := bundle.SetAttachHook(func(step string) error {
				steps = append(steps, step)
				if step == tc.stopAt {
					return stopped
				}
				return nil
			})
			err := bundle.AttachSignature(path, sigB, signerB)
			restore()
			if steps[len(steps)-1] != tc.stopAt {
				t.Fatalf("steps %v never reached %q", steps, tc.stopAt)
			}
			if tc.stopAt != "signer" && !errors.Is(err, stopped) {
				t.Fatalf("AttachSignature = %v, want it stopped", err)
			}
			got, ok := signatureOf(t, path)
			if ok != (tc.want != none) || got != tc.want {
				t.Fatalf("after %q: signature %+v (signed %v), want %+v", tc.stopAt, got, ok, tc.want)
			}
			if err := bundle.AttachSignature(path, sigB, signerB); err != nil {
				t.Fatalf("signing again: %v", err)
			}
			if got, _ := signatureOf(t, path); got != (bundle.Signature{Base64: sigB, Signer: signerB}) {
				t.Fatalf("signing again gives %+v", got)
			}
			// Whatever the earlier run left, the finished bundle is
			// the same bytes.
			want := writeTemp(t, unsigned)
			if err := bundle.AttachSignature(want, sigB, signerB); err != nil {
				t.Fatal(err)
			}
			a, _ := os.ReadFile(path)
			b, _ := os.ReadFile(want)
			if string(a) != string(b) {
				t.Fatalf("the bundle signed after an interruption (%d bytes) differs from one signed at once (%d bytes)", len(a), len(b))
			}
		})
	}
}

func TestAttachSignatureRefuses(t *testing.T) {
	good := smallBundle(t)
	for _, tc := range []struct {
		name, sig, signer, want string
	}{
		{"empty signature", "", signerA, "a signature of 0 bytes"},
		{"signature too long", strings.Repeat("A", 200), signerA, "at most 96 bytes"},
		{"signature with a newline", "MEU\nCIQ", signerA, "want the base64"},
		{"signer not a fingerprint", sigA, "cosign.pub", "not a key fingerprint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := writeTemp(t, good)
			err := bundle.AttachSignature(path, tc.sig, tc.signer)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("AttachSignature = %v, want %q", err, tc.want)
			}
			if _, ok := signatureOf(t, path); ok {
				t.Fatal("signed anyway")
			}
		})
	}
	t.Run("a bundle cut short", func(t *testing.T) {
		path := writeTemp(t, good[:len(good)-700])
		err := bundle.AttachSignature(path, sigA, signerA)
		if !errors.Is(err, bundle.ErrCorrupt) {
			t.Fatalf("AttachSignature = %v, want ErrCorrupt", err)
		}
	})
}

// TestOpenSignatureMembers: a signature member that is not base64 is
// damage.
func TestOpenSignatureMembers(t *testing.T) {
	good := smallBundle(t)
	path := writeTemp(t, good)
	if err := bundle.AttachSignature(path, sigA, signerA); err != nil {
		t.Fatal(err)
	}
	signed, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(signed), sigA)
	if i < 0 {
		t.Fatal("signature not in the file")
	}
	bad := append([]byte{}, signed...)
	copy(bad[i:], "not base64!")
	if _, err := bundle.Open(writeTemp(t, bad)); !errors.Is(err, bundle.ErrCorrupt) || !strings.Contains(err.Error(), "not a base64 signature") {
		t.Errorf("Open with a garbled signature = %v", err)
	}
}

// signedFuzzSeed is FuzzOpen's seed bundle, signed (by AttachSignature).
func signedFuzzSeed(t testing.TB) []byte {
	path := writeTemp(t, fuzzSeedBundle(t))
	if err := bundle.AttachSignature(path, sigA, signerA); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
