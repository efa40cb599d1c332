package bundle

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// The signature members (see the package doc's "Signature"): both small,
// both last in the tar, the signer's first.
const (
	// SignatureName is the member holding the signature of paimirror.json
	// in the format `cosign sign-blob` prints: the base64 of an ASN.1
	// ECDSA signature over the SHA-256 of the lock as stored, then
	// newlines up to SignatureSize bytes (base64 decoders skip them).
	SignatureName = LockName + ".sig"
	// SignerName is the member naming the key that made the signature:
	// "sha256:" and the hex SHA-256 of its public key (PKIX DER, the bytes
	// inside cosign.pub's PEM), then a newline. It is a hint for messages
	// only; nothing trusts it.
	SignerName = LockName + ".signer"
	// SignatureSize is the size of every SignatureName member: the
	// longest base64 ECDSA P-256 signature (96) and a newline.
	SignatureSize = 97
	// SignerSize is the size of every SignerName member.
	SignerSize = len("sha256:") + 64 + 1
)

// Signature is what a bundle's signature members hold.
type Signature struct {
	// Base64 is the signature as `cosign sign-blob` prints it, without the
	// padding newlines.
	Base64 string
	// Signer is the fingerprint of the key that made it ("sha256:<hex>"),
	// "" when unknown (a bundle whose signer member is not written yet).
	Signer string
}

// Signature returns the bundle's signature; ok is false when the bundle
// has none. For a base and its deltas it is the last delta's, which signs
// the whole new state: its lock names every blob by digest and its base's
// lock by sha256. It is not checked here: bundle/sign does that.
func (b *Bundle) Signature() (sig Signature, ok bool) {
	return b.sig, b.signed
}

// readSignature reads the signature members Open found in one bundle, if
// any.
func (b *Bundle) readSignature(meta map[string]entry) (Signature, bool, error) {
	e, ok := meta[SignatureName]
	if !ok {
		if _, ok := meta[SignerName]; ok {
			return Signature{}, false, fmt.Errorf("%w: %s without %s", ErrCorrupt, SignerName, SignatureName)
		}
		return Signature{}, false, nil
	}
	data, err := b.readEntry(e, 4<<10)
	if err != nil {
		return Signature{}, false, err
	}
	sig := strings.TrimRight(string(data), "\n")
	if _, err := base64.StdEncoding.DecodeString(sig); sig == "" || err != nil || strings.Contains(sig, "\n") {
		return Signature{}, false, fmt.Errorf("%w: %s is not a base64 signature (%d bytes); sign the bundle again with 'paimirror sign'", ErrCorrupt, SignatureName, len(data))
	}
	out := Signature{Base64: sig}
	if e, ok := meta[SignerName]; ok {
		data, err := b.readEntry(e, 4<<10)
		if err != nil {
			return Signature{}, false, err
		}
		// All zero: the signer member's header was written and its data
		// not yet (see AttachSignature); the signer is unknown.
		if s := strings.TrimRight(string(data), "\n\x00"); s != "" {
			out.Signer = s
		}
	}
	return out, true, nil
}

