package bundle_test

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle"
)

// flipInLock changes one letter of the first string after marker (a JSON
// key with its opening bracket, as the lock is indented) inside
// paimirror.json, in place: the tar keeps its structure and sizes.
func flipInLock(t *testing.T, data []byte, marker string) []byte {
	t.Helper()
	start, size := memberData(t, data, bundle.LockName)
	lock := data[start : start+size]
	i := bytes.Index(lock, []byte(marker))
	if i < 0 {
		t.Fatalf("%q not in the lock", marker)
	}
	q := i + len(marker) + bytes.IndexByte(lock[i+len(marker):], '"') + 1
	for j := q; lock[j] != '"'; j++ {
		if c := lock[j]; c >= 'a' && c <= 'y' {
			out := bytes.Clone(data)
			out[start+int64(j)] = c + 1
			return out
		}
	}
	t.Fatalf("no letter to flip after %q", marker)
	return nil
}

// memberData returns where the data of the tar member name starts and its
// size.
func memberData(t *testing.T, data []byte, name string) (int64, int64) {
	t.Helper()
	cr := &countingReader{r: bytes.NewReader(data)}
	tr := tar.NewReader(cr)
	for {
		h, err := tr.Next()
		if err != nil {
			t.Fatalf("%s not in the tar: %v", name, err)
		}
		if h.Name == name {
			return cr.n, h.Size
		}
	}
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// withoutLockDigest rewrites a bundle as an older paimirror wrote it:
// index.json without the lock's digest.
func withoutLockDigest(t *testing.T, data []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	tr, tw := tar.NewReader(bytes.NewReader(data)), tar.NewWriter(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if h.Name == bundle.IndexName {
			var idx map[string]any
			if err := json.Unmarshal(body, &idx); err != nil {
				t.Fatal(err)
			}
			delete(idx, "annotations")
			if body, err = json.Marshal(idx); err != nil {
				t.Fatal(err)
			}
			h.Size = int64(len(body))
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(body)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

// TestVerifyLockDamage flips one byte of an image's mirror name and of a
// file's path inside paimirror.json: Open still accepts the bundle (no blob
// changed) but Verify reports the damage, with and without the lock's
// digest in index.json.
func TestVerifyLockDamage(t *testing.T) {
	good := smallBundle(t)
	old := withoutLockDigest(t, good)
	cases := []struct {
		name string
		data []byte
		want string // "" means intact
	}{
		{"intact", good, ""},
		{"intact, no lock digest (older paimirror)", old, ""},
		{"image name", flipInLock(t, good, `"names": [`), "paimirror.json"},
		{"file path", flipInLock(t, good, `"paths": [`), "paimirror.json"},
		{"image name, no lock digest", flipInLock(t, old, `"names": [`), "index.json"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := bundle.Open(writeTemp(t, c.data))
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			rep, err := b.Verify(context.Background(), bundle.VerifyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if c.want == "" {
				if !rep.OK() {
					t.Fatalf("intact bundle: %v", rep.Problems)
				}
				return
			}
			if rep.OK() {
				t.Fatal("verify passed a bundle whose lock was changed")
			}
			var msgs []string
			for _, p := range rep.Problems {
				msgs = append(msgs, p.String())
			}
			if all := strings.Join(msgs, "\n"); !strings.Contains(all, c.want) {
				t.Errorf("problems do not mention %s:\n%s", c.want, all)
			}
		})
	}
}
