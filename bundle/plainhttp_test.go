package bundle

import (
	"errors"
	"net/http"
	"testing"
)

// dialled records the requests that reached the transport below.
type dialled []string

func (d *dialled) RoundTrip(req *http.Request) (*http.Response, error) {
	*d = append(*d, req.URL.String())
	return nil, errors.New("not dialled in this test")
}

func TestPlainHTTPMirrors(t *testing.T) {
	mirrors := []Mirror{
		{From: "docker.io", To: "http://127.0.0.1:5000"},
		{From: "quay.io", To: "http://Mirror.Lan:8080/quay"},
		{From: "gcr.io", To: "http://mirror.lan"},
		{From: "ghcr.io", To: "https://127.0.0.1:5443"},
		{From: "https://github.com", To: "http://files.lan:81/github"},
		{From: "https://dl.k8s.io", To: "http://user:secret@files.lan:82/k8s"},
	}
	for _, c := range []struct {
		url     string
		refused bool
	}{
		{"https://127.0.0.1:5000/v2/", true},
		{"http://127.0.0.1:5000/v2/", false},
		{"https://mirror.lan:8080/v2/", true},
		{"https://files.lan:81/github/x", true},
		{"https://files.lan:82/k8s/x", true},
		// No port: https is port 443, another service of that host.
		{"https://mirror.lan/v2/", false},
		{"https://127.0.0.1:5443/v2/", false},
		{"https://registry-1.docker.io/v2/", false},
	} {
		var d dialled
		req, err := http.NewRequest(http.MethodGet, c.url, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, err = withPlainHTTP(mirrors, &d).RoundTrip(req)
		if refused := len(d) == 0; refused != c.refused {
			t.Errorf("%s: refused %v, want %v (%v)", c.url, refused, c.refused, err)
		}
	}
	var d dialled
	if rt := withPlainHTTP([]Mirror{{From: "docker.io", To: "https://127.0.0.1:5000"}}, &d); rt != &d {
		t.Error("no http:// mirror, yet the transport is wrapped")
	}
}
