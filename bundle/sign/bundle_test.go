package sign_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/sign"
)

// smallBundle returns a function that makes a fresh copy of bundletest's
// small fixture (tiny layers and files) for each call and returns its path.
func smallBundle(t *testing.T) func() string {
	t.Helper()
	f := bundletest.SmallBundle(t)
	return func() string { return f.Copy(t) }
}

func open(t *testing.T, path string) *bundle.Bundle {
	t.Helper()
	b, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func verifyOK(t *testing.T, b *bundle.Bundle) bool {
	t.Helper()
	rep, err := b.Verify(context.Background(), bundle.VerifyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return rep.OK()
}

func TestSignAndCheck(t *testing.T) {
	fresh := smallBundle(t)
	key, _ := sign.GenerateKey()
	other, _ := sign.GenerateKey()

	path := fresh()
	if err := sign.Check(open(t, path), &key.PublicKey); !errors.Is(err, sign.ErrUnsigned) || !strings.Contains(err.Error(), "paimirror sign") {
		t.Fatalf("Check of an unsigned bundle = %v, want ErrUnsigned", err)
	}
	fp, err := sign.Bundle(path, key)
	if err != nil {
		t.Fatal(err)
	}
	if fp != sign.Fingerprint(&key.PublicKey) {
		t.Fatalf("Bundle returned %s", fp)
	}
	b := open(t, path)
	if err := sign.Check(b, &key.PublicKey); err != nil {
		t.Fatalf("Check with the signing key: %v", err)
	}
	if !verifyOK(t, b) {
		t.Fatal("a signed bundle does not verify")
	}

	// Another key: refused, naming both keys.
	err = sign.Check(b, &other.PublicKey)
	var se *sign.SignatureError
	if !errors.As(err, &se) || !errors.Is(err, sign.ErrBadSignature) || se.Signer != fp || se.Key != sign.Fingerprint(&other.PublicKey) {
		t.Fatalf("Check with another key = %#v", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "signed by key "+fp+", not by key "+se.Key) || !strings.Contains(msg, se.Key) {
		t.Errorf("message %q does not name both keys", msg)
	}

	// Signing again with the other key replaces the signature.
	if _, err := sign.Bundle(path, other); err != nil {
		t.Fatal(err)
	}
	if err := sign.Check(open(t, path), &other.PublicKey); err != nil {
		t.Fatalf("after signing again: %v", err)
	}
	if err := sign.Check(open(t, path), &key.PublicKey); !errors.Is(err, sign.ErrBadSignature) {
		t.Fatalf("the first key still verifies: %v", err)
	}
}

// TestCheckTampered: a bundle that today's Verify accepts, with a file's
// blob swapped and the lock and index.json rewritten to match, fails
// Check against the key that signed the original.
func TestCheckTampered(t *testing.T) {
	path := smallBundle(t)()
	key, _ := sign.GenerateKey()
	if _, err := sign.Bundle(path, key); err != nil {
		t.Fatal(err)
	}
	url, err := bundletest.Tamper(path)
	if err != nil {
		t.Fatal(err)
	}
	b := open(t, path)
	if !verifyOK(t, b) {
		t.Fatal("Verify finds the tampered bundle damaged: the tamper is not the one Verify alone cannot see")
	}
	if got := b.Lock.Files[0]; got.URL != url {
		t.Fatalf("file %s, tampered %s", got.URL, url)
	}
	err = sign.Check(b, &key.PublicKey)
	var se *sign.SignatureError
	if !errors.As(err, &se) || se.Signer != sign.Fingerprint(&key.PublicKey) {
		t.Fatalf("Check of the tampered bundle = %v, want a SignatureError naming the signer", err)
	}
	if !strings.Contains(err.Error(), "changed after signing") {
		t.Errorf("message %q", err)
	}
}

// TestAttach: a signature made elsewhere is stored once it verifies
// against the key given, and refused otherwise.
func TestAttach(t *testing.T) {
	path := smallBundle(t)()
	key, _ := sign.GenerateKey()
	other, _ := sign.GenerateKey()
	lock := open(t, path).LockBytes()
	sig, err := sign.Blob(key, lock)
	if err != nil {
		t.Fatal(err)
	}
	if err := sign.Attach(path, &other.PublicKey, sig); !errors.Is(err, sign.ErrBadSignature) {
		t.Fatalf("Attach with the wrong key = %v", err)
	}
	if _, ok := open(t, path).Signature(); ok {
		t.Fatal("a refused signature was stored")
	}
	if err := sign.Attach(path, &key.PublicKey, sig+"\n"); err != nil {
		t.Fatal(err)
	}
	b := open(t, path)
	if err := sign.Check(b, &key.PublicKey); err != nil {
		t.Fatal(err)
	}
	if s, _ := b.Signature(); s.Base64 != sig || s.Signer != sign.Fingerprint(&key.PublicKey) {
		t.Fatalf("stored %+v", s)
	}
}
