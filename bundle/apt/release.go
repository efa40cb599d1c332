package apt

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"
)

// FileSum is a file's size and sha256 as a Release file or a Packages
// index lists it.
type FileSum struct {
	Size int64
	// SHA256 is lowercase hex.
	SHA256 string
}

// Release is a parsed Release file (the text of InRelease inside its
// signature, or Release).
type Release struct {
	Origin, Label, Suite, Codename, Version, Date string
	// Architectures and Components are the space-separated lists of the
	// fields of those names.
	Architectures, Components []string
	// AcquireByHash is the "Acquire-By-Hash: yes" field: apt then fetches
	// indexes as {dir}/by-hash/SHA256/{sha256}.
	AcquireByHash bool
	// SHA256 maps each listed path, relative to dists/{suite}/
	// ("main/binary-amd64/Packages.gz"), to its size and sha256.
	SHA256 map[string]FileSum
	// Fields are all the fields as read.
	Fields Paragraph
}

// ParseRelease parses the text of a Release file.
func ParseRelease(data []byte) (*Release, error) {
	ps, err := ParseControl(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	if len(ps) != 1 {
		return nil, syntaxError("release file", firstLine(data), fmt.Sprintf("%d paragraphs, want 1", len(ps)))
	}
	p := ps[0]
	r := &Release{
		Origin: p.Get("Origin"), Label: p.Get("Label"), Suite: p.Get("Suite"),
		Codename: p.Get("Codename"), Version: p.Get("Version"), Date: p.Get("Date"),
		Architectures: strings.Fields(p.Get("Architectures")),
		Components:    strings.Fields(p.Get("Components")),
		AcquireByHash: strings.EqualFold(p.Get("Acquire-By-Hash"), "yes"),
		SHA256:        map[string]FileSum{},
		Fields:        p,
	}
	for _, l := range lines(p.Get("SHA256")) {
		f := strings.Fields(l)
		if len(f) != 3 {
			return nil, syntaxError("release file", l, "SHA256 line is not \"sum size path\"")
		}
		size, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || size < 0 || !isSHA256(strings.ToLower(f[0])) {
			return nil, syntaxError("release file", l, "bad SHA256 line")
		}
		r.SHA256[f[2]] = FileSum{Size: size, SHA256: strings.ToLower(f[0])}
	}
	return r, nil
}

func firstLine(b []byte) string {
	l, _, _ := bytes.Cut(b, []byte("\n"))
	return string(l)
}

func isSHA256(s string) bool {
	return len(s) == 64 && strings.Trim(s, "0123456789abcdef") == ""
}

// Key is a pinned repository signing key: the public key block and the
// fingerprint of the primary key it must hold. Signatures by the primary
// key or any of its signing subkeys verify.
type Key struct {
	// Fingerprint is the primary key's fingerprint, uppercase hex without
	// spaces.
	Fingerprint string
	entity      *openpgp.Entity
}

// NewKey reads a public key (ASCII-armored or binary, one key or a keyring
// such as debian-archive-keyring.gpg) and returns the key whose primary
// fingerprint is fingerprint (hex, spaces and case ignored). The error
// wraps ErrKey when no key of the block has that fingerprint.
func NewKey(data []byte, fingerprint string) (*Key, error) {
	want := normFingerprint(fingerprint)
	if len(want) != 40 && len(want) != 64 {
		return nil, fmt.Errorf("%w: fingerprint %q is not 40 or 64 hex digits", ErrKey, fingerprint)
	}
	var el openpgp.EntityList
	var err error
	if bytes.Contains(data, []byte("-----BEGIN PGP")) {
		el, err = openpgp.ReadArmoredKeyRing(bytes.NewReader(data))
	} else {
		el, err = openpgp.ReadKeyRing(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: reading key %s: %v", ErrKey, want, err)
	}
	var have []string
	for _, e := range el {
		fp := strings.ToUpper(hex.EncodeToString(e.PrimaryKey.Fingerprint))
		if fp == want {
			return &Key{Fingerprint: fp, entity: e}, nil
		}
		have = append(have, fp)
	}
	return nil, fmt.Errorf("%w: the key block holds %s, not %s", ErrKey, listOrNone(have), want)
}

func normFingerprint(s string) string {
	s = strings.ToUpper(strings.Join(strings.Fields(s), ""))
	s = strings.TrimPrefix(s, "0X")
	if strings.Trim(s, "0123456789ABCDEF") != "" {
		return ""
	}
	return s
}

// VerifyInRelease checks that inRelease is clearsigned by key and returns
// the Release it holds. repo names the repository in errors. A missing,
// bad or foreign signature is a *SignatureError.
func VerifyInRelease(repo string, inRelease []byte, key *Key) (*Release, error) {
	sigErr := func(err error, found []string) error {
		return &SignatureError{Repository: repo, File: "InRelease", Want: key.Fingerprint, Found: found, Err: err}
	}
	block, rest := clearsign.Decode(inRelease)
	if block == nil {
		return nil, sigErr(errors.New("not a clearsigned message"), nil)
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, sigErr(errors.New("data after the signature"), nil)
	}
	if err := checkPrefix(inRelease); err != nil {
		return nil, sigErr(err, nil)
	}
	sig, err := io.ReadAll(block.ArmoredSignature.Body)
	if err != nil {
		return nil, sigErr(fmt.Errorf("reading the signature: %w", err), nil)
	}
	found := issuers(sig)
	block, _ = clearsign.Decode(inRelease) // reading the signature consumed it
	if _, err := block.VerifySignature(openpgp.EntityList{key.entity}, nil); err != nil {
		return nil, sigErr(err, found)
	}
	rel, err := ParseRelease(block.Plaintext)
	if err != nil {
		return nil, fmt.Errorf("%s: InRelease: %w", repo, err)
	}
	return rel, nil
}

// checkPrefix refuses text before the clearsigned block, which
// clearsign.Decode skips but apt does not accept (it would be unsigned).
func checkPrefix(data []byte) error {
	if !bytes.HasPrefix(bytes.TrimLeft(data, "\r\n"), []byte("-----BEGIN PGP SIGNED MESSAGE-----")) {
		return errors.New("text before the signed message")
	}
	return nil
}

// VerifyRelease checks that sig (Release.gpg, armored or binary) is a
// detached signature of release by key and returns the parsed Release. A
// missing, bad or foreign signature is a *SignatureError.
func VerifyRelease(repo string, release, sig []byte, key *Key) (*Release, error) {
	sigErr := func(err error, found []string) error {
		return &SignatureError{Repository: repo, File: "Release.gpg", Want: key.Fingerprint, Found: found, Err: err}
	}
	if len(bytes.TrimSpace(sig)) == 0 {
		return nil, sigErr(errors.New("no signature"), nil)
	}
	raw := sig
	if bytes.Contains(sig, []byte("-----BEGIN PGP SIGNATURE-----")) {
		b, err := armor.Decode(bytes.NewReader(sig))
		if err != nil {
			return nil, sigErr(fmt.Errorf("reading the signature: %w", err), nil)
		}
		if raw, err = io.ReadAll(b.Body); err != nil {
			return nil, sigErr(fmt.Errorf("reading the signature: %w", err), nil)
		}
	}
	found := issuers(raw)
	if _, err := openpgp.CheckDetachedSignature(openpgp.EntityList{key.entity}, bytes.NewReader(release), bytes.NewReader(raw), nil); err != nil {
		return nil, sigErr(err, found)
	}
	rel, err := ParseRelease(release)
	if err != nil {
		return nil, fmt.Errorf("%s: Release: %w", repo, err)
	}
	return rel, nil
}

// issuers lists who the signature packets in raw say made them.
func issuers(raw []byte) []string {
	var out []string
	r := packet.NewReader(bytes.NewReader(raw))
	for {
		p, err := r.Next()
		if err != nil {
			return out
		}
		s, ok := p.(*packet.Signature)
		if !ok {
			continue
		}
		switch {
		case len(s.IssuerFingerprint) > 0:
			out = append(out, strings.ToUpper(hex.EncodeToString(s.IssuerFingerprint)))
		case s.IssuerKeyId != nil:
			out = append(out, fmt.Sprintf("%016X", *s.IssuerKeyId))
		}
	}
}
