package bundle

import (
	"fmt"
	"net"
	"net/http"
	"strings"
)

// plainHTTP refuses https requests to a host:port that a mirror names
// after http://, without dialling: one port speaks one protocol.
// go-containerregistry pings a registry given as http:// over https
// first and falls back to http when that fails, which cost a connection
// and a TLS handshake per repository (and a round trip on a slow link).
// A mirror without a port is left alone: https on port 443 of its host is
// another service, which a redirect may name.
type plainHTTP struct {
	hosts map[string]bool // host[:port], lowercased
	rt    http.RoundTripper
}

// withPlainHTTP wraps rt so that the host:port of mirrors given as
// http:// is never tried over TLS; rt itself when there are none.
func withPlainHTTP(mirrors []Mirror, rt http.RoundTripper) http.RoundTripper {
	hosts := map[string]bool{}
	for _, m := range mirrors {
		if !strings.HasPrefix(m.To, "http://") {
			continue
		}
		host := m.Host()
		if _, port, err := net.SplitHostPort(host); err == nil && port != "" {
			hosts[host] = true
		}
	}
	if len(hosts) == 0 {
		return rt
	}
	return &plainHTTP{hosts: hosts, rt: rt}
}

func (p *plainHTTP) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "https" && p.hosts[strings.ToLower(req.URL.Host)] {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("%s is a plain HTTP mirror (given as http://): not tried over https", req.URL.Host)
	}
	return p.rt.RoundTrip(req)
}
