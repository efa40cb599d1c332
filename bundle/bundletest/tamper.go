package bundletest

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/paimirror/paimirror/bundle"
)

// Tamper does to the bundle at path what an attacker who can write it
// would, so that a plain Verify finds nothing wrong: it swaps the content
// of the lock's first file for other bytes of the same size (the file a
// node would download and run), renames its blob member to the new
// digest, writes the new sha256 into paimirror.json and the new lock's
// sha256 into index.json's AnnotationLockSHA256. Every other member,
// signature members included, is kept as it was, in order. It returns
// the file's URL. For test bundles: it reads the whole tar into memory.
func Tamper(path string) (string, error) {
	b, err := bundle.Open(path)
	if err != nil {
		return "", err
	}
	if len(b.Lock.Files) == 0 {
		b.Close()
		return "", fmt.Errorf("tamper: %s has no file to swap", path)
	}
	f := b.Lock.Files[0]
	b.Close()

	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	type member struct {
		hdr  *tar.Header
		data []byte
	}
	var members []member
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", err
		}
		body, err := io.ReadAll(tr)
		if err != nil {
			return "", err
		}
		members = append(members, member{h, body})
	}
	evil := bytes.Repeat([]byte("#!/bin/sh\necho owned\n"), int(f.Size)/21+1)[:f.Size]
	sum := sha256.Sum256(evil)
	newHex := hex.EncodeToString(sum[:])
	if newHex == f.SHA256 {
		return "", fmt.Errorf("tamper: the file already holds the swapped bytes")
	}
	var lock []byte
	for i := range members {
		m := &members[i]
		switch m.hdr.Name {
		case "blobs/sha256/" + f.SHA256:
			m.hdr.Name, m.data = "blobs/sha256/"+newHex, evil
		case bundle.LockName:
			m.data = []byte(strings.ReplaceAll(string(m.data), f.SHA256, newHex))
			lock = m.data
		}
	}
	lockSum := sha256.Sum256(lock)
	for i := range members {
		m := &members[i]
		if m.hdr.Name != bundle.IndexName {
			continue
		}
		var idx map[string]any
		if err := json.Unmarshal(m.data, &idx); err != nil {
			return "", err
		}
		idx["annotations"].(map[string]any)[bundle.AnnotationLockSHA256] = hex.EncodeToString(lockSum[:])
		if m.data, err = json.MarshalIndent(idx, "", "  "); err != nil {
			return "", err
		}
	}
	var out bytes.Buffer
	tw := tar.NewWriter(&out)
	for _, m := range members {
		m.hdr.Size = int64(len(m.data))
		if err := tw.WriteHeader(m.hdr); err != nil {
			return "", err
		}
		if _, err := tw.Write(m.data); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	return f.URL, os.WriteFile(path, out.Bytes(), 0o644)
}
