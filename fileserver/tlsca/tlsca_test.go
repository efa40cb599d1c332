package tlsca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func testLogger(buf *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(buf, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// signLeaf makes a server certificate for names with the CA in dir, as
// anyone holding ca.key could.
func signLeaf(t *testing.T, dir string, names ...string) *x509.Certificate {
	t.Helper()
	ca, caKey, err := loadPair(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "ca.key"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: names[0]},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(data)
	if blk == nil {
		t.Fatalf("%s is not PEM", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func verifyAgainst(ca, leaf *x509.Certificate, host string) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	return err
}

// TestTLSDirCAConstrained: the CA --tls-dir makes can sign only for the
// mirror's own names and addresses, cannot make intermediates, and lives
// two years; the server certificate it issues verifies, one for github.com
// signed with the same key does not.
func TestTLSDirCAConstrained(t *testing.T) {
	dir := t.TempDir()
	hosts := []string{"127.0.0.10", "127.0.0.1", "::1", "localhost", "mirror.lab"}
	var log bytes.Buffer
	if _, err := Ensure(dir, hosts, testLogger(&log)); err != nil {
		t.Fatal(err)
	}
	if log.Len() > 0 {
		t.Errorf("warnings for a fresh CA: %s", log.String())
	}
	ca := readCert(t, filepath.Join(dir, "ca.crt"))
	if !ca.IsCA || ca.MaxPathLen != 0 || !ca.MaxPathLenZero {
		t.Errorf("CA: IsCA %v, MaxPathLen %d, MaxPathLenZero %v; want a CA with path length 0", ca.IsCA, ca.MaxPathLen, ca.MaxPathLenZero)
	}
	if !ca.PermittedDNSDomainsCritical {
		t.Error("the name constraints are not critical")
	}
	if want := []string{"localhost", "mirror.lab"}; !slices.Equal(ca.PermittedDNSDomains, want) {
		t.Errorf("permitted DNS domains %q, want %q", ca.PermittedDNSDomains, want)
	}
	var ranges []string
	for _, r := range ca.PermittedIPRanges {
		ranges = append(ranges, r.String())
	}
	if want := []string{"127.0.0.10/32", "127.0.0.1/32", "::1/128"}; !slices.Equal(ranges, want) {
		t.Errorf("permitted IP ranges %q, want %q", ranges, want)
	}
	if life := ca.NotAfter.Sub(ca.NotBefore); life > 2*365*24*time.Hour+2*time.Hour {
		t.Errorf("the CA lives %v, want about 2 years", life)
	}

	srv := readCert(t, filepath.Join(dir, "server.crt"))
	if srv.NotAfter.After(ca.NotAfter) {
		t.Errorf("the server certificate ends %v, after its CA (%v)", srv.NotAfter, ca.NotAfter)
	}
	for _, h := range hosts {
		if err := verifyAgainst(ca, srv, h); err != nil {
			t.Errorf("server certificate for %s: %v", h, err)
		}
	}
	for _, names := range [][]string{{"github.com"}, {"mirror.lab", "github.com"}, {"8.8.8.8"}, {"127.0.0.11"}} {
		leaf := signLeaf(t, dir, names...)
		if err := verifyAgainst(ca, leaf, names[len(names)-1]); err == nil {
			t.Errorf("a certificate for %v signed by the --tls-dir CA verifies", names)
		}
	}
}

// TestTLSDirCAKeyMode: a ca.key others can read gets a one-line warning
// saying how to fix it.
func TestTLSDirCAKeyMode(t *testing.T) {
	dir := t.TempDir()
	hosts := []string{"127.0.0.1", "localhost"}
	if _, err := Ensure(dir, hosts, testLogger(new(bytes.Buffer))); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mode os.FileMode
		warn bool
	}{{0o600, false}, {0o644, true}, {0o640, true}} {
		if err := os.Chmod(filepath.Join(dir, "ca.key"), c.mode); err != nil {
			t.Fatal(err)
		}
		var log bytes.Buffer
		if _, err := Ensure(dir, hosts, testLogger(&log)); err != nil {
			t.Fatal(err)
		}
		got := log.String()
		if !c.warn {
			if got != "" {
				t.Errorf("mode %o: unexpected warning %s", c.mode, got)
			}
			continue
		}
		if strings.Count(got, "\n") != 1 || !strings.Contains(got, "ca.key") || !strings.Contains(got, "chmod 600") {
			t.Errorf("mode %o: want one warning line naming ca.key and chmod 600, got %q", c.mode, got)
		}
	}
}

// TestTLSDirOldCA: a CA made by an older paimirror (no name constraints,
// ten years) is reused, with a warning that says how to replace it.
func TestTLSDirOldCA(t *testing.T) {
	dir := t.TempDir()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "paimirror CA", Organization: []string{"paimirror"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	os.WriteFile(filepath.Join(dir, "ca.crt"), caPEM, 0o644)
	os.WriteFile(filepath.Join(dir, "ca.key"), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)

	var log bytes.Buffer
	certs, err := Ensure(dir, []string{"127.0.0.1", "localhost"}, testLogger(&log))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(certs.CAPEM, caPEM) {
		t.Error("the old CA was replaced; nodes that trust it would break")
	}
	if got := log.String(); strings.Count(got, "\n") != 1 || !strings.Contains(got, "any name") || !strings.Contains(got, "remove") {
		t.Errorf("want one warning that the CA is unconstrained and how to replace it, got %q", got)
	}
	ca := readCert(t, filepath.Join(dir, "ca.crt"))
	if err := verifyAgainst(ca, readCert(t, filepath.Join(dir, "server.crt")), "127.0.0.1"); err != nil {
		t.Errorf("server certificate from the old CA: %v", err)
	}
}
