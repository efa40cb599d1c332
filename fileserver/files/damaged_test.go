package files_test

import (
	"bytes"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/fileserver/files"
)

// TestDamagedFileIsRefused serves a bundle with one byte flipped inside a
// file: curl gets a 500 that says to run paimirror verify, never the
// wrong bytes, whole or ranged; the log names the file. The other file
// is whole and served, and recorded as good, so it is not hashed again.
func TestDamagedFileIsRefused(t *testing.T) {
	small := bundletest.SmallBundle(t)
	bad, good := small.Bundle.Lock.Files[0], small.Bundle.Lock.Files[1]
	b := bundletest.Damage(t, small.Copy(t), bad.Digest())
	var logged bytes.Buffer
	s := files.New(b, files.Options{Logger: slog.New(slog.NewTextHandler(&logged, nil))})
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	addr := strings.TrimPrefix(ts.URL, "http://")

	for _, args := range [][]string{{}, {"-r", "10-"}, {"-r", "0-99"}} {
		r := curl(t, append(args, url(addr, bad.Paths[0]))...)
		if r.code != 500 || !strings.Contains(string(r.body), "paimirror verify") {
			t.Errorf("GET %v of a damaged file: %d, %d bytes", args, r.code, len(r.body))
		}
		if bytes.Contains(r.body, small.FileData[bad.URL][:64]) {
			t.Errorf("GET %v of a damaged file sent its bytes", args)
		}
	}
	if !strings.Contains(logged.String(), "level=ERROR") || !strings.Contains(logged.String(), bad.Name) {
		t.Errorf("the log does not name the damaged file %s:\n%s", bad.Name, logged.String())
	}
	if b.Good(bad.Digest()) {
		t.Error("the damaged file is recorded as good")
	}
	if b.Good(good.Digest()) {
		t.Fatal("the whole file is good before it was ever served")
	}
	for range 2 {
		r := curl(t, url(addr, good.Paths[0]))
		if r.code != 200 || sha256Hex(r.body) != good.SHA256 {
			t.Fatalf("GET of a whole file: %d, sha256 %s", r.code, sha256Hex(r.body))
		}
		if !b.Good(good.Digest()) {
			t.Error("a whole file served is not recorded as good: it would be hashed again")
		}
	}
}
