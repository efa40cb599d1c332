package bundletest

import (
	"context"
	"net"
	"net/http"
)

// LoopbackTransport returns an HTTP transport that connects only to
// loopback IP addresses. Any other host fails at once with a *net.DNSError,
// as a blocked or absent internet would, and nothing leaves the machine.
func LoopbackTransport() *http.Transport {
	d := &net.Dialer{}
	return &http.Transport{
		Proxy: nil,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return nil, err
			}
			if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
				return nil, &net.OpError{Op: "dial", Net: network, Err: &net.DNSError{Err: "no such host (tests reach loopback only)", Name: host, IsNotFound: true}}
			}
			return d.DialContext(ctx, network, addr)
		},
		MaxIdleConnsPerHost: 16,
	}
}
