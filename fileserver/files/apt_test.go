package files_test

import (
	"bytes"
	"io"
	neturl "net/url"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/fileserver/files"
)

// TestAptPaths fetches, with the real curl, every kind of path an apt
// client asks the mirror for: the signed metadata byte for byte, an index
// by its by-hash name, a .deb (one whose Filename holds an epoch's "%3a",
// as Docker's do, when there is one) and a signing key at its URL's path;
// and checks that nothing else under a repository answers.
func TestAptPaths(t *testing.T) {
	tb := defaultBundle(t)
	_, addr := start(t, files.Options{})
	la := tb.b.Lock.Apt
	if la == nil || len(la.Repositories) == 0 {
		t.Fatal("the default bundle has no apt repositories")
	}
	blob := func(sha string) []byte {
		t.Helper()
		r, err := tb.b.Blob(digest.NewDigestFromEncoded(digest.SHA256, sha))
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		return data
	}
	get := func(p string, want []byte) {
		t.Helper()
		u := (&neturl.URL{Path: p}).EscapedPath()
		resp := curl(t, "http://"+addr+u)
		if resp.code != 200 || !bytes.Equal(resp.body, want) {
			t.Errorf("GET %s: HTTP %d, %d bytes; want 200 and the %d stored bytes", u, resp.code, len(resp.body), len(want))
		}
	}
	epoch := false
	for _, r := range la.Repositories {
		for _, f := range r.Files {
			switch {
			case strings.HasSuffix(f.Path, "/InRelease"), strings.HasSuffix(f.Path, "/Packages.xz"):
				get(r.Prefix+"/"+f.Path, blob(f.SHA256))
				if strings.HasSuffix(f.Path, ".xz") {
					dir := f.Path[:strings.LastIndex(f.Path, "/")]
					get(r.Prefix+"/"+dir+"/by-hash/SHA256/"+f.SHA256, blob(f.SHA256))
				}
			case strings.Contains(f.Path, "%3a") && !epoch:
				epoch = true
				get(r.Prefix+"/"+f.Path, blob(f.SHA256))
			}
		}
	}
	if !epoch {
		t.Log("no .deb with an epoch in its Filename in this bundle")
	}
	for _, k := range la.Keys {
		get(k.Path, blob(k.SHA256))
	}
	r := la.Repositories[0]
	for _, p := range []string{
		r.Prefix + "/dists/",
		r.Prefix + "/dists/" + r.Suites[0] + "/../" + r.Suites[0] + "/InRelease",
		r.Prefix + "/dists/" + r.Suites[0] + "/main/binary-amd64/by-hash/SHA256/" + strings.Repeat("0", 64),
		r.Prefix + "/pool/main/n/nothing/nothing_1_amd64.deb",
	} {
		if resp := curl(t, "--path-as-is", "http://"+addr+p); resp.code != 404 {
			t.Errorf("GET %s: HTTP %d, want 404", p, resp.code)
		}
	}
	page := curl(t, "http://"+addr+"/")
	for _, want := range []string{"Apt repositories", "deb [arch=amd64] http://" + addr + r.Prefix + " " + r.Suites[0] + " "} {
		if !strings.Contains(string(page.body), want) {
			t.Errorf("the index page lacks %q", want)
		}
	}
}
