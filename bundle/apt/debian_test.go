package apt_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle/apt"
	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
)

const (
	// debianKeyring is debian-archive-keyring's key for bookworm's
	// automatically signed suites, a binary keyring.
	debianKeyring = "/usr/share/keyrings/debian-archive-bookworm-automatic.gpg"
	// debianKeyFingerprint is its primary key ("Debian Archive Automatic
	// Signing Key (12/bookworm)"), which signs with a subkey.
	debianKeyFingerprint = "B8B8 0B5B 623E AB6A D877  5C45 B7C5 D7D6 3509 47F8"
)

// TestDebianArchive mirrors the metadata of Debian's bookworm-updates
// main/amd64 (tens of KiB: its Packages.xz and Translation-en.xz are
// each under 10 KiB) from deb.debian.org, checked against the key
// debian-archive-keyring installs, and downloads the .debs of the
// smallest package whose closure stays inside that index, each checked
// against the size and sha256 the index lists.
func TestDebianArchive(t *testing.T) {
	if testing.Short() {
		t.Skip("talks to deb.debian.org; not with -short")
	}
	keyring, err := os.ReadFile(debianKeyring)
	if err != nil {
		testenv.Need(t, "no Debian archive key: %v; install debian-archive-keyring", err)
	}
	testenv.Reach(t, "deb.debian.org:80")

	key, err := apt.NewKey(keyring, debianKeyFingerprint)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	opts := apt.FetchOptions{Client: &http.Client{Timeout: time.Minute}}
	src := apt.Source{URL: "http://deb.debian.org/debian", Suite: "bookworm-updates", Components: []string{"main"}, Architectures: []string{"amd64"}, Key: key}
	md, err := apt.FetchMetadata(ctx, src, opts)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, f := range md.Files {
		kept = append(kept, f.Path)
		if f.SHA256 != sum(f.Data) {
			t.Errorf("%s: SHA256 is not that of Data", f.Path)
		}
		name, ok := strings.CutPrefix(f.Path, "dists/bookworm-updates/")
		if want, listed := md.Release.SHA256[name]; ok && listed && (want.SHA256 != f.SHA256 || want.Size != int64(len(f.Data))) {
			t.Errorf("%s: not what the Release lists", f.Path)
		}
	}
	t.Logf("kept %s", strings.Join(kept, ", "))
	// The Release lists Packages and Translation-en uncompressed, but
	// the archive has only the .xz of each.
	for _, want := range []string{
		"dists/bookworm-updates/InRelease",
		"dists/bookworm-updates/main/binary-amd64/Packages.xz",
		"dists/bookworm-updates/main/i18n/Translation-en.xz",
	} {
		if !slices.Contains(kept, want) {
			t.Errorf("%s not kept", want)
		}
	}
	if md.Release.Codename != "bookworm-updates" || !md.Release.AcquireByHash {
		t.Errorf("release: codename %q, Acquire-By-Hash %v", md.Release.Codename, md.Release.AcquireByHash)
	}
	if len(md.Indexes) != 1 || len(md.Indexes[0].Packages) == 0 {
		t.Fatalf("indexes: %v", md.Indexes)
	}
	idx := md.Indexes[0]

	// Take what the index relies on from elsewhere (libc6 and the like,
	// in bookworm main) as installed, and pick the package whose closure
	// is smallest.
	var outside []string
	for _, p := range idx.Packages {
		deps, err := p.Dependencies(false)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range deps {
			for _, r := range d {
				if len(idx.Lookup(r.Name)) == 0 && len(idx.Providers(r.Name)) == 0 && !slices.Contains(outside, r.Name) {
					outside = append(outside, r.Name)
				}
			}
		}
	}
	var best *apt.Resolution
	var bestSize int64
	for _, p := range idx.Packages {
		res, err := apt.Resolve(md.Indexes, []string{p.Name + "=" + p.Version}, apt.ResolveOptions{Installed: outside})
		if err != nil {
			continue
		}
		var size int64
		for _, q := range res.Packages {
			size += q.Size
		}
		if best == nil || size < bestSize {
			best, bestSize = res, size
		}
	}
	if best == nil {
		t.Fatal("no package of the index resolves")
	}
	// Each .deb is the one the index lists.
	for _, p := range best.Packages {
		u := src.URL + "/" + p.Filename
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := opts.Client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s, %v", u, resp.Status, err)
		}
		if int64(len(data)) != p.Size || sum(data) != p.SHA256 {
			t.Errorf("%s: %d bytes, sha256 %s; the index lists %d, %s", u, len(data), sum(data), p.Size, p.SHA256)
		}
		t.Logf("fetched %s (%d bytes)", u, len(data))
	}
}
