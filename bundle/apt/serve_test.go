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
