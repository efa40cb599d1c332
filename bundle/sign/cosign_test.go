package sign_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/sign"
)

// extract runs tar -x of names from the bundle at path into a new
// directory, as a person checking it with cosign would, and returns it.
func extract(t *testing.T, path string, names ...string) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command(bundletest.Tool(t, "tar"), append([]string{"-xf", path, "-C", dir}, names...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("tar -x: %v\n%s", err, out)
	}
	return dir
}

// TestCosignVerifiesPaimirror: keys made by `cosign generate-key-pair`
// are read by paimirror, which signs a bundle; `cosign verify-blob`
// accepts the signature extracted from it over the extracted lock, and
// refuses it with another key.
func TestCosignVerifiesPaimirror(t *testing.T) {
	cosign := bundletest.Cosign(t)
	keys := t.TempDir()
	pw := []string{"COSIGN_PASSWORD=cosign made this"}
	for _, prefix := range []string{"lab", "other"} {
		if out, errOut, err := bundletest.RunCosign(t, cosign, keys, pw, "generate-key-pair", "--output-key-prefix", prefix); err != nil {
			t.Fatalf("cosign generate-key-pair: %v\n%s%s", err, out, errOut)
		}
	}
	data, err := os.ReadFile(filepath.Join(keys, "lab.key"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sign.DecryptKey(data, []byte("not it")); !errors.Is(err, sign.ErrPassword) {
		t.Fatalf("cosign's key with a wrong password: %v", err)
	}
	key, err := sign.DecryptKey(data, []byte("cosign made this"))
	if err != nil {
		t.Fatalf("reading cosign's private key: %v", err)
	}
	pubData, err := os.ReadFile(filepath.Join(keys, "lab.pub"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sign.ParsePublicKey(pubData)
	if err != nil {
		t.Fatalf("reading cosign's public key: %v", err)
	}
	if !pub.Equal(&key.PublicKey) {
		t.Fatal("cosign's lab.pub is not lab.key's public key as paimirror reads them")
	}

	path := smallBundle(t)()
	if _, err := sign.Bundle(path, key); err != nil {
		t.Fatal(err)
	}
	dir := extract(t, path, bundle.LockName, bundle.SignatureName)
	verify := func(pubFile string) (string, error) {
		out, errOut, err := bundletest.RunCosign(t, cosign, dir, nil, "verify-blob",
			"--key", filepath.Join(keys, pubFile), "--signature", bundle.SignatureName, "--insecure-ignore-tlog", bundle.LockName)
		return out + errOut, err
	}
	if out, err := verify("lab.pub"); err != nil || !strings.Contains(out, "Verified OK") {
		t.Fatalf("cosign verify-blob of paimirror's signature: %v\n%s", err, out)
	}
	if out, err := verify("other.pub"); err == nil {
		t.Fatalf("cosign verify-blob with another key succeeded:\n%s", out)
	}
}

// TestPaimirrorVerifiesCosign: keys made by paimirror are used by `cosign
// sign-blob` (cosign decrypts paimirror's key with the password), and the
// signature it makes of a bundle's lock is stored and checked by
// paimirror; cosign also reads paimirror's public key.
func TestPaimirrorVerifiesCosign(t *testing.T) {
	cosign := bundletest.Cosign(t)
	keys := t.TempDir()
	key, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := sign.EncryptKey(key, []byte("paimirror made this"))
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := sign.MarshalPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(keys, "lab.key"), enc, 0o600)
	os.WriteFile(filepath.Join(keys, "lab.pub"), pubPEM, 0o644)

	path := smallBundle(t)()
	dir := extract(t, path, bundle.LockName)
	pw := []string{"COSIGN_PASSWORD=paimirror made this"}
	if out, errOut, err := bundletest.RunCosign(t, cosign, dir, []string{"COSIGN_PASSWORD=wrong"}, "sign-blob", "--yes",
		"--key", filepath.Join(keys, "lab.key"), "--tlog-upload=false", "--output-signature", "wrong.sig", bundle.LockName); err == nil {
		t.Fatalf("cosign sign-blob opened paimirror's key with a wrong password:\n%s%s", out, errOut)
	}
	if out, errOut, err := bundletest.RunCosign(t, cosign, dir, pw, "sign-blob", "--yes",
		"--key", filepath.Join(keys, "lab.key"), "--tlog-upload=false", "--output-signature", "cosign.sig", bundle.LockName); err != nil {
		t.Fatalf("cosign sign-blob with paimirror's key: %v\n%s%s", err, out, errOut)
	}
	sig, err := os.ReadFile(filepath.Join(dir, "cosign.sig"))
	if err != nil {
		t.Fatal(err)
	}
	if out, errOut, err := bundletest.RunCosign(t, cosign, dir, nil, "verify-blob",
		"--key", filepath.Join(keys, "lab.pub"), "--signature", "cosign.sig", "--insecure-ignore-tlog", bundle.LockName); err != nil {
		t.Fatalf("cosign verify-blob with paimirror's public key: %v\n%s%s", err, out, errOut)
	}

	if err := sign.Attach(path, &key.PublicKey, string(sig)); err != nil {
		t.Fatalf("storing cosign's signature: %v", err)
	}
	b := open(t, path)
	if err := sign.Check(b, &key.PublicKey); err != nil {
		t.Fatalf("checking cosign's signature: %v", err)
	}
	if s, _ := b.Signature(); s.Base64 != strings.TrimSpace(string(sig)) {
		t.Fatalf("stored %q, cosign made %q", s.Base64, sig)
	}
	other, _ := sign.GenerateKey()
	if err := sign.Check(b, &other.PublicKey); !errors.Is(err, sign.ErrBadSignature) {
		t.Fatalf("cosign's signature checked against another key: %v", err)
	}
}
