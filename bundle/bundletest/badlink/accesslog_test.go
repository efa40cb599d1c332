package badlink

import (
	"strings"
	"testing"
)

func TestParseAccessLine(t *testing.T) {
	blob := "/v2/x/y/blobs/sha256:ef269a86ef20c88647ff46cda60e254d9d8e88b14a547186052f347c74dc982e"
	tests := []struct {
		name string
		line string
		want AccessEntry
		ok   bool
	}{
		{
			// Lines as distribution's registry v3.1.2 writes them.
			name: "ranged blob get",
			line: `127.0.0.1 - - [07/Dec/2026:10:04:01 +0000] "GET ` + blob + ` HTTP/1.1" 206 3001027 "" "curl/7.88.1"`,
			want: AccessEntry{Method: "GET", URI: blob, Path: blob, Status: 206, Size: 3001027},
			ok:   true,
		},
		{
			name: "query",
			line: `127.0.0.1 - - [07/Dec/2026:10:03:57 +0000] "PUT /v2/x/y/blobs/uploads/01a2?_state=abc%3D%3D&digest=sha256%3Acf98 HTTP/1.1" 201 0 "" "crane/v0.22.1 go-containerregistry/v0.22.1"`,
			want: AccessEntry{Method: "PUT", URI: "/v2/x/y/blobs/uploads/01a2?_state=abc%3D%3D&digest=sha256%3Acf98", Path: "/v2/x/y/blobs/uploads/01a2", Status: 201, Size: 0},
			ok:   true,
		},
		{
			name: "head",
			line: `127.0.0.1 - - [07/Dec/2026:10:03:57 +0000] "HEAD /v2/x/y/manifests/1 HTTP/1.1" 404 95 "" "crane/v0.22.1 go-containerregistry/v0.22.1"`,
			want: AccessEntry{Method: "HEAD", URI: "/v2/x/y/manifests/1", Path: "/v2/x/y/manifests/1", Status: 404, Size: 95},
			ok:   true,
		},
		{
			name: "logrus line",
			line: `time="2026-12-07T10:03:57.333036313Z" level=error msg="response completed with error" http.response.status=404`,
		},
		{name: "empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseAccessLine(tt.line)
			if ok != tt.ok || got != tt.want {
				t.Errorf("parseAccessLine(%q) = %+v, %v; want %+v, %v", tt.line, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestAccessLogSplitsWrites(t *testing.T) {
	other := &tail{}
	l := newAccessLog(other)
	text := `127.0.0.1 - - [07/Dec/2026:10:04:01 +0000] "GET /v2/a/blobs/sha256:00 HTTP/1.1" 200 10 "" "x"` + "\n" +
		"some other line\n" +
		`127.0.0.1 - - [07/Dec/2026:10:04:01 +0000] "GET /v2/a/blobs/sha256:00 HTTP/1.1" 206 4 "" "x"` + "\n"
	// Byte by byte: lines arrive in pieces from the pipe.
	for i := range len(text) {
		l.Write([]byte{text[i]})
	}
	entries, _ := l.snapshot()
	if len(entries) != 2 || entries[0].Size != 10 || entries[1].Status != 206 {
		t.Errorf("entries = %+v", entries)
	}
	if got := other.String(); got != "some other line\n" {
		t.Errorf("other output = %q", got)
	}
}

func TestIsBlobPath(t *testing.T) {
	d := "sha256:" + strings.Repeat("ab", 32)
	for path, want := range map[string]bool{
		"/v2/x/blobs/" + d:          true,
		"/v2/x/y/z/blobs/" + d:      true,
		"/v2//blobs/" + d:           false,
		"/v2/blobs/" + d:            false,
		"/v2/x/manifests/" + d:      false,
		"/v2/x/blobs/" + d + "/foo": false,
	} {
		if got := isBlobPath(path, d); got != want {
			t.Errorf("isBlobPath(%q) = %v, want %v", path, got, want)
		}
	}
}

func TestTailKeepsTheEnd(t *testing.T) {
	var b tail
	b.Write([]byte(strings.Repeat("a", tailSize)))
	b.Write([]byte("end"))
	s := b.String()
	if len(s) != tailSize || !strings.HasSuffix(s, "aend") {
		t.Errorf("tail kept %d bytes ending %q", len(s), s[len(s)-4:])
	}
}
