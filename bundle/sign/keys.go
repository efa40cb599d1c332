package sign

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"

	"golang.org/x/crypto/nacl/secretbox"
	"golang.org/x/crypto/scrypt"
)

// PEM block types of cosign's key files.
const (
	// PrivateKeyPEMType is the PEM type cosign generate-key-pair writes
	// (and EncryptKey).
	PrivateKeyPEMType = "ENCRYPTED SIGSTORE PRIVATE KEY"
	// LegacyPrivateKeyPEMType is the type older cosign releases wrote;
	// DecryptKey reads it too.
	LegacyPrivateKeyPEMType = "ENCRYPTED COSIGN PRIVATE KEY"
	// PublicKeyPEMType is the PEM type of a public key file.
	PublicKeyPEMType = "PUBLIC KEY"
)

// PasswordEnv is the environment variable cosign reads a private key's
// password from; paimirror reads the same one.
const PasswordEnv = "COSIGN_PASSWORD"

// scryptParams are a key file's scrypt settings.
type scryptParams struct {
	N int `json:"N"`
	R int `json:"r"`
	P int `json:"p"`
}

// The scrypt settings cosign writes (2^16) and reads (also 2^15 and
// 2^17); no others are accepted.
var (
	writeParams  = scryptParams{N: 1 << 16, R: 8, P: 1}
	acceptParams = []scryptParams{{N: 1 << 15, R: 8, P: 1}, writeParams, {N: 1 << 17, R: 8, P: 1}}
)

// encryptedKey is the JSON inside an encrypted private key's PEM block.
type encryptedKey struct {
	KDF struct {
		Name   string       `json:"name"`
		Params scryptParams `json:"params"`
		Salt   []byte       `json:"salt"`
	} `json:"kdf"`
	Cipher struct {
		Name  string `json:"name"`
		Nonce []byte `json:"nonce"`
	} `json:"cipher"`
	Ciphertext []byte `json:"ciphertext"`
}

const (
	kdfName    = "scrypt"
	cipherName = "nacl/secretbox"
)

// GenerateKey makes a new ECDSA P-256 private key.
func GenerateKey() (*ecdsa.PrivateKey, error) {
	return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// EncryptKey returns key as cosign stores a private key (cosign.key): its
// PKCS #8 DER sealed under password, in a PEM block of PrivateKeyPEMType.
// It costs one scrypt derivation (N 2^16, r 8: 64 MiB, about 0.2 s).
func EncryptKey(key *ecdsa.PrivateKey, password []byte) ([]byte, error) {
	if key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: paimirror signs with ECDSA P-256 keys", ErrKey)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	var ek encryptedKey
	ek.KDF.Name, ek.KDF.Params, ek.KDF.Salt = kdfName, writeParams, make([]byte, 32)
	ek.Cipher.Name, ek.Cipher.Nonce = cipherName, make([]byte, 24)
	if _, err := rand.Read(ek.KDF.Salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(ek.Cipher.Nonce); err != nil {
		return nil, err
	}
	boxKey, err := scrypt.Key(password, ek.KDF.Salt, writeParams.N, writeParams.R, writeParams.P, 32)
	if err != nil {
		return nil, err
	}
	ek.Ciphertext = secretbox.Seal(nil, der, (*[24]byte)(ek.Cipher.Nonce), (*[32]byte)(boxKey))
	data, err := json.Marshal(ek)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: PrivateKeyPEMType, Bytes: data}), nil
}