// AttachSignature stores sig (base64, as `cosign sign-blob` prints it)
// and signer (the fingerprint of its key, "sha256:<hex>") in the bundle at
// path, in place, replacing any signature it has. It does not check the
// signature: bundle/sign's Bundle and Attach do, and call it.
//
// Cost: a few 512-byte writes at the end of the file and up to four
// fsyncs, whatever the bundle's size; nothing is copied.
//
// Guarantee: if the process is killed or the machine loses power at any
// point, the bundle still opens, as it was (unsigned, or signed by the
// old signature) or with the new signature, its signer possibly unknown
// ("" in Signature.Signer; running AttachSignature again completes it).
// It rests on a write of one 512-byte block at an offset that is a
// multiple of 512 landing whole or not at all (one disk sector), and on
// fsync ordering the steps:
//
//   - unsigned bundle, its end marker at E: the signature member and a new
//     end marker are written past the old marker (E+1024 on), which every
//     tar reader ignores; fsync. Then the signer member's header goes over
//     the marker's first block at E, in one block write: from here the tar
//     holds the signer member (its data, the old marker's second block, is
//     zero: signer unknown), the signature and the new marker; fsync. Then
//     the signer's data block; fsync.
//   - signed bundle (the two members last, at their fixed sizes): the
//     signer's data block is zeroed (unknown), the signature's data block
//     is replaced, then the signer's is written; each one block, fsync
//     between them.
//
// Only one AttachSignature may run on a bundle at a time. A bundle split
// into parts cannot be signed: sign it before splitting.
func AttachSignature(path, sig, signer string) error {
	if len(sig) == 0 || len(sig) > SignatureSize-1 || strings.ContainsAny(sig, "\n\x00") {
		return fmt.Errorf("signing %s: a signature of %d bytes: want the base64 of an ECDSA P-256 signature, at most %d bytes", path, len(sig), SignatureSize-1)
	}
	if !strings.HasPrefix(signer, "sha256:") || len(signer) != SignerSize-1 {
		return fmt.Errorf("signing %s: signer %q is not a key fingerprint (sha256:<64 hex>)", path, signer)
	}
	sigData := []byte(sig + strings.Repeat("\n", SignatureSize-len(sig)))
	signerData := []byte(signer + "\n")

	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("signing: %s does not exist", path)
		}
		return fmt.Errorf("signing: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("signing: %s is not a regular file", path)
	}
	res, err := scanTar(f, st.Size())
	if err != nil {
		return fmt.Errorf("signing %s: %w", path, err)
	}
	if res.Torn != "" || !res.Finished {
		return fmt.Errorf("signing %s: %w: not a whole tar (%s); a bundle split into parts is signed before splitting", path, ErrCorrupt, res.Torn)
	}
	n := len(res.Entries)
	names := make([]string, n)
	for i, e := range res.Entries {
		names[i] = e.Name
	}
	fail := func(err error) error { return fmt.Errorf("signing %s: %w", path, err) }
	sync := func(step string) error {
		if err := f.Sync(); err != nil {
			return fail(err)
		}
		if attachHook != nil {
			return attachHook(step)
		}
		return nil
	}
	// block writes one whole block at off (a multiple of 512): one
	// sector, which lands whole or not at all.
	block := func(step string, data []byte, off int64) error {
		b := make([]byte, 512)
		copy(b, data)
		if _, err := f.WriteAt(b, off); err != nil {
			return fail(err)
		}
		return sync(step)
	}

	if n >= 2 && names[n-2] == SignerName && names[n-1] == SignatureName {
		signerE, sigE := res.Entries[n-2], res.Entries[n-1]
		if signerE.Size != int64(SignerSize) || sigE.Size != SignatureSize || signerE.end() != sigE.HeaderOff {
			return fail(fmt.Errorf("%w: its signature members are not those paimirror writes (%d and %d bytes); rebuild it, or sign a copy made before it was signed", ErrCorrupt, signerE.Size, sigE.Size))
		}
		// Signer unknown, new signature, new signer: each state opens.
		if err := block("signer cleared", nil, signerE.DataOff); err != nil {
			return err
		}
		if err := block("signature", sigData, sigE.DataOff); err != nil {
			return err
		}
		return block("signer", signerData, signerE.DataOff)
	}
	for _, name := range names {
		if name == SignerName || name == SignatureName {
			return fail(fmt.Errorf("%w: %s is in the tar but not last; rebuild it", ErrCorrupt, name))
		}
	}

	// Past the old end marker (at E, two blocks): the signature member and
	// a new marker; then the signer member's header over the old marker.
	e := res.End
	signerHdr, err := ustarHeader(SignerName, int64(SignerSize))
	if err != nil {
		return fail(err)
	}
	sigHdr, err := ustarHeader(SignatureName, SignatureSize)
	if err != nil {
		return fail(err)
	}
	var tail bytes.Buffer
	tail.Write(sigHdr)
	tail.Write(sigData)
	tail.Write(make([]byte, roundBlock(SignatureSize)-SignatureSize+2*512))
	if err := f.Truncate(e + 2*512); err != nil { // what lay past the marker
		return fail(err)
	}
	if _, err := f.WriteAt(tail.Bytes(), e+2*512); err != nil {
		f.Truncate(e + 2*512)
		return fail(err)
	}
	if err := sync("tail"); err != nil {
		return err
	}
	if err := block("signer header", signerHdr, e); err != nil {
		return err
	}
	return block("signer", signerData, e+512)
}

// attachHook, when set (by tests), is called after each step of
// AttachSignature is synced; an error stops it there, as a kill would.
var attachHook func(step string) error

// ustarHeader encodes a plain ustar header block (one block, no PAX
// record) for a small regular member: one block, so that writing it is
// one sector write.
func ustarHeader(name string, size int64) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: time.Unix(0, 0), Format: tar.FormatUSTAR}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if buf.Len() != 512 {
		return nil, fmt.Errorf("header of %s is %d bytes, not one block", name, buf.Len())
	}
	return buf.Bytes(), nil
}
