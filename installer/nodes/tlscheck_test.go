package nodes

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

// tlsPair makes a CA and a server certificate it signs for ip.
func tlsPair(t *testing.T, ip string) (*tls.Config, []byte) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "paimirror test mirror CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: ip},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP(ip)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{leafDER}, PrivateKey: key}}}
	return cfg, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

// TestPreflightTLSMirror: preflight's mirror check verifies a TLS mirror
// against the CA prepare is about to install (sent on standard input),
// not with curl -k: the right CA passes, another CA fails.
func TestPreflightTLSMirror(t *testing.T) {
	cfg, ca := tlsPair(t, hostSideIP)
	_, otherCA := tlsPair(t, hostSideIP)
	mirror := startMirror(t, cfg)
	n := newNode(t, nodeSpec{hostname: "pai-worker1"})
	keys, _ := openKeys(t)
	for _, tc := range []struct {
		name string
		ca   []byte
		ok   bool
	}{{"the mirror's CA", ca, true}, {"another CA", otherCA, false}} {
		t.Run(tc.name, func(t *testing.T) {
			tab, err := Preflight(context.Background(), []Node{n.node(Worker)}, testAuth(), keys,
				PreflightOptions{Mirror: Mirror{Addr: mirror.addr, TLS: true, CA: tc.ca}})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range tab.Results {
				if r.Check != CheckMirror {
					continue
				}
				if (r.Status == Pass) != tc.ok {
					t.Errorf("mirror check: %v %s", r.Status, r.Detail)
				}
				if !tc.ok && !strings.Contains(r.Detail, "does not answer") {
					t.Errorf("detail %q", r.Detail)
				}
			}
		})
	}
}
