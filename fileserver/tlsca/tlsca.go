package tlsca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Certs is what the directory holds: a CA made once, and a server
// certificate it signed for every name the server is reached by.
type Certs struct {
	// CAPEM is the CA certificate, PEM, as the nodes are to trust it.
	CAPEM []byte
	// Server is the server certificate with its key, for tls.Config.
	Server tls.Certificate
}

// Lives of what --tls-dir makes. The CA lives two years: long enough to
// install a cluster and run it through its upgrades without touching the
// nodes' trust, short enough that a copied ca.key stops mattering; its
// name constraints limit it to this mirror's names meanwhile. The server
// certificate ends with its CA (its key sits beside the CA's, so a shorter
// life would protect nothing) and is reissued at start-up when it has less
// than renewBefore left and the CA outlives it.
const (
	caLife      = 2 * 365 * 24 * time.Hour
	serverLife  = 2 * 365 * 24 * time.Hour
	renewBefore = 30 * 24 * time.Hour
	// caWarnBefore is when serve starts warning that the CA ends.
	caWarnBefore = 60 * 24 * time.Hour
)

// Ensure loads the CA and server certificate from dir (created 0700 if
// missing), creating the CA once and (re)issuing the server certificate when it is missing, expiring
// within 30 days, or does not cover hosts. A new CA may sign only for hosts
// (X.509 name constraints: the DNS names, and each IP address alone) and
// no intermediate CA. A CA made by an older paimirror, which has no
// constraints, is reused; log gets a warning then, when ca.key is readable
// by others, and for hosts the CA cannot sign for (they are left out of
// the server certificate). It costs a few file reads, and one or two P-256
// key generations when it writes. dir holds ca.crt, ca.key, server.crt and
// server.key; the keys are written readable by their owner only. Errors
// and warnings name serve's --tls-dir, the flag that sets dir.
func Ensure(dir string, hosts []string, log *slog.Logger) (*Certs, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("--tls-dir: %w", err)
	}
	caCertPath, caKeyPath := filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key")
	srvCertPath, srvKeyPath := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	regenerate := fmt.Sprintf("remove %s and %s, restart serve, then run 'paimirror install' again so the nodes trust the new CA", caCertPath, caKeyPath)

	ca, caKey, err := loadPair(caCertPath, caKeyPath)
	if errors.Is(err, os.ErrNotExist) {
		ca, caKey, err = issue(nil, nil, "paimirror CA", hosts, time.Now().Add(caLife), caCertPath, caKeyPath)
	}
	if err != nil {
		return nil, fmt.Errorf("--tls-dir CA: %w", err)
	}
	if st, err := os.Stat(caKeyPath); err == nil && runtime.GOOS != "windows" && st.Mode().Perm()&0o077 != 0 {
		log.Warn(fmt.Sprintf("--tls-dir: %s is open to group or others (mode %04o), who could sign certificates the nodes trust: chmod 600 %s", caKeyPath, st.Mode().Perm(), caKeyPath))
	}
	switch left := time.Until(ca.NotAfter); {
	case left <= 0:
		return nil, fmt.Errorf("--tls-dir CA %s expired on %s; %s", caCertPath, ca.NotAfter.Format(time.DateOnly), regenerate)
	case left < caWarnBefore:
		log.Warn(fmt.Sprintf("--tls-dir: the CA %s expires on %s; before then %s", caCertPath, ca.NotAfter.Format(time.DateOnly), regenerate))
	}
	if !constrained(ca) {
		log.Warn(fmt.Sprintf("--tls-dir: the CA %s was made by an older paimirror and can sign for any name (no name constraints); to replace it with one limited to this mirror, %s", caCertPath, regenerate))
	}
	var outside []string
	hosts = slices.DeleteFunc(slices.Clone(hosts), func(h string) bool {
		if permits(ca, h) {
			return false
		}
		outside = append(outside, h)
		return true
	})
	if len(outside) > 0 {
		log.Warn(fmt.Sprintf("--tls-dir: the CA %s may not sign for %s, so the server certificate leaves them out; to include them, %s", caCertPath, strings.Join(outside, ", "), regenerate))
	}

	srv, _, err := loadPair(srvCertPath, srvKeyPath)
	if err != nil || !covers(srv, hosts) || srv.CheckSignatureFrom(ca) != nil ||
		(time.Until(srv.NotAfter) < renewBefore && srv.NotAfter.Before(ca.NotAfter)) {
		notAfter := time.Now().Add(serverLife)
		if ca.NotAfter.Before(notAfter) {
			notAfter = ca.NotAfter
		}
		if _, _, err := issue(ca, caKey, "paimirror", hosts, notAfter, srvCertPath, srvKeyPath); err != nil {
			return nil, fmt.Errorf("--tls-dir server certificate: %w", err)
		}
	}
	pair, err := tls.LoadX509KeyPair(srvCertPath, srvKeyPath)
	if err != nil {
		return nil, err
	}
	caPEM, err := os.ReadFile(caCertPath)
	if err != nil {
		return nil, err
	}
	return &Certs{CAPEM: caPEM, Server: pair}, nil
}

