package sign

import (
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/paimirror/paimirror/bundle"
)

// Blob signs data as `cosign sign-blob --key` does: an ASN.1 ECDSA
// signature over its SHA-256, in standard base64.
func Blob(key *ecdsa.PrivateKey, data []byte) (string, error) {
	sum := sha256.Sum256(data)
	der, err := ecdsa.SignASN1(rand.Reader, key, sum[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(der), nil
}

// VerifyBlob checks sig, as `cosign sign-blob` prints it (base64; spaces
// and newlines around it ignored), over data against pub. A signature
// that does not verify is ErrBadSignature.
func VerifyBlob(pub *ecdsa.PublicKey, data []byte, sig string) error {
	der, err := base64.StdEncoding.DecodeString(strings.TrimSpace(sig))
	if err != nil {
		return fmt.Errorf("%w: the signature is not base64: %v", ErrBadSignature, err)
	}
	sum := sha256.Sum256(data)
	if !ecdsa.VerifyASN1(pub, sum[:], der) {
		return ErrBadSignature
	}
	return nil
}

// Bundle signs the lock of the bundle at path with key and stores the
// signature in it, in place (bundle.AttachSignature: a few block writes,
// safe against a kill at any point), replacing any it had. It returns the
// key's fingerprint. It reads the lock only: that the blobs match the
// lock is Verify's to check, before signing if the bundle may have been
// touched since it was built. The bundle is opened again afterwards and
// its signature checked.
func Bundle(path string, key *ecdsa.PrivateKey) (string, error) {
	lock, err := readLock(path)
	if err != nil {
		return "", err
	}
	sig, err := Blob(key, lock)
	if err != nil {
		return "", fmt.Errorf("signing %s: %w", path, err)
	}
	return Fingerprint(&key.PublicKey), attach(path, &key.PublicKey, lock, sig)
}

// Attach stores in the bundle at path a signature of its lock made
// elsewhere: by `cosign sign-blob` over the bundle's paimirror.json,
// perhaps with a key paimirror never sees (a KMS, a token). sig is what
// cosign printed; it must verify against pub (ErrBadSignature otherwise),
// whose fingerprint is recorded as the signer. Writing is as in Bundle.
func Attach(path string, pub *ecdsa.PublicKey, sig string) error {
	lock, err := readLock(path)
	if err != nil {
		return err
	}
	return attach(path, pub, lock, sig)
}

func attach(path string, pub *ecdsa.PublicKey, lock []byte, sig string) error {
	sig = strings.Join(strings.Fields(sig), "")
	if err := VerifyBlob(pub, lock, sig); err != nil {
		return fmt.Errorf("%w: the signature given is not one of %s's %s by key %s", err, path, bundle.LockName, Fingerprint(pub))
	}
	if err := bundle.AttachSignature(path, sig, Fingerprint(pub)); err != nil {
		return err
	}
	b, err := bundle.OpenWith(bundle.OpenOptions{NoBase: true}, path) // a delta is signed alone
	if err != nil {
		return fmt.Errorf("reopening %s after signing: %w", path, err)
	}
	defer b.Close()
	return Check(b, pub)
}

func readLock(path string) ([]byte, error) {
	b, err := bundle.OpenWith(bundle.OpenOptions{NoBase: true}, path) // a delta is signed alone
	if err != nil {
		return nil, err
	}
	defer b.Close()
	return b.LockBytes(), nil
}

// Check verifies the bundle's signature of its lock against pub: it is
// ErrUnsigned when there is none, a *SignatureError (ErrBadSignature)
// when it does not verify. It costs one ECDSA verification; the blobs are
// Verify's to check.
func Check(b *bundle.Bundle, pub *ecdsa.PublicKey) error {
	s, ok := b.Signature()
	if !ok {
		return fmt.Errorf("%w: it holds no %s; sign it with 'paimirror sign BUNDLE --key cosign.key' where it was built", ErrUnsigned, bundle.SignatureName)
	}
	if err := VerifyBlob(pub, b.LockBytes(), s.Base64); err != nil {
		if errors.Is(err, ErrBadSignature) {
			return &SignatureError{Key: Fingerprint(pub), Signer: s.Signer}
		}
		return err
	}
	return nil
}
