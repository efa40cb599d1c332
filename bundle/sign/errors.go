package sign

import (
	"errors"
	"fmt"
)

var (
	// ErrUnsigned means the bundle carries no signature.
	ErrUnsigned = errors.New("bundle is not signed")
	// ErrBadSignature means a signature does not verify against the key
	// given: made by another key, or over another lock.
	ErrBadSignature = errors.New("signature does not verify")
	// ErrPassword means the password does not open the private key.
	ErrPassword = errors.New("wrong password for the private key")
	// ErrKey means a key file is not one this package reads.
	ErrKey = errors.New("unsupported key")
)

// SignatureError is a signature that does not verify against Key: the
// bundle's Signer (the fingerprint its signer member names, "" when
// unknown) tells whether another key made it or the lock changed since.
type SignatureError struct {
	// Key is the fingerprint of the public key checked against.
	Key string
	// Signer is the fingerprint the bundle names for its signer.
	Signer string
}

func (e *SignatureError) Error() string {
	switch e.Signer {
	case "":
		return fmt.Sprintf("the signature of paimirror.json does not verify against key %s: another key made it (the bundle does not say which), or the lock changed after signing", e.Key)
	case e.Key:
		return fmt.Sprintf("the signature of paimirror.json does not verify against key %s, which the bundle names as its signer: the lock or the signature changed after signing", e.Key)
	}
	return fmt.Sprintf("the bundle says it was signed by key %s, not by key %s given: check that you have the right public key (what a bundle says of its signer proves nothing)", e.Signer, e.Key)
}

// Unwrap makes errors.Is(err, ErrBadSignature) true.
func (e *SignatureError) Unwrap() error { return ErrBadSignature }
