package bundle_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
)

// TestLockJSONUnchanged decodes locks and encodes them again as Build
// writes them: the bytes must not change. testdata/lock.golden.json was
// written before the lock's digests were typed (digest.Digest), with every
// section and every optional field set; the small fixture's lock is what
// Build writes now.
func TestLockJSONUnchanged(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "lock.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := bundle.Open(writeTemp(t, smallBundle(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"golden", bytes.TrimSuffix(golden, []byte("\n"))},
		{"small fixture", b.LockBytes()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l bundle.Lock
			if err := json.Unmarshal(tc.data, &l); err != nil {
				t.Fatal(err)
			}
			got, err := json.MarshalIndent(&l, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tc.data) {
				t.Errorf("the lock encodes differently:\n%s\nwant:\n%s", got, tc.data)
			}
		})
	}

	// The typed accessors give what the bare hex fields say.
	var l bundle.Lock
	if err := json.Unmarshal(golden, &l); err != nil {
		t.Fatal(err)
	}
	hex := func(c string) string { return strings.Repeat(c, 64) }
	for _, c := range []struct {
		what      string
		got, want digest.Digest
	}{
		{"image", l.Images[0].Digest, digest.NewDigestFromEncoded(digest.SHA256, hex("1"))},
		{"index", l.Images[0].IndexDigest, digest.NewDigestFromEncoded(digest.SHA256, hex("2"))},
		{"layer", l.Images[0].Layers[1].Digest, digest.NewDigestFromEncoded(digest.SHA256, hex("5"))},
		{"file", l.Files[0].Digest(), digest.NewDigestFromEncoded(digest.SHA256, hex("a"))},
		{"python file", l.Python.Files[0].Digest(), digest.NewDigestFromEncoded(digest.SHA256, hex("c"))},
		{"apt file", l.Apt.Repositories[0].Files[1].Digest(), digest.NewDigestFromEncoded(digest.SHA256, hex("e"))},
		{"apt key", l.Apt.Keys[0].Digest(), digest.NewDigestFromEncoded(digest.SHA256, hex("f"))},
	} {
		if c.got != c.want {
			t.Errorf("%s: digest %s, want %s", c.what, c.got, c.want)
		}
	}
}

// TestLockBadDigests: a lock read from disk (a bundle's, or a base's lock
// file) whose digests are not sha256 digests is refused, saying which
// entry and what is wrong, before any of them is looked up.
func TestLockBadDigests(t *testing.T) {
	golden, err := os.ReadFile(filepath.Join("testdata", "lock.golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	one := strings.Repeat("1", 64)
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"image digest sha512", `"digest": "sha256:` + one, `"digest": "sha512:` + one + one, `image docker.io/openpai/rest-server:v1.8.0: manifest digest "sha512:`},
		{"image digest without algorithm", `"digest": "sha256:` + one, `"digest": "` + one, `image docker.io/openpai/rest-server:v1.8.0: manifest digest "1111`},
		{"index digest upper case", `"indexDigest": "sha256:` + strings.Repeat("2", 64), `"indexDigest": "sha256:` + strings.Repeat("A", 64), `index digest "sha256:AAAA`},
		{"layer digest short", `"digest": "sha256:` + strings.Repeat("5", 64), `"digest": "sha256:555`, `layer 2 digest "sha256:555"`},
		{"layout index empty", `"digest": "sha256:` + strings.Repeat("6", 64), `"digest": "`, `layout index digest ""`},
		{"file sha256", `"sha256": "` + strings.Repeat("a", 64), `"sha256": "../../etc/passwd`, `file https://dl.k8s.io/kubectl: sha256 "../../etc/passwd"`},
		{"python file sha256", `"sha256": "` + strings.Repeat("c", 64), `"sha256": "sha256:` + strings.Repeat("c", 64), `python file PyYAML-5.4.1.tar.gz: sha256 "sha256:ccc`},
		{"apt file sha256", `"sha256": "` + strings.Repeat("e", 64), `"sha256": "`, `apt file pool/stable/amd64/docker-ce.deb: sha256 ""`},
		{"apt key sha256", `"sha256": "` + strings.Repeat("f", 64), `"sha256": "` + strings.Repeat("F", 64), `apt key https://download.docker.com/linux/ubuntu/gpg: sha256 "FFFF`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !bytes.Contains(golden, []byte(tc.old)) {
				t.Fatalf("the golden lock has no %s", tc.old)
			}
			lock := bytes.Replace(golden, []byte(tc.old), []byte(tc.new), 1)
			p := filepath.Join(t.TempDir(), "base.json")
			if err := os.WriteFile(p, lock, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := bundle.ReadBase(p)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "sha256") {
				t.Errorf("reading a base lock: %v; want an error saying %q", err, tc.want)
			}
			if !errors.Is(err, bundle.ErrCorrupt) {
				t.Errorf("the error is not ErrCorrupt: %v", err)
			}
			_, err = bundle.Open(writeTemp(t, tarOf(t, [3]string{"oci-layout", "0", "{}"}, [3]string{"index.json", "0", "{}"}, [3]string{"paimirror.json", "0", string(lock)})))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("opening a bundle: %v; want an error saying %q", err, tc.want)
			}
		})
	}
}