// DecryptKey reads a private key file as cosign writes it (see the
// package doc) and opens it with password. A wrong password is
// ErrPassword; a file of another kind, or a key that is not ECDSA P-256,
// ErrKey. It costs one scrypt derivation (at most 128 MiB, about a
// second).
func DecryptKey(data, password []byte) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: not a PEM file (want cosign's %q)", ErrKey, PrivateKeyPEMType)
	}
	switch block.Type {
	case PrivateKeyPEMType, LegacyPrivateKeyPEMType:
	case "PRIVATE KEY", "EC PRIVATE KEY":
		return nil, fmt.Errorf("%w: an unencrypted %s; encrypt it as cosign does with 'cosign import-key-pair --key FILE'", ErrKey, block.Type)
	case PublicKeyPEMType:
		return nil, fmt.Errorf("%w: this is a public key; signing needs the private key (cosign.key)", ErrKey)
	default:
		return nil, fmt.Errorf("%w: PEM %q, want %q", ErrKey, block.Type, PrivateKeyPEMType)
	}
	var ek encryptedKey
	if err := json.Unmarshal(block.Bytes, &ek); err != nil {
		return nil, fmt.Errorf("%w: the encrypted key is not cosign's JSON: %v", ErrKey, err)
	}
	if ek.KDF.Name != kdfName || ek.Cipher.Name != cipherName {
		return nil, fmt.Errorf("%w: key encrypted with %s and %s, want %s and %s", ErrKey, ek.KDF.Name, ek.Cipher.Name, kdfName, cipherName)
	}
	ok := false
	for _, p := range acceptParams {
		ok = ok || p == ek.KDF.Params
	}
	if !ok {
		return nil, fmt.Errorf("%w: scrypt settings N=%d r=%d p=%d are not cosign's", ErrKey, ek.KDF.Params.N, ek.KDF.Params.R, ek.KDF.Params.P)
	}
	if len(ek.Cipher.Nonce) != 24 || len(ek.KDF.Salt) == 0 {
		return nil, fmt.Errorf("%w: a nonce of %d bytes (want 24) or an empty salt", ErrKey, len(ek.Cipher.Nonce))
	}
	p := ek.KDF.Params
	boxKey, err := scrypt.Key(password, ek.KDF.Salt, p.N, p.R, p.P, 32)
	if err != nil {
		return nil, err
	}
	der, ok := secretbox.Open(nil, ek.Ciphertext, (*[24]byte)(ek.Cipher.Nonce), (*[32]byte)(boxKey))
	if !ok {
		return nil, ErrPassword
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: the decrypted key does not parse: %v", ErrKey, err)
	}
	key, isECDSA := k.(*ecdsa.PrivateKey)
	if !isECDSA || key.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: the key is %s; paimirror signs with ECDSA P-256 keys (cosign generate-key-pair's)", ErrKey, keyKind(k))
	}
	return key, nil
}

// MarshalPublicKey returns pub as cosign.pub holds it: PEM "PUBLIC KEY",
// PKIX DER.
func MarshalPublicKey(pub *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: PublicKeyPEMType, Bytes: der}), nil
}

// ParsePublicKey reads a public key file (cosign.pub): an ECDSA P-256 key,
// PEM "PUBLIC KEY". Anything else is ErrKey.
func ParsePublicKey(data []byte) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: not a PEM file (want %q, as in cosign.pub)", ErrKey, PublicKeyPEMType)
	}
	if block.Type != PublicKeyPEMType {
		hint := ""
		if block.Type == PrivateKeyPEMType || block.Type == LegacyPrivateKeyPEMType {
			hint = "; give the public key (cosign.pub), not the private one"
		}
		return nil, fmt.Errorf("%w: PEM %q, want %q%s", ErrKey, block.Type, PublicKeyPEMType, hint)
	}
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrKey, err)
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: the key is %s; paimirror checks ECDSA P-256 signatures (cosign generate-key-pair's keys)", ErrKey, keyKind(k))
	}
	return pub, nil
}

// Fingerprint names a public key: "sha256:" and the hex SHA-256 of its
// PKIX DER.
func Fingerprint(pub *ecdsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		// Only for keys on curves x509 cannot encode; ours are P-256.
		return "sha256:unknown"
	}
	sum := sha256.Sum256(der)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// keyKind names a key's algorithm for messages.
func keyKind(k any) string {
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		return "ECDSA " + k.Curve.Params().Name
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PrivateKey, *rsa.PublicKey:
		return "RSA"
	case ed25519.PrivateKey, ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", k)
}
