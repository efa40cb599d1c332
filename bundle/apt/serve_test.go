package apt_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/paimirror/paimirror/bundle/apt"
)

func TestRepositoryPaths(t *testing.T) {
	st := &store{blobs: map[string][]byte{}}
	rel := st.put([]byte("Suite: x\n"))
	pk := st.put([]byte("gz bytes"))
	deb := st.put([]byte("deb bytes"))
	h, err := apt.NewRepository([]apt.File{
		{Path: "dists/x/Release", SHA256: rel},
		{Path: "dists/x/main/binary-amd64/Packages.gz", SHA256: pk},
		{Path: "pool/main/a/a/a_1_all.deb", SHA256: deb},
	}, st.open, apt.WithPrefix("/ubuntu"))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	defer srv.Close()
	tests := []struct {
		path, body string
		status     int
	}{
		{"/ubuntu/dists/x/Release", "Suite: x\n", 200},
		{"/ubuntu/dists/x/main/binary-amd64/Packages.gz", "gz bytes", 200},
		{"/ubuntu/dists/x/main/binary-amd64/by-hash/SHA256/" + pk, "gz bytes", 200},
		{"/ubuntu/pool/main/a/a/a_1_all.deb", "deb bytes", 200},
		{"/ubuntu/pool/main/a/a/../a/a_1_all.deb", "", 404},
		{"/ubuntu/pool/main/a/a/%2e%2e/a/a_1_all.deb", "", 404},
		{"/dists/x/Release", "", 404},
		{"/ubuntu/dists/x/InRelease", "", 404},
		{"/ubuntu/", "", 404},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, srv.URL+tc.path, nil)
			req.URL.Opaque = tc.path // send the path as written
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tc.status || (tc.status == 200 && string(b) != tc.body) {
				t.Errorf("GET %s = %d %q, want %d %q", tc.path, resp.StatusCode, b, tc.status, tc.body)
			}
		})
	}
	if _, err := apt.NewRepository([]apt.File{{Path: "../etc/passwd", SHA256: rel}}, st.open); err == nil {
		t.Error("NewRepository accepted ../etc/passwd")
	}
}

func TestRepositoryHeaders(t *testing.T) {
	st := &store{blobs: map[string][]byte{}}
	xzSum := st.put([]byte("xz bytes"))
	files := []apt.File{
		{Path: "dists/x/InRelease", SHA256: st.put([]byte("signed"))},
		{Path: "dists/x/main/binary-amd64/Packages.xz", SHA256: xzSum},
		{Path: "dists/x/main/binary-amd64/Packages.bz2", SHA256: st.put([]byte("bz2 bytes"))},
		{Path: "dists/x/main/i18n/Translation-en", SHA256: st.put([]byte("tr"))},
		{Path: "pool/main/a/a/a_1_all.deb", SHA256: st.put([]byte("deb bytes"))},
	}
	h, err := apt.NewRepository(files, st.open)
	if err != nil {
		t.Fatal(err)
	}
	const short, long = "max-age=300", "public, max-age=31536000, immutable"
	for _, tc := range []struct{ path, ctype, cache string }{
		{"/dists/x/InRelease", "text/plain; charset=utf-8", short},
		{"/dists/x/main/binary-amd64/Packages.xz", "application/x-xz", short},
		{"/dists/x/main/binary-amd64/Packages.bz2", "application/x-bzip2", short},
		{"/dists/x/main/binary-amd64/by-hash/SHA256/" + xzSum, "application/octet-stream", long},
		{"/dists/x/main/i18n/Translation-en", "text/plain; charset=utf-8", short},
		{"/pool/main/a/a/a_1_all.deb", "application/vnd.debian.binary-package", long},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tc.path, nil))
		if rec.Code != 200 || rec.Header().Get("Content-Type") != tc.ctype || rec.Header().Get("Cache-Control") != tc.cache || rec.Header().Get("Content-Encoding") != "" {
			t.Errorf("GET %s: %d, headers %v; want %s, %s", tc.path, rec.Code, rec.Header(), tc.ctype, tc.cache)
		}
	}
}
