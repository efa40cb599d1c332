package fileserver

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
)

// ParseAdvertise reads what the nodes reach the mirror at, as paimirror
// serve's --advertise takes it: "HOST:PORT", or a URL "http://HOST[:PORT]"
// or "https://HOST[:PORT]" with no path but "/", no query, fragment or user.
// It returns the HOST:PORT the snippets need (WithAdvertise; a URL without a
// port gets its scheme's, 80 or 443) and the URL's scheme, "" for a bare
// HOST:PORT (WithScheme). HOST is an IP address or a DNS name.
func ParseAdvertise(s string) (hostport, scheme string, err error) {
	bad := func(why string) error {
		return fmt.Errorf("advertised address %q: %s; give HOST:PORT (e.g. 192.168.1.10:5000) or a URL (e.g. http://mirror.example:5000)", s, why)
	}
	if s == "" {
		return "", "", bad("empty")
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r > 0x7e {
			return "", "", bad("contains a space, control or non-ASCII character")
		}
	}
	host, port := "", ""
	if strings.Contains(s, "://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", "", bad("not a URL")
		}
		scheme = strings.ToLower(u.Scheme)
		switch {
		case scheme != "http" && scheme != "https":
			return "", "", bad("the scheme must be http or https")
		case u.User != nil:
			return "", "", bad("a user name or password has no place here")
		case u.Path != "" && u.Path != "/", u.RawPath != "", u.Opaque != "":
			return "", "", bad("the mirror is served at the root: no path")
		case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(s, "?#"):
			return "", "", bad("no query or fragment")
		}
		host, port = u.Hostname(), u.Port()
		if port == "" {
			if strings.HasSuffix(u.Host, ":") {
				return "", "", bad("the port is empty")
			}
			port = "80"
			if scheme == "https" {
				port = "443"
			}
		}
	} else {
		if strings.ContainsAny(s, "/?#@") {
			return "", "", bad("not HOST:PORT")
		}
		if host, port, err = net.SplitHostPort(s); err != nil {
			return "", "", bad("not HOST:PORT")
		}
	}
	if n, err := strconv.ParseUint(port, 10, 16); err != nil || n == 0 || strings.HasPrefix(port, "+") {
		return "", "", bad("the port must be a number from 1 to 65535")
	}
	if !validHost(host) {
		return "", "", bad("the host must be an IP address or a DNS name")
	}
	return net.JoinHostPort(host, port), scheme, nil
}

// validHost reports whether h is an IP address or a DNS name (letters,
// digits, '-' and '_' in dot-separated labels).
func validHost(h string) bool {
	if h == "" {
		return false
	}
	if ip := net.ParseIP(h); ip != nil {
		return true
	}
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range label {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}
