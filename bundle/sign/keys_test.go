package sign_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/sign"
)

func TestKeyRoundTrip(t *testing.T) {
	key, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := sign.EncryptKey(key, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(enc, []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n")) {
		t.Fatalf("key file starts %q", enc[:60])
	}
	got, err := sign.DecryptKey(enc, []byte("correct horse"))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(key) {
		t.Fatal("decrypted key differs")
	}
	if _, err := sign.DecryptKey(enc, []byte("correct horse ")); !errors.Is(err, sign.ErrPassword) {
		t.Fatalf("wrong password: %v, want ErrPassword", err)
	}

	pubPEM, err := sign.MarshalPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := sign.ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(&key.PublicKey) {
		t.Fatal("parsed public key differs")
	}
	fp := sign.Fingerprint(pub)
	if len(fp) != len("sha256:")+64 || !strings.HasPrefix(fp, "sha256:") {
		t.Fatalf("fingerprint %q", fp)
	}

	sig, err := sign.Blob(key, []byte("lock"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sign.VerifyBlob(pub, []byte("lock"), sig+"\n"); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if err := sign.VerifyBlob(pub, []byte("lock!"), sig); !errors.Is(err, sign.ErrBadSignature) {
		t.Fatalf("verify other data: %v", err)
	}
}

// TestKeyFilesRefused: every key file paimirror cannot use is refused
// with what it is and what to do, before any costly derivation.
func TestKeyFilesRefused(t *testing.T) {
	key, err := sign.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	good, err := sign.EncryptKey(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(good)
	envelope := func(edit func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(block.Bytes, &m); err != nil {
			t.Fatal(err)
		}
		edit(m)
		data, _ := json.Marshal(m)
		return pem.EncodeToMemory(&pem.Block{Type: sign.PrivateKeyPEMType, Bytes: data})
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pubPEM, _ := sign.MarshalPublicKey(&key.PublicKey)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)

	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"not PEM", []byte("hello"), "not a PEM file"},
		{"unencrypted", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), "cosign import-key-pair"},
		{"public key", pubPEM, "signing needs the private key"},
		{"scrypt too costly", envelope(func(m map[string]any) {
			m["kdf"].(map[string]any)["params"].(map[string]any)["N"] = 1 << 24
		}), "scrypt settings N=16777216 r=8 p=1 are not cosign's"},
		{"another cipher", envelope(func(m map[string]any) { m["cipher"].(map[string]any)["name"] = "aes" }), "encrypted with scrypt and aes"},
		{"short nonce", envelope(func(m map[string]any) { m["cipher"].(map[string]any)["nonce"] = "AAAA" }), "a nonce of 3 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := sign.DecryptKey(tc.data, nil)
			if !errors.Is(err, sign.ErrKey) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("DecryptKey = %v, want ErrKey saying %q", err, tc.want)
			}
		})
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"private key", good, "not the private one"},
		{"P-384", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: p384DER}), "the key is ECDSA P-384"},
		{"RSA", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaDER}), "the key is RSA"},
		{"garbage DER", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte("xx")}), "unsupported key"},
	} {
		t.Run("public "+tc.name, func(t *testing.T) {
			_, err := sign.ParsePublicKey(tc.data)
			if !errors.Is(err, sign.ErrKey) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("ParsePublicKey = %v, want ErrKey saying %q", err, tc.want)
			}
		})
	}
}

// FuzzKeys reads arbitrary bytes as key files: never a panic, and nothing
// but an error or a P-256 key.
func FuzzKeys(f *testing.F) {
	key, _ := sign.GenerateKey()
	enc, _ := sign.EncryptKey(key, []byte("pw"))
	pub, _ := sign.MarshalPublicKey(&key.PublicKey)
	f.Add(enc)
	f.Add(pub)
	f.Add([]byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnt9fQ==\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		// The password is wrong for any real key: only parsing runs,
		// plus at most one scrypt of cosign's settings.
		if k, err := sign.DecryptKey(data, []byte("not the password")); err == nil && k.Curve != elliptic.P256() {
			t.Fatalf("DecryptKey returned a %s key", k.Curve.Params().Name)
		}
		if k, err := sign.ParsePublicKey(data); err == nil && k.Curve != elliptic.P256() {
			t.Fatalf("ParsePublicKey returned a %s key", k.Curve.Params().Name)
		}
	})
}
