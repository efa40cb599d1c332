// Package sign signs a bundle's lock and checks that signature, in formats
// that cosign (github.com/sigstore/cosign) reads and writes, without
// cosign's code and without any network.
//
// # What is signed
//
// The lock, paimirror.json, exactly as stored: it pins every image
// manifest, layer and file by digest or sha256, so a signed lock and a
// Verify that finds every blob matching it (and index.json agreeing with
// it) vouch for the whole bundle. The signature travels inside the bundle
// (bundle.SignatureName and bundle.SignerName; see bundle.AttachSignature
// for how it is written in place).
//
// # Formats
//
// The signature is what `cosign sign-blob --key cosign.key paimirror.json`
// prints: the base64 of an ASN.1 ECDSA signature over the SHA-256 of the
// file. `cosign verify-blob --key cosign.pub --signature paimirror.json.sig
// --insecure-ignore-tlog paimirror.json` checks it, and Check checks one
// that cosign made.
//
// Keys are ECDSA P-256, as `cosign generate-key-pair` makes them:
//
//   - the public key: PEM "PUBLIC KEY", PKIX DER;
//   - the private key: PEM "ENCRYPTED SIGSTORE PRIVATE KEY" (cosign's older
//     "ENCRYPTED COSIGN PRIVATE KEY" is read too) whose bytes are JSON:
//     {"kdf":{"name":"scrypt","params":{"N":65536,"r":8,"p":1},"salt":…},
//     "cipher":{"name":"nacl/secretbox","nonce":…},"ciphertext":…}, byte
//     strings in standard base64. The key is scrypt(password, salt, N, r,
//     p, 32 bytes); the plaintext is the PKCS #8 DER of the private key,
//     sealed with NaCl secretbox (XSalsa20-Poly1305) under that key and the
//     24-byte nonce. Only cosign's three scrypt settings (N 2^15, 2^16 or
//     2^17, r 8, p 1) are accepted, so a key file cannot make opening it
//     cost more than about 128 MiB and a second.
//
// A key's fingerprint (Fingerprint) is "sha256:" and the hex SHA-256 of its
// PKIX DER: `openssl pkey -pubin -in cosign.pub -outform DER | sha256sum`.
//
// # Trust
//
// Nothing is looked up: no transparency log (Rekor), no certificate
// authority (Fulcio), no timestamp authority. The public key the caller
// gives is the only trust root; carry it into the lab apart from the
// bundle.
//
// # Concurrency
//
// Every function is safe for concurrent use; Bundle and Attach write the
// bundle file and must not run twice at once on the same file.
package sign
