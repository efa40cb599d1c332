package push_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/bundletest/badlink"
	"github.com/paimirror/paimirror/bundle/push"
	"github.com/paimirror/paimirror/manifests"
)

// threeImages share one base layer (bundletest gives every image the same
// base and one layer of its own), and one has an alias in another
// repository: mounts are exercised both ways.
const threeImages = `name: three
images:
  - ref: docker.io/library/busybox:1.31.1
  - ref: gcr.io/google-containers/kube-apiserver:v1.15.11
    aliases: [siaimes/kube-apiserver:v1.15.11]
  - ref: quay.io/coreos/etcd:v3.3.10
`

// threeBundle builds the three-image bundle once per test binary.
func threeBundle(t *testing.T) *bundle.Bundle {
	t.Helper()
	m, err := manifests.Parse("three.yaml", []byte(threeImages))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := bundletest.Build(t, m, bundletest.Options{LayerSize: 64 << 10})
	return b
}

// uniqueBlobs counts the distinct config and layer blobs of the bundle.
func uniqueBlobs(l *bundle.Lock) (n int, size int64) {
	seen := map[digest.Digest]bool{}
	for _, img := range l.Images {
		for _, bl := range img.Blobs() {
			if !seen[bl.Digest] {
				seen[bl.Digest] = true
				n++
				size += bl.Size
			}
		}
	}
	return n, size
}

// writes returns the requests of the access log that change the registry.
func writes(log []badlink.AccessEntry) (uploads, mounts, manifests, other int) {
	for _, e := range log {
		switch {
		case e.Method == http.MethodPost && strings.Contains(e.URI, "mount="):
			mounts++
		case e.Method == http.MethodPost:
			uploads++
		case e.Method == http.MethodPut && strings.Contains(e.Path, "/manifests/"):
			manifests++
		case e.Method == http.MethodPut, e.Method == http.MethodPatch, e.Method == http.MethodDelete:
			other++
		}
	}
	return
}

