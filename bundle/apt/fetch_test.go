package apt_test

import (
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/clearsign"
	"github.com/ulikunitz/xz"

	"github.com/paimirror/paimirror/bundle/apt"
)

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func xzed(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	signerOnce sync.Once
	signerEnt  *openpgp.Entity
	signerKey  []byte
	signerFpr  string
)

// testSigner is one throwaway key shared by the tests of this file.
func testSigner(t *testing.T) (*openpgp.Entity, *apt.Key) {
	t.Helper()
	signerOnce.Do(func() { signerEnt, signerKey, signerFpr = newKey(t) })
	key, err := apt.NewKey(signerKey, signerFpr)
	if err != nil {
		t.Fatal(err)
	}
	return signerEnt, key
}

// releaseText is a Release for suite "test" listing each of listed (path
// → the bytes whose size and sha256 it gives), sorted by path.
func releaseText(listed map[string][]byte, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Origin: paimirror\nSuite: %s\nCodename: %s\nArchitectures: amd64\nComponents: main\n%sSHA256:\n", suite, suite, extra)
	for _, p := range slices.Sorted(maps.Keys(listed)) {
		fmt.Fprintf(&b, " %s %d %s\n", sum(listed[p]), len(listed[p]), p)
	}
	return b.String()
}

func clearsigned(t *testing.T, signer *openpgp.Entity, text string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := clearsign.Encode(&buf, signer.PrivateKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w, text)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func detachSigned(t *testing.T, signer *openpgp.Entity, text string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := openpgp.ArmoredDetachSign(&buf, signer, strings.NewReader(text), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// serveSuite serves files (path under dists/test/ → bytes) and answers
// 404 for anything else.
func serveSuite(t *testing.T, files map[string][]byte) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[strings.TrimPrefix(r.URL.Path, "/dists/"+suite+"/")]
		if !ok || !strings.HasPrefix(r.URL.Path, "/dists/"+suite+"/") {
			http.NotFound(w, r)
			return
		}
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

const (
	pkgPath = "main/binary-amd64/Packages"
	trPath  = "main/i18n/Translation-en"
)

func TestFetchMetadataVariants(t *testing.T) {
	signer, key := testSigner(t)
	plain := readTestdata(t, "Packages")
	bz2 := readTestdata(t, "Packages.bz2")
	gz, xzd := gzipped(t, plain), xzed(t, plain)
	other := []byte("Package: other\nVersion: 1\n")
	tr := []byte("Package: hello\nDescription-md5: 0123\nDescription-en: hello\n")
	opaque := []byte("bytes this package cannot decompress, kept by their sha256")
	tests := []struct {
		name string
		// listed are the files the Release lists; served, where given,
		// replace what the server answers for those paths (nil: 404).
		listed, served map[string][]byte
		wantFiles      []string // kept, after InRelease
		wantIndex      string
		wantErr        error
		wantPath       string // the *ChecksumError's
		wantStatus     int    // the *HTTPError's
	}{
		{name: "xz only", listed: map[string][]byte{pkgPath + ".xz": xzd},
			wantFiles: []string{pkgPath + ".xz"}, wantIndex: pkgPath + ".xz"},
		{name: "debian: plain listed, xz served", listed: map[string][]byte{pkgPath: plain, pkgPath + ".xz": xzd, trPath: tr, trPath + ".xz": xzed(t, tr)},
			served:    map[string][]byte{pkgPath: nil, trPath: nil},
			wantFiles: []string{pkgPath + ".xz", trPath + ".xz"}, wantIndex: pkgPath + ".xz"},
		{name: "ubuntu: plain, gz and xz", listed: map[string][]byte{pkgPath: plain, pkgPath + ".gz": gz, pkgPath + ".xz": xzd},
			wantFiles: []string{pkgPath + ".gz", pkgPath + ".xz"}, wantIndex: pkgPath + ".gz"},
		{name: "docker: plain, gz and bz2", listed: map[string][]byte{pkgPath: plain, pkgPath + ".gz": gz, pkgPath + ".bz2": bz2},
			wantFiles: []string{pkgPath + ".gz", pkgPath + ".bz2"}, wantIndex: pkgPath + ".gz"},
		{name: "bz2 only", listed: map[string][]byte{pkgPath + ".bz2": bz2, trPath + ".bz2": bz2},
			wantFiles: []string{pkgPath + ".bz2", trPath + ".bz2"}, wantIndex: pkgPath + ".bz2"},
		{name: "xz and bz2", listed: map[string][]byte{pkgPath + ".bz2": bz2, pkgPath + ".xz": xzd},
			wantFiles: []string{pkgPath + ".xz", pkgPath + ".bz2"}, wantIndex: pkgPath + ".xz"},
		{name: "plain only", listed: map[string][]byte{pkgPath: plain, trPath: tr},
			wantFiles: []string{pkgPath, trPath}, wantIndex: pkgPath},
		{name: "zstd kept unread beside plain", listed: map[string][]byte{pkgPath: plain, pkgPath + ".zst": opaque},
			wantFiles: []string{pkgPath + ".zst", pkgPath}, wantIndex: pkgPath},
		{name: "lz4 kept unread beside xz", listed: map[string][]byte{pkgPath: plain, pkgPath + ".xz": xzd, pkgPath + ".lz4": opaque},
			wantFiles: []string{pkgPath + ".xz", pkgPath + ".lz4"}, wantIndex: pkgPath + ".xz"},
		{name: "translation listed, not served", listed: map[string][]byte{pkgPath + ".gz": gz, trPath + ".xz": xzed(t, tr)},
			served:    map[string][]byte{trPath + ".xz": nil},
			wantFiles: []string{pkgPath + ".gz"}, wantIndex: pkgPath + ".gz"},
		{name: "zstd only", listed: map[string][]byte{pkgPath + ".zst": opaque}, wantErr: apt.ErrUnsupported},
		{name: "no packages index", listed: map[string][]byte{trPath + ".xz": xzed(t, tr)}, wantErr: apt.ErrNotListed},
		{name: "xz mismatch", listed: map[string][]byte{pkgPath + ".xz": xzd},
			served: map[string][]byte{pkgPath + ".xz": xzed(t, other)}, wantErr: apt.ErrChecksum, wantPath: pkgPath + ".xz"},
		{name: "bz2 mismatch beside a good gz", listed: map[string][]byte{pkgPath + ".gz": gz, pkgPath + ".bz2": bz2},
			served: map[string][]byte{pkgPath + ".bz2": append(slices.Clone(bz2), 0)}, wantErr: apt.ErrChecksum, wantPath: pkgPath + ".bz2"},
		{name: "unreadable variant mismatch", listed: map[string][]byte{pkgPath + ".gz": gz, pkgPath + ".zst": opaque},
			served: map[string][]byte{pkgPath + ".zst": []byte("tampered")}, wantErr: apt.ErrChecksum, wantPath: pkgPath + ".zst"},
		{name: "translation mismatch", listed: map[string][]byte{pkgPath + ".gz": gz, trPath + ".xz": xzed(t, tr)},
			served: map[string][]byte{trPath + ".xz": xzed(t, other)}, wantErr: apt.ErrChecksum, wantPath: trPath + ".xz"},
		{name: "listed index not served", listed: map[string][]byte{pkgPath + ".gz": gz, pkgPath + ".xz": xzd},
			served: map[string][]byte{pkgPath + ".xz": nil}, wantStatus: http.StatusNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := maps.Clone(tc.listed)
			for p, b := range tc.served {
				if b == nil {
					delete(files, p)
				} else {
					files[p] = b
				}
			}
			files["InRelease"] = clearsigned(t, signer, releaseText(tc.listed, ""))
			srv := serveSuite(t, files)
			md, err := apt.FetchMetadata(context.Background(), apt.Source{URL: srv.URL, Suite: suite, Key: key}, apt.FetchOptions{})
			if tc.wantStatus != 0 {
				var he *apt.HTTPError
				if !errors.As(err, &he) || he.Status != tc.wantStatus {
					t.Fatalf("err = %v, want HTTP %d", err, tc.wantStatus)
				}
				return
			}
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				if tc.wantPath != "" {
					var ce *apt.ChecksumError
					if !errors.As(err, &ce) || ce.Path != tc.wantPath || ce.Source != srv.URL+"/dists/"+suite+"/"+tc.wantPath {
						t.Fatalf("err = %#v, want a ChecksumError for %s", err, tc.wantPath)
					}
					if !strings.Contains(err.Error(), tc.wantPath) {
						t.Errorf("%q does not name %s", err, tc.wantPath)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range md.Files {
				got = append(got, f.Path)
				if f.SHA256 != sum(f.Data) {
					t.Errorf("%s: SHA256 %s is not that of Data", f.Path, f.SHA256)
				}
				if name, ok := strings.CutPrefix(f.Path, "dists/"+suite+"/"); !ok || !bytes.Equal(f.Data, files[name]) {
					t.Errorf("%s: not the upstream bytes at dists/%s/", f.Path, suite)
				}
			}
			want := []string{"dists/test/InRelease"}
			for _, p := range tc.wantFiles {
				want = append(want, "dists/test/"+p)
			}
			if !slices.Equal(got, want) {
				t.Errorf("kept %v, want %v", got, want)
			}
			if len(md.Indexes) != 1 || md.Indexes[0].Path != tc.wantIndex {
				t.Fatalf("indexes %v, want one from %s", md.Indexes, tc.wantIndex)
			}
			if ps := md.Indexes[0].Lookup("hello"); len(ps) != 1 || ps[0].Version != "2.10-3" || len(md.Indexes[0].Packages) != 2 {
				t.Errorf("index %s: hello = %v, %d packages", tc.wantIndex, ps, len(md.Indexes[0].Packages))
			}
		})
	}
}

// TestFetchMetadataReleaseFiles checks which of InRelease, Release and
// Release.gpg are kept.
func TestFetchMetadataReleaseFiles(t *testing.T) {
	signer, key := testSigner(t)
	gz := gzipped(t, readTestdata(t, "Packages"))
	listed := map[string][]byte{pkgPath + ".gz": gz}
	rel := releaseText(listed, "")
	stale := releaseText(map[string][]byte{pkgPath + ".gz": gzipped(t, []byte("Package: old\nVersion: 1\n"))}, "")
	tests := []struct {
		name  string
		files map[string][]byte
		want  []string
	}{
		{"all three", map[string][]byte{"InRelease": clearsigned(t, signer, rel), "Release": []byte(rel), "Release.gpg": detachSigned(t, signer, rel)},
			[]string{"InRelease", "Release", "Release.gpg"}},
		{"InRelease only", map[string][]byte{"InRelease": clearsigned(t, signer, rel)}, []string{"InRelease"}},
		{"Release and Release.gpg", map[string][]byte{"Release": []byte(rel), "Release.gpg": detachSigned(t, signer, rel)}, []string{"Release", "Release.gpg"}},
		{"Release without Release.gpg beside InRelease", map[string][]byte{"InRelease": clearsigned(t, signer, rel), "Release": []byte(rel)}, []string{"InRelease"}},
		{"stale Release beside InRelease", map[string][]byte{"InRelease": clearsigned(t, signer, rel), "Release": []byte(stale), "Release.gpg": detachSigned(t, signer, stale)},
			[]string{"InRelease"}},
		{"Release.gpg not matching beside InRelease", map[string][]byte{"InRelease": clearsigned(t, signer, rel), "Release": []byte(rel), "Release.gpg": detachSigned(t, signer, stale)},
			[]string{"InRelease"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := maps.Clone(tc.files)
			files[pkgPath+".gz"] = gz
			srv := serveSuite(t, files)
			md, err := apt.FetchMetadata(context.Background(), apt.Source{URL: srv.URL, Suite: suite, Key: key}, apt.FetchOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range md.Files {
				got = append(got, f.Path)
			}
			var want []string
			for _, p := range append(slices.Clone(tc.want), pkgPath+".gz") {
				want = append(want, "dists/"+suite+"/"+p)
			}
			if !slices.Equal(got, want) {
				t.Errorf("kept %v, want %v", got, want)
			}
		})
	}
}

// TestFetchMetadataTooLarge checks the limit on decompressed size with
// indexes that expand far beyond their compressed size.
func TestFetchMetadataTooLarge(t *testing.T) {
	signer, key := testSigner(t)
	const limit = 64 << 10
	// paragraphs, so a cut at the limit lands inside one
	bomb := bytes.Repeat([]byte("Package: a\nVersion: 1\nDescription: x\n\n"), 8*limit/38)
	for _, tc := range []struct {
		ext  string
		data []byte
	}{
		{".gz", gzipped(t, bomb)},
		{".xz", xzed(t, bomb)},
		{".bz2", readTestdata(t, "bomb-512KiB.bz2")}, // bzip2 -9 of the same
		{"", bomb},
	} {
		t.Run("Packages"+tc.ext, func(t *testing.T) {
			if tc.ext == ".bz2" {
				if b, err := io.ReadAll(bzip2.NewReader(bytes.NewReader(tc.data))); err != nil || !bytes.Equal(b, bomb) {
					t.Fatalf("testdata/bomb-512KiB.bz2 does not hold the bomb (%v)", err)
				}
			}
			listed := map[string][]byte{pkgPath + tc.ext: tc.data}
			files := maps.Clone(listed)
			files["InRelease"] = clearsigned(t, signer, releaseText(listed, ""))
			srv := serveSuite(t, files)
			src := apt.Source{URL: srv.URL, Suite: suite, Key: key}
			_, err := apt.FetchMetadata(context.Background(), src, apt.FetchOptions{MaxIndexSize: limit})
			if tc.ext == "" {
				// an uncompressed index is bounded by its listed size
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, apt.ErrTooLarge) || !strings.Contains(err.Error(), pkgPath+tc.ext) {
				t.Fatalf("err = %v, want ErrTooLarge naming %s", err, pkgPath+tc.ext)
			}
			if _, err := apt.FetchMetadata(context.Background(), src, apt.FetchOptions{}); err != nil {
				t.Errorf("under the default limit: %v", err)
			}
		})
	}
	t.Run("InRelease", func(t *testing.T) {
		files := map[string][]byte{"InRelease": bytes.Repeat([]byte("x"), 2*limit)}
		srv := serveSuite(t, files)
		_, err := apt.FetchMetadata(context.Background(), apt.Source{URL: srv.URL, Suite: suite, Key: key}, apt.FetchOptions{MaxIndexSize: limit})
		if !errors.Is(err, apt.ErrTooLarge) {
			t.Fatalf("err = %v, want ErrTooLarge", err)
		}
	})
}

func TestOpenIndexCompressions(t *testing.T) {
	plain := readTestdata(t, "Packages")
	for _, tc := range []struct {
		ext     string
		data    []byte
		wantErr error
	}{
		{"", plain, nil},
		{".gz", gzipped(t, plain), nil},
		{".xz", xzed(t, plain), nil},
		{".bz2", readTestdata(t, "Packages.bz2"), nil},
		{".zst", []byte("zstd bytes"), apt.ErrUnsupported},
		{".lzma", []byte("lzma bytes"), apt.ErrUnsupported},
	} {
		t.Run("Packages"+tc.ext, func(t *testing.T) {
			name := pkgPath + tc.ext
			rel, err := apt.ParseRelease([]byte(releaseText(map[string][]byte{name: tc.data}, "")))
			if err != nil {
				t.Fatal(err)
			}
			idx, err := apt.OpenIndex(rel, name, tc.data, "test")
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if idx.Path != name || len(idx.Packages) != 2 || idx.Packages[1].Name != "libc6" {
				t.Errorf("index %s: %d packages", idx.Path, len(idx.Packages))
			}
			bad := append(slices.Clone(tc.data), '\n')
			var ce *apt.ChecksumError
			if _, err := apt.OpenIndex(rel, name, bad, "test"); !errors.As(err, &ce) || ce.Path != name {
				t.Errorf("changed bytes: err = %v, want a ChecksumError for %s", err, name)
			}
		})
	}
}
