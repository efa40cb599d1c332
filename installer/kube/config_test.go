package kube

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/paimirror/paimirror/installer/pai"
)

// testCert returns a self-signed PEM certificate and its PEM key.
func testCert(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

const secretToken = "s3cr3t-t0ken-never-shown"

// kubeconfigText builds a kubeconfig with one cluster, user and context;
// cluster and user are the indented fields of each.
func kubeconfigText(current, cluster, user string) string {
	return `apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster:
` + cluster + `
users:
- name: u1
  user:
` + user + `
contexts:
- name: ctx1
  context:
    cluster: c1
    user: u1
    namespace: pai
current-context: ` + current + "\n"
}

func TestLoadConfig(t *testing.T) {
	certPEM, keyPEM := testCert(t)
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	server := "    server: https://10.0.0.1:6443\n"
	caData := "    certificate-authority-data: " + b64(certPEM) + "\n"
	certData := "    client-certificate-data: " + b64(certPEM) + "\n    client-key-data: " + b64(keyPEM) + "\n"

	t.Run("client certificate data", func(t *testing.T) {
		path := writeKubeconfig(t, kubeconfigText("ctx1", server+caData, certData))
		cfg, err := LoadConfig(path, ConfigOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Server != "https://10.0.0.1:6443" || string(cfg.CAData) != string(certPEM) ||
			string(cfg.CertData) != string(certPEM) || string(cfg.KeyData) != string(keyPEM) ||
			cfg.Context != "ctx1" || cfg.Namespace != "pai" || cfg.Token != "" {
			t.Errorf("got %+v", cfg)
		}
		if _, err := New(cfg); err != nil {
			t.Errorf("New: %v", err)
		}
	})

	t.Run("files relative to the kubeconfig and a token file", func(t *testing.T) {
		dir := t.TempDir()
		for name, data := range map[string][]byte{"pki/ca.crt": certPEM, "pki/admin.crt": certPEM, "pki/admin.key": keyPEM, "token": []byte(secretToken + "\n")} {
			if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		text := kubeconfigText("ctx1", server+"    certificate-authority: pki/ca.crt\n",
			"    client-certificate: pki/admin.crt\n    client-key: "+filepath.Join(dir, "pki/admin.key")+"\n    tokenFile: token\n")
		path := filepath.Join(dir, "config")
		if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := LoadConfig(path, ConfigOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if string(cfg.CAData) != string(certPEM) || string(cfg.KeyData) != string(keyPEM) || cfg.Token != secretToken {
			t.Errorf("got %+v", cfg)
		}
		if s := cfg.String(); strings.Contains(s, secretToken) || !strings.Contains(s, "client certificate and token") {
			t.Errorf("String() = %q", s)
		}
	})

	tests := []struct {
		name    string
		text    string // kubeconfig contents; "" means no file at all
		opts    ConfigOptions
		wantErr string
		is      error
	}{
		{name: "missing file", wantErr: "reading kubeconfig: open ", is: fs.ErrNotExist},
		{name: "not yaml", text: "clusters: [", wantErr: "not a kubeconfig", is: ErrKubeconfig},
		{name: "no current context", text: kubeconfigText(`""`, server, "    token: "+secretToken), wantErr: "no current-context set and no context chosen", is: ErrKubeconfig},
		{name: "chosen context missing", text: kubeconfigText("ctx1", server, "    token: x"), opts: ConfigOptions{Context: "other"}, wantErr: `context "other" not found`, is: ErrKubeconfig},
		{name: "current context missing", text: kubeconfigText("gone", server, "    token: x"), wantErr: `context "gone" not found`, is: ErrKubeconfig},
		{name: "cluster missing", text: strings.Replace(kubeconfigText("ctx1", server, "    token: x"), "cluster: c1", "cluster: c2", 1), wantErr: `context "ctx1": cluster "c2" not found`, is: ErrKubeconfig},
		{name: "user missing", text: strings.Replace(kubeconfigText("ctx1", server, "    token: x"), "user: u1", "user: u2", 1), wantErr: `context "ctx1": user "u2" not found`, is: ErrKubeconfig},
		{name: "no server", text: kubeconfigText("ctx1", caData, "    token: x"), wantErr: `cluster "c1": no server`, is: ErrKubeconfig},
		{name: "server not a URL", text: kubeconfigText("ctx1", "    server: 10.0.0.1:6443\n", "    token: x"), wantErr: `server "10.0.0.1:6443" is not an http(s) URL`, is: ErrKubeconfig},
		{name: "bad base64 CA", text: kubeconfigText("ctx1", server+"    certificate-authority-data: not*base64\n", "    token: "+secretToken), wantErr: `cluster "c1": certificate-authority-data is not valid base64: illegal base64 data at input byte 3`, is: ErrKubeconfig},
		{name: "bad base64 key", text: kubeconfigText("ctx1", server, "    client-certificate-data: "+b64(certPEM)+"\n    client-key-data: abc!def"), wantErr: `user "u1": client-key-data is not valid base64`, is: ErrKubeconfig},
		{name: "CA not PEM", text: kubeconfigText("ctx1", server+"    certificate-authority-data: "+b64([]byte("hello"))+"\n", "    token: x"), wantErr: `cluster "c1": certificate-authority holds no PEM certificate`, is: ErrKubeconfig},
		{name: "CA file missing", text: kubeconfigText("ctx1", server+"    certificate-authority: nowhere/ca.crt\n", "    token: x"), wantErr: `cluster "c1": certificate-authority: open `, is: fs.ErrNotExist},
		{name: "certificate without key", text: kubeconfigText("ctx1", server, "    client-certificate-data: "+b64(certPEM)), wantErr: `user "u1": client certificate without client key`, is: ErrKubeconfig},
		{name: "key does not match", text: kubeconfigText("ctx1", server, "    client-certificate-data: "+b64(certPEM)+"\n    client-key-data: "+b64(certPEM)), wantErr: `user "u1": client certificate and key: tls:`, is: ErrKubeconfig},
		{name: "exec plugin", text: kubeconfigText("ctx1", server, "    exec:\n      command: aws"), wantErr: `user "u1": exec credential plugins are not supported`, is: ErrKubeconfig},
		{name: "basic auth", text: kubeconfigText("ctx1", server, "    username: admin\n    password: "+secretToken), wantErr: `user "u1": basic authentication is not supported`, is: ErrKubeconfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config")
			if tt.text != "" {
				path = writeKubeconfig(t, tt.text)
			}
			_, err := LoadConfig(path, tt.opts)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not contain %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("error %q is not %v", err, tt.is)
			}
			if strings.Contains(err.Error(), secretToken) {
				t.Errorf("error %q shows the secret", err)
			}
		})
	}
}

func writeKubeconfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDefaultKubeconfig(t *testing.T) {
	t.Setenv("HOME", "/home/pai")
	got, err := DefaultKubeconfig()
	if err != nil || got != "/home/pai/pai-deploy/kube/config" {
		t.Errorf("DefaultKubeconfig() = %q, %v", got, err)
	}
	// The path is pai's: where installer/pai says the quick-start leaves
	// the kubeconfig, under any home.
	home := t.TempDir()
	t.Setenv("HOME", home)
	want := filepath.Join(home, pai.DeployDir, filepath.FromSlash(pai.KubeconfigFile))
	if got, err := DefaultKubeconfig(); err != nil || got != want {
		t.Errorf("DefaultKubeconfig() = %q, %v; want %q, pai.KubeconfigFile in pai.DeployDir", got, err, want)
	}
}