// dockerConfig writes a docker config.json holding reg's credentials and
// points DOCKER_CONFIG at it for the test.
func dockerConfig(t *testing.T, reg *badlink.Reg) string {
	t.Helper()
	dir := t.TempDir()
	auth := base64.StdEncoding.EncodeToString([]byte(reg.Username + ":" + reg.Password))
	data, _ := json.Marshal(map[string]any{"auths": map[string]any{reg.Host: map[string]string{"auth": auth}}})
	if err := os.WriteFile(filepath.Join(dir, "config.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DOCKER_CONFIG", dir)
	return dir
}

// TestPushIntoRegistryThenRerunSendsNothing pushes the demo bundle (the
// default manifest's images, random content under the real names) into
// distribution's registry with htpasswd and TLS under a project-like
// prefix, pulls every name back with crane, and pushes again.
func TestPushIntoRegistryThenRerunSendsNothing(t *testing.T) {
	b, _ := bundletest.Build(t, manifests.Default(), bundletest.Options{})
	reg := badlink.Registry(t, badlink.RegistryOptions{Htpasswd: true, TLS: true})
	dockerDir := dockerConfig(t, reg)
	target, err := push.ParseTarget(reg.Host+"/lab/openpai", false)
	if err != nil {
		t.Fatal(err)
	}
	var events []bundle.Event
	opts := push.Options{Transport: reg.Transport(), Jobs: 4, Progress: func(e bundle.Event) { events = append(events, e) }}

	dry := opts
	dry.DryRun = true
	plan, err := push.Push(t.Context(), b, target, dry)
	if err != nil {
		t.Fatal(err)
	}
	if up, mo, ma, ot := writes(reg.AccessLog()); up+mo+ma+ot != 0 {
		t.Fatalf("--dry-run wrote to the registry: %d uploads, %d mounts, %d manifests, %d other", up, mo, ma, ot)
	}
	nBlobs, size := uniqueBlobs(b.Lock)
	nImages, nNames := len(b.Lock.Images), 0
	for _, img := range b.Lock.Images {
		nNames += len(img.Names)
	}
	if plan.Uploaded != nBlobs || plan.UploadedBytes != size || plan.Images != nImages || plan.Pushed != nImages || plan.Manifests != nNames {
		t.Fatalf("plan = %+v, want %d blobs of %d bytes to upload, %d images, %d manifest names", plan, nBlobs, size, nImages, nNames)
	}

	res, err := push.Push(t.Context(), b, target, opts)
	if err != nil {
		t.Fatal(err)
	}
	if res.Uploaded != plan.Uploaded || res.UploadedBytes != plan.UploadedBytes || res.Mounted != plan.Mounted || res.Manifests != nNames || res.Pushed != nImages {
		t.Errorf("push = %+v, plan was %+v", res, plan)
	}
	if res.Mounted == 0 {
		t.Errorf("no blob was mounted, though the images share a base layer across repositories")
	}
	uploads, mounts, mans, other := writes(reg.AccessLog())
	if uploads != nBlobs || mounts != res.Mounted || mans != nNames || other != nBlobs {
		t.Errorf("registry saw %d upload POSTs, %d mount POSTs, %d manifest PUTs, %d blob PUTs; want %d, %d, %d, %d", uploads, mounts, mans, other, nBlobs, res.Mounted, nNames, nBlobs)
	}
	itemsDone := 0
	for _, e := range events {
		if e.Kind == bundle.EventItemDone {
			itemsDone++
		}
	}
	if itemsDone != nImages {
		t.Errorf("%d EventItemDone, want %d", itemsDone, nImages)
	}

	// Every name, pulled back with crane, is the image the lock pins.
	crane := bundletest.Tool(t, "crane")
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, reg.CAPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, img := range b.Lock.Images {
		for _, n := range img.Names {
			ref := reg.Host + "/lab/openpai/" + n
			env := append(os.Environ(), "SSL_CERT_FILE="+caFile, "DOCKER_CONFIG="+dockerDir)
			out, err := runTool(env, crane, "digest", ref)
			if err != nil {
				t.Fatalf("crane digest %s: %v\n%s", ref, err, out)
			}
			if got := strings.TrimSpace(out); got != string(img.Digest) {
				t.Errorf("%s: digest %s, the lock says %s", ref, got, img.Digest)
			}
			if out, err := runTool(env, crane, "validate", "--remote", ref); err != nil {
				t.Errorf("crane validate --remote %s: %v\n%s", ref, err, out)
			}
		}
	}

	before := len(reg.AccessLog())
	again, err := push.Push(t.Context(), b, target, opts)
	if err != nil {
		t.Fatal(err)
	}
	if again.Uploaded != 0 || again.Mounted != 0 || again.Manifests != 0 || again.Pushed != 0 || again.Images != nImages {
		t.Errorf("rerun = %+v, want nothing sent", again)
	}
	if up, mo, ma, ot := writes(reg.AccessLog()[before:]); up+mo+ma+ot != 0 {
		t.Errorf("rerun wrote to the registry: %d uploads, %d mounts, %d manifests, %d other", up, mo, ma, ot)
	}
}

func runTool(env []string, name string, args ...string) (string, error) {
	cmd := exec.Command(name, args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func TestPushExcludeGroup(t *testing.T) {
	m, err := manifests.Parse("grouped.yaml", []byte(`name: grouped
groups:
  - name: base
  - name: extra
    default: false
images:
  - ref: docker.io/library/busybox:1.31.1
    groups: [base]
  - ref: quay.io/coreos/etcd:v3.3.10
    groups: [extra]
`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := bundletest.Build(t, m, bundletest.Options{})
	reg := badlink.Registry(t, badlink.RegistryOptions{})
	target, err := push.ParseTarget(reg.Host, true)
	if err != nil {
		t.Fatal(err)
	}
	_, err = push.Push(t.Context(), b, target, push.Options{Auth: authn.Anonymous, Include: []string{"extra"}, DryRun: true})
	if err == nil || !strings.Contains(err.Error(), `group "extra"`) || !strings.Contains(err.Error(), "--include extra") {
		t.Fatalf("--include of a group the bundle lacks: %v", err)
	}
	res, err := push.Push(t.Context(), b, target, push.Options{Auth: authn.Anonymous, Exclude: []string{"base"}})
	if err == nil || res != nil {
		t.Fatalf("excluding the only group the bundle holds: %+v, %v", res, err)
	}
	_, err = push.Push(t.Context(), b, target, push.Options{Auth: authn.Anonymous, Exclude: []string{"nosuch"}})
	if !errors.Is(err, manifests.ErrUnknownGroup) {
		t.Fatalf("an unknown group: %v", err)
	}
}

func TestPushWrongPassword(t *testing.T) {
	b := threeBundle(t)
	reg := badlink.Registry(t, badlink.RegistryOptions{Htpasswd: true, TLS: true})
	target, _ := push.ParseTarget(reg.Host+"/lab", false)
	_, err := push.Push(t.Context(), b, target, push.Options{
		Auth: &authn.Basic{Username: reg.Username, Password: "wrong-" + reg.Password}, Username: reg.Username, Transport: reg.Transport(),
	})
	if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), "docker login") || !strings.Contains(err.Error(), reg.Username) {
		t.Fatalf("wrong password: %v", err)
	}
	if strings.Contains(err.Error(), reg.Password) {
		t.Fatalf("the error shows the password: %v", err)
	}
	if up, mo, ma, ot := writes(reg.AccessLog()); up+mo+ma+ot != 0 {
		t.Errorf("wrote with a wrong password: %d %d %d %d", up, mo, ma, ot)
	}
}

// harborFront stands in for Harbor's project layer in front of a real
// registry: a repository whose first path element is not a project gets
// 404 "project not found" on every request, and a project in readOnly
// refuses writes with 403 DENIED, as Harbor answers an account without
// push rights.
func harborFront(t *testing.T, reg *badlink.Reg, projects map[string]bool, readOnly map[string]bool) string {
	t.Helper()
	proxy := httputil.NewSingleHostReverseProxy(reg.URL)
	proxy.Transport = reg.Transport()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rest, ok := strings.CutPrefix(r.URL.Path, "/v2/"); ok && rest != "" {
			project, _, _ := strings.Cut(rest, "/")
			w.Header().Set("Content-Type", "application/json")
			if !projects[project] {
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprintf(w, `{"errors":[{"code":"NOT_FOUND","message":"project %s not found"}]}`, project)
				return
			}
			if readOnly[project] && r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.WriteHeader(http.StatusForbidden)
				fmt.Fprint(w, `{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`)
				return
			}
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestPushHarborProjectErrors(t *testing.T) {
	b := threeBundle(t)
	reg := badlink.Registry(t, badlink.RegistryOptions{})
	front := harborFront(t, reg, map[string]bool{"openpai": true, "frozen": true}, map[string]bool{"frozen": true})

	missing, _ := push.ParseTarget("http://"+front+"/nosuch/pai", false)
	_, err := push.Push(t.Context(), b, missing, push.Options{Auth: authn.Anonymous})
	if err == nil || !strings.Contains(err.Error(), `project "nosuch"`) || !strings.Contains(err.Error(), "New Project") {
		t.Fatalf("missing project: %v", err)
	}

	frozen, _ := push.ParseTarget("http://"+front+"/frozen", false)
	res, err := push.Push(t.Context(), b, frozen, push.Options{Auth: authn.Anonymous, Username: "robot$ci"})
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "robot$ci") || !strings.Contains(err.Error(), `project "frozen"`) {
		t.Fatalf("no push rights: %v", err)
	}
	if res != nil && res.Pushed != 0 {
		t.Fatalf("a refused push reports %d images pushed", res.Pushed)
	}

	ok, _ := push.ParseTarget("http://"+front+"/openpai", false)
	if _, err := push.Push(t.Context(), b, ok, push.Options{Auth: authn.Anonymous}); err != nil {
		t.Fatalf("the existing project: %v", err)
	}
}

func TestPushTLSErrors(t *testing.T) {
	b := threeBundle(t)
	reg := badlink.Registry(t, badlink.RegistryOptions{TLS: true})

	target, _ := push.ParseTarget(reg.Host, false)
	_, err := push.Push(t.Context(), b, target, push.Options{Auth: authn.Anonymous, Transport: &http.Transport{}})
	if err == nil || !strings.Contains(err.Error(), "--ca") {
		t.Fatalf("a CA this machine does not trust: %v", err)
	}

	plain := badlink.Registry(t, badlink.RegistryOptions{})
	target, _ = push.ParseTarget(plain.Host, false)
	_, err = push.Push(t.Context(), b, target, push.Options{Auth: authn.Anonymous})
	if err == nil || !strings.Contains(err.Error(), "--insecure") {
		t.Fatalf("a plain HTTP registry without --insecure: %v", err)
	}

	// A registry whose certificate expired yesterday, from a CA trusted here.
	caPEM, cert := expiredCert(t)
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	target, _ = push.ParseTarget(strings.TrimPrefix(srv.URL, "https://"), false)
	_, err = push.Push(t.Context(), b, target, push.Options{Auth: authn.Anonymous, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}})
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("an expired certificate: %v", err)
	}
}

// expiredCert returns a CA's PEM and a certificate for 127.0.0.1 it signed
// that expired a day ago.
func expiredCert(t *testing.T) ([]byte, tls.Certificate) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"}, NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in       string
		host     string
		prefix   string
		insecure bool
		bad      bool
	}{
		{in: "harbor.lab", host: "harbor.lab"},
		{in: "harbor.lab:8443/openpai", host: "harbor.lab:8443", prefix: "openpai"},
		{in: "https://harbor.lab/lab/openpai/", host: "harbor.lab", prefix: "lab/openpai"},
		{in: "http://127.0.0.1:5000/x", host: "127.0.0.1:5000", prefix: "x", insecure: true},
		{in: "harbor.lab/OpenPAI", bad: true},
		{in: "harbor.lab/a//b", bad: true},
		{in: "harbor.lab/../x", bad: true},
		{in: "user@harbor.lab", bad: true},
		{in: "", bad: true},
	} {
		got, err := push.ParseTarget(tc.in, false)
		if tc.bad {
			if err == nil {
				t.Errorf("ParseTarget(%q) = %+v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTarget(%q): %v", tc.in, err)
			continue
		}
		if got.Registry.RegistryStr() != tc.host || got.Prefix != tc.prefix || got.Insecure != tc.insecure {
			t.Errorf("ParseTarget(%q) = %s %q insecure=%v", tc.in, got.Registry.RegistryStr(), got.Prefix, got.Insecure)
		}
	}
}
