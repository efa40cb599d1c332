package fileserver

import (
	"strings"
	"testing"
)

func TestParseAdvertise(t *testing.T) {
	for _, tc := range []struct {
		name, in         string
		hostport, scheme string
		err              string // part of the error; "" for none
	}{
		{"hostport", "127.0.0.10:5000", "127.0.0.10:5000", "", ""},
		{"name", "mirror.example:5000", "mirror.example:5000", "", ""},
		{"ipv6", "[::1]:5000", "[::1]:5000", "", ""},
		{"http URL", "http://127.0.0.10:5000", "127.0.0.10:5000", "http", ""},
		{"http URL with slash", "http://127.0.0.10:5000/", "127.0.0.10:5000", "http", ""},
		{"https URL", "https://mirror.example:8443", "mirror.example:8443", "https", ""},
		{"upper-case scheme", "HTTP://127.0.0.10:5000", "127.0.0.10:5000", "http", ""},
		{"http default port", "http://127.0.0.10", "127.0.0.10:80", "http", ""},
		{"https default port", "https://mirror.example/", "mirror.example:443", "https", ""},
		{"ipv6 URL", "http://[::1]:5000", "[::1]:5000", "http", ""},
		{"empty", "", "", "", "empty"},
		{"host only", "127.0.0.10", "", "", "not HOST:PORT"},
		{"doubled scheme", "http://http://127.0.0.10:5000", "", "", "no path"},
		{"ftp", "ftp://127.0.0.10:21", "", "", "http or https"},
		{"path", "http://127.0.0.10:5000/mirror", "", "", "no path"},
		{"query", "http://127.0.0.10:5000/?a=b", "", "", "no query"},
		{"bare query", "http://127.0.0.10:5000?", "", "", "no query"},
		{"fragment", "http://127.0.0.10:5000#x", "", "", "no query or fragment"},
		{"user", "http://u:p@127.0.0.10:5000", "", "", "user name"},
		{"empty port", "http://127.0.0.10:", "", "", "port is empty"},
		{"bad port", "127.0.0.10:http", "", "", "port must be"},
		{"port 0", "127.0.0.10:0", "", "", "port must be"},
		{"big port", "127.0.0.10:70000", "", "", "port must be"},
		{"path no scheme", "127.0.0.10:5000/x", "", "", "not HOST:PORT"},
		{"space", "127.0.0.10:5000 x", "", "", "space"},
		{"shell", "$(id):5000", "", "", "IP address or a DNS name"},
		{"quote", `a"b:5000`, "", "", "IP address or a DNS name"},
		{"empty host", ":5000", "", "", "IP address or a DNS name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hp, scheme, err := ParseAdvertise(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseAdvertise(%q) = %q, %q, %v; want an error with %q", tc.in, hp, scheme, err, tc.err)
				}
				return
			}
			if err != nil || hp != tc.hostport || scheme != tc.scheme {
				t.Fatalf("ParseAdvertise(%q) = %q, %q, %v; want %q, %q", tc.in, hp, scheme, err, tc.hostport, tc.scheme)
			}
		})
	}
}