// constrained reports whether a CA carries name constraints.
func constrained(ca *x509.Certificate) bool {
	return len(ca.PermittedDNSDomains) > 0 || len(ca.PermittedIPRanges) > 0
}

// permits reports whether ca's name constraints allow a certificate for
// host, as a verifier applies them: an IP address must lie in a permitted
// range, a DNS name must be a permitted domain or under one.
func permits(ca *x509.Certificate, host string) bool {
	if !constrained(ca) {
		return true
	}
	if ip := net.ParseIP(host); ip != nil {
		return slices.ContainsFunc(ca.PermittedIPRanges, func(r *net.IPNet) bool { return r.Contains(ip) })
	}
	return validDNSName(host) && slices.ContainsFunc(ca.PermittedDNSDomains, func(d string) bool {
		return strings.EqualFold(host, d) || (len(host) > len(d) && strings.EqualFold(host[len(host)-len(d)-1:], "."+d))
	})
}

// validDNSName reports whether s can stand in a name constraint: ASCII
// labels of letters, digits, '-' and '_', none empty or longer than 63.
func validDNSName(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, l := range strings.Split(s, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for _, c := range l {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// nameConstraints limits a CA to hosts: each DNS name (and, as X.509 has
// it, the names under it) and each IP address as a /32 or /128, marked
// critical so that a verifier that cannot apply them refuses the CA.
func nameConstraints(tmpl *x509.Certificate, hosts []string) error {
	for _, h := range hosts {
		switch ip := net.ParseIP(h); {
		case ip == nil:
			if validDNSName(h) {
				tmpl.PermittedDNSDomains = append(tmpl.PermittedDNSDomains, h)
			}
		case ip.To4() != nil:
			tmpl.PermittedIPRanges = append(tmpl.PermittedIPRanges, &net.IPNet{IP: ip.To4(), Mask: net.CIDRMask(32, 32)})
		default:
			tmpl.PermittedIPRanges = append(tmpl.PermittedIPRanges, &net.IPNet{IP: ip.To16(), Mask: net.CIDRMask(128, 128)})
		}
	}
	// An empty list would leave that kind of name unconstrained.
	if len(tmpl.PermittedDNSDomains) == 0 || len(tmpl.PermittedIPRanges) == 0 {
		return fmt.Errorf("a CA needs at least one DNS name and one IP address to be limited to, got %q", hosts)
	}
	tmpl.PermittedDNSDomainsCritical = true
	return nil
}

func loadPair(certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil {
		return nil, nil, fmt.Errorf("%s or %s is not PEM", certPath, keyPath)
	}
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// issue creates a key and a certificate valid until notAfter for hosts (a
// CA limited to them when parent is nil) and writes both, the key readable
// by its owner only.
func issue(parent *x509.Certificate, parentKey *ecdsa.PrivateKey, cn string, hosts []string, notAfter time.Time, certPath, keyPath string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"paimirror"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     notAfter,
	}
	signer, signerKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.MaxPathLen, tmpl.MaxPathLenZero = 0, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
		if err := nameConstraints(tmpl, hosts); err != nil {
			return nil, nil, err
		}
	} else {
		signer, signerKey = parent, parentKey
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return nil, nil, err
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return cert, key, err
}

func covers(c *x509.Certificate, hosts []string) bool {
	for _, h := range hosts {
		if c.VerifyHostname(h) != nil {
			return false
		}
	}
	return true
}

// Hosts lists the names a server listening on addr and advertised as
// advertise (both HOST:PORT; either may be empty) is reached by: their
// hosts, localhost, this machine's name and addresses, sorted, each once.
func Hosts(addr, advertise string) []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	for _, a := range []string{addr, advertise} {
		if h, _, err := net.SplitHostPort(a); err == nil && h != "" && h != "0.0.0.0" && h != "::" {
			hosts = append(hosts, h)
		}
	}
	if name, err := os.Hostname(); err == nil {
		hosts = append(hosts, name)
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok {
				hosts = append(hosts, n.IP.String())
			}
		}
	}
	slices.Sort(hosts)
	return slices.Compact(hosts)
}
