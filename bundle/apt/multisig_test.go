package apt_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/paimirror/paimirror/bundle/apt"
)

// TestInReleaseTwoSignatures: Ubuntu signs bionic's InRelease with its
// 2012 and its 2018 archive keys. A Release signed by two keys verifies
// against either one pinned, whichever signature comes first, and a key
// that signed neither is refused with both issuers named.
func TestInReleaseTwoSignatures(t *testing.T) {
	entity := func(name string) *openpgp.Entity {
		t.Helper()
		e, err := openpgp.NewEntity(name, "", name+"@example.invalid", &packet.Config{RSABits: 2048})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	k2012, k2018, other := entity("archive 2012"), entity("archive 2018"), entity("someone else")
	release := "Origin: Ubuntu\nSuite: bionic\nSHA256:\n " + strings.Repeat("a", 64) + " 10 main/binary-amd64/Packages.gz\n"
	var in bytes.Buffer
	w, err := clearsign.EncodeMulti(&in, []*packet.PrivateKey{k2012.PrivateKey, k2018.PrivateKey}, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, release)
	w.Close()
	pin := func(e *openpgp.Entity) *apt.Key {
		t.Helper()
		var b bytes.Buffer
		if err := e.Serialize(&b); err != nil {
			t.Fatal(err)
		}
		k, err := apt.NewKey(b.Bytes(), hex.EncodeToString(e.PrimaryKey.Fingerprint))
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	for _, e := range []*openpgp.Entity{k2012, k2018} {
		rel, err := apt.VerifyInRelease("ubuntu bionic", in.Bytes(), pin(e))
		if err != nil || rel.Suite != "bionic" {
			t.Errorf("pinned %s: %v", e.PrimaryKey.KeyIdString(), err)
		}
	}
	_, err = apt.VerifyInRelease("ubuntu bionic", in.Bytes(), pin(other))
	var se *apt.SignatureError
	if !errors.As(err, &se) || len(se.Found) != 2 || !slices.ContainsFunc(se.Found, func(s string) bool {
		return strings.Contains(strings.ToUpper(s), strings.ToUpper(k2018.PrimaryKey.KeyIdString()))
	}) {
		t.Errorf("pinned a key that signed nothing: %v (found %v)", err, se)
	}
}
