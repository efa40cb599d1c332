// Package kubetest runs a real Kubernetes control plane for tests: Debian's
// etcd, and kube-apiserver and kube-controller-manager v1.32 built from the
// Go module proxy by .ci/kube-binaries.sh, each a process of its own on
// loopback ports in a test's temp dir, killed by PID when the test ends.
//
// The API server serves TLS with a certificate made for the test, accepts
// static tokens and client certificates (an admin in system:masters and an
// unprivileged user) and authorizes with RBAC. The controller manager runs
// only the persistent-volume binder, so claims bind to matching volumes and
// nothing else changes objects behind a test's back: there is no scheduler,
// no kubelet and no node lifecycle controller, so nodes and pods keep the
// status a test writes.
//
// The binaries are looked for in $PAIMIRROR_CACHE/kube-v1.32.13 (default
// the user cache dir's paimirror/kube-v1.32.13); when they or etcd are
// missing the test is skipped, or fails where PAIMIRROR_REQUIRE_TOOLS is set
// (testenv.RequireEnv, as .ci/run sets it).
package kubetest

import (
	"bytes"
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
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
)

// Version is the Kubernetes version of the binaries .ci/kube-binaries.sh
// builds.
const Version = "v1.32.13"

// Binaries returns the paths of kube-apiserver, kube-controller-manager and
// etcd: the first two built into BinDir by .ci/kube-binaries.sh, etcd on
// PATH (Debian's etcd-server). When one is missing (or is not an
// executable file) the test is skipped, or fails where testenv.RequireEnv
// is set, saying what provides it. It costs a few stat calls.
func Binaries(t testing.TB) (apiserver, controllerManager, etcd string) {
	t.Helper()
	built := func(name string) string {
		t.Helper()
		return testenv.Find(t, testenv.Program{
			What:       name + " " + Version,
			Candidates: []string{filepath.Join(BinDir(), name)},
			Provider:   ".ci/kube-binaries.sh builds it (about 6 minutes)",
		})
	}
	apiserver, controllerManager = built("kube-apiserver"), built("kube-controller-manager")
	etcd = testenv.Find(t, testenv.Program{What: "etcd", Name: "etcd", Provider: "Debian's etcd-server has it; .ci/run installs it"})
	return apiserver, controllerManager, etcd
}

// BinDir is where .ci/kube-binaries.sh puts the binaries:
// testenv.CacheDir()/kube-v1.32.13, that is $PAIMIRROR_CACHE/kube-v1.32.13,
// PAIMIRROR_CACHE defaulting to the user cache dir's paimirror/.
func BinDir() string {
	return filepath.Join(testenv.CacheDir(), "kube-"+Version)
}

// Options tunes Start.
type Options struct {
	// NoControllerManager starts no kube-controller-manager, so claims
	// never bind. Default false: the persistent-volume binder runs.
	NoControllerManager bool
}

// Cluster is a running control plane.
type Cluster struct {
	// URL is the API server's https URL on 127.0.0.1.
	URL string
	// CA is the PEM certificate of the CA that signed the API server's
	// serving certificate and the client certificate.
	CA []byte
	// AdminToken is a static token of user "admin" in system:masters;
	// UserToken one of user "nobody", authenticated but allowed nothing.
	AdminToken, UserToken string
	// ClientCert and ClientKey are a PEM client certificate and key of
	// user "admin" in system:masters.
	ClientCert, ClientKey []byte
	// Dir holds the certificates, kubeconfigs, etcd's data and each
	// process's log (etcd.log, kube-apiserver.log,
	// kube-controller-manager.log).
	Dir string

	admin *http.Client
}

// Start starts etcd, kube-apiserver and (unless opts says not to)
// kube-controller-manager, waits until the API server is ready, and stops
// them all when the test ends. It takes about 5 seconds.
func Start(t testing.TB, opts Options) *Cluster {
	t.Helper()
	apiserver, controllerManager, etcd := Binaries(t)
	dir := t.TempDir()
	c := &Cluster{Dir: dir, AdminToken: randomToken(t), UserToken: randomToken(t)}
	pki := newPKI(t, dir)
	c.CA, c.ClientCert, c.ClientKey = pki.caPEM, pki.clientCert, pki.clientKey
	tokens := fmt.Sprintf("%s,admin,uid-admin,\"system:masters\"\n%s,nobody,uid-nobody\n", c.AdminToken, c.UserToken)
	writeFile(t, filepath.Join(dir, "tokens.csv"), []byte(tokens))

	// etcd
	var etcdURL string
	startServer(t, dir, "etcd", etcd, 2, func(p []int) []string {
		etcdURL = fmt.Sprintf("http://127.0.0.1:%d", p[0])
		peer := fmt.Sprintf("http://127.0.0.1:%d", p[1])
		return []string{
			"--name=test", "--data-dir=" + filepath.Join(dir, "etcd"),
			"--listen-client-urls=" + etcdURL, "--advertise-client-urls=" + etcdURL,
			"--listen-peer-urls=" + peer, "--initial-advertise-peer-urls=" + peer,
			"--initial-cluster=test=" + peer,
			"--logger=zap", "--log-outputs=stderr",
		}
	}, func(p []int) bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/health", p[0]))
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == http.StatusOK && bytes.Contains(b, []byte(`"true"`))
	})

	// kube-apiserver
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.CA)
	c.admin = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	startServer(t, dir, "kube-apiserver", apiserver, 1, func(p []int) []string {
		c.URL = fmt.Sprintf("https://127.0.0.1:%d", p[0])
		return []string{
			"--etcd-servers=" + etcdURL,
			"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=" + strconv.Itoa(p[0]),
			"--cert-dir=" + filepath.Join(dir, "apiserver-certs"),
			"--tls-cert-file=" + pki.servingCertFile, "--tls-private-key-file=" + pki.servingKeyFile,
			"--client-ca-file=" + pki.caFile,
			"--token-auth-file=" + filepath.Join(dir, "tokens.csv"),
			"--authorization-mode=RBAC",
			"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
			"--service-account-key-file=" + pki.saKeyFile, "--service-account-signing-key-file=" + pki.saKeyFile,
			"--service-cluster-ip-range=10.96.0.0/24",
			// No service-account controller runs, so the admission plugin
			// would refuse every pod for lack of a "default" account.
			"--disable-admission-plugins=ServiceAccount",
			"--enable-priority-and-fairness=false", "--profiling=false",
		}
	}, func([]int) bool {
		req, _ := http.NewRequest(http.MethodGet, c.URL+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+c.AdminToken)
		resp, err := c.admin.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	// The "default" namespace is created by a controller inside the API
	// server shortly after it is ready.
	waitFor(t, "namespace default", 30*time.Second, func() bool {
		code, _ := c.do(http.MethodGet, "/api/v1/namespaces/default", "", nil)
		return code == http.StatusOK
	})

	if opts.NoControllerManager {
		return c
	}
	kubeconfig := c.Kubeconfig(t, AuthToken)
	startServer(t, dir, "kube-controller-manager", controllerManager, 1, func(p []int) []string {
		return []string{
			"--kubeconfig=" + kubeconfig,
			"--controllers=persistentvolume-binder-controller",
			"--leader-elect=false",
			"--use-service-account-credentials=false",
			"--bind-address=127.0.0.1", "--secure-port=" + strconv.Itoa(p[0]),
			"--cert-dir=" + filepath.Join(dir, "controller-manager-certs"),
			// The binder retries pending claims this often (default 15s).
			"--pvclaimbinder-sync-period=1s",
			"--v=2",
		}
	}, func(p []int) bool {
		insecure := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
		resp, err := insecure.Get(fmt.Sprintf("https://127.0.0.1:%d/healthz", p[0]))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return c
}

// Auth chooses how a kubeconfig from Cluster.Kubeconfig authenticates.
type Auth int

const (
	// AuthToken is the admin token, the CA inline (certificate-authority-data).
	AuthToken Auth = iota
	// AuthClientCertData is the admin client certificate and key inline
	// (client-certificate-data, client-key-data).
	AuthClientCertData
	// AuthClientCertFiles is the admin client certificate, its key and
	// the CA as files next to the kubeconfig, named relative to it.
	AuthClientCertFiles
	// AuthUnprivileged is the token of user "nobody", who may do nothing.
	AuthUnprivileged
)

// Kubeconfig writes a kubeconfig for the cluster into a directory of its own
// and returns its path.
func (c *Cluster) Kubeconfig(t testing.TB, auth Auth) string {
	t.Helper()
	dir, err := os.MkdirTemp(c.Dir, "kubeconfig-")
	if err != nil {
		t.Fatal(err)
	}
	b64 := func(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
	cluster := "certificate-authority-data: " + b64(c.CA)
	var user string
	switch auth {
	case AuthToken:
		user = "token: " + c.AdminToken
	case AuthUnprivileged:
		user = "token: " + c.UserToken
	case AuthClientCertData:
		user = "client-certificate-data: " + b64(c.ClientCert) + "\n    client-key-data: " + b64(c.ClientKey)
	case AuthClientCertFiles:
		writeFile(t, filepath.Join(dir, "pki", "ca.crt"), c.CA)
		writeFile(t, filepath.Join(dir, "pki", "admin.crt"), c.ClientCert)
		writeFile(t, filepath.Join(dir, "pki", "admin.key"), c.ClientKey)
		cluster = "certificate-authority: pki/ca.crt"
		user = "client-certificate: pki/admin.crt\n    client-key: pki/admin.key"
	default:
		t.Fatalf("unknown kubetest.Auth %d", auth)
	}
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
    %s
users:
- name: test-user
  user:
    %s
contexts:
- name: test
  context:
    cluster: test
    user: test-user
current-context: test
`, c.URL, cluster, user)
	path := filepath.Join(dir, "config")
	writeFile(t, path, []byte(cfg))
	return path
}

// Request sends a request as the admin, independently of the code under
// test, to set up or inspect fixtures: body is JSON, given as a value to
// encode or as the text itself (a merge patch for PATCH). It fails the test unless the answer is 2xx, and returns the body.
func (c *Cluster) Request(t testing.TB, method, path string, body any) []byte {
	t.Helper()
	ct := "application/json"
	if method == http.MethodPatch {
		ct = "application/merge-patch+json"
	}
	code, data := c.do(method, path, ct, body)
	if code < 200 || code > 299 {
		t.Fatalf("%s %s: %d %s", method, path, code, data)
	}
	return data
}

func (c *Cluster) do(method, path, contentType string, body any) (int, []byte) {
	var rd io.Reader
	if body != nil {
		var b []byte
		switch v := body.(type) {
		case []byte:
			b = v
		case string:
			b = []byte(v)
		default:
			var err error
			if b, err = json.Marshal(body); err != nil {
				return 0, []byte(err.Error())
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.URL+path, rd)
	if err != nil {
		return 0, []byte(err.Error())
	}
	req.Header.Set("Authorization", "Bearer "+c.AdminToken)
	if rd != nil {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.admin.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// startServer starts a server process on nports fresh loopback ports and
// waits until ready says so. A process that exits before it is ready
// because a port was taken meanwhile is started again on other ports.
func startServer(t testing.TB, dir, name, bin string, nports int, args func(ports []int) []string, ready func(ports []int) bool) {
	t.Helper()
	const attempts = 3
	for attempt := 1; ; attempt++ {
		ports := freePorts(t, nports)
		p := startProcess(t, dir, name, bin, args(ports))
		err := p.waitReady(90*time.Second, func() bool { return ready(ports) })
		if err == nil {
			return
		}
		if attempt < attempts && errors.Is(err, errExited) && strings.Contains(p.logTail(), "address already in use") {
			t.Logf("%s: a port was taken, trying others", name)
			continue
		}
		t.Fatalf("%s: %v\n--- last lines of %s:\n%s", name, err, p.logFile, p.logTail())
	}
}

var errExited = errors.New("exited before it was ready")

// process is a server started for a test.
type process struct {
	name, logFile string
	cmd           *exec.Cmd
	done          chan struct{}
	err           error
}

// startProcess starts bin with its output in DIR/NAME.log and registers its
// end: killed by PID (SIGKILL) and reaped when the test ends, its log's
// tail shown when the test failed.
func startProcess(t testing.TB, dir, name, bin string, args []string) *process {
	t.Helper()
	logFile := filepath.Join(dir, name+".log")
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = dir
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &process{name: name, logFile: logFile, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("--- last lines of %s (pid %d):\n%s", logFile, cmd.Process.Pid, p.logTail())
		}
	})
	return p
}

// waitReady polls ready until it says yes, the process exits, or the time
// is up.
func (p *process) waitReady(timeout time.Duration, ready func() bool) error {
	deadline := time.After(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if ready() {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("%w (%v)", errExited, p.err)
		case <-deadline:
			return fmt.Errorf("not ready after %s", timeout)
		case <-tick.C:
		}
	}
}

func (p *process) logTail() string {
	b, _ := os.ReadFile(p.logFile)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > 40 {
		lines = lines[len(lines)-40:]
	}
	return strings.Join(lines, "\n")
}

func waitFor(t testing.TB, what string, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not there after %s", what, timeout)
		}
		<-tick.C
	}
}

// freePorts returns n loopback ports that were free a moment ago.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var ports []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return ports
}

func randomToken(t testing.TB) string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func writeFile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// pki is the certificates and keys of a test cluster.
type pki struct {
	caPEM, clientCert, clientKey                       []byte
	caFile, servingCertFile, servingKeyFile, saKeyFile string
}

// newPKI makes a CA, a serving certificate for 127.0.0.1 and localhost, a
// client certificate for admin in system:masters, and the service-account
// signing key, and writes the files the API server reads into dir/pki.
func newPKI(t testing.TB, dir string) *pki {
	t.Helper()
	now := time.Now()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	serial := int64(0)
	sign := func(tmpl *x509.Certificate, key *ecdsa.PrivateKey, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, []byte) {
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = now.Add(-time.Hour), now.Add(24*time.Hour)
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	keyPEM := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
	}

	caKey := newKey()
	ca, caPEM := sign(&x509.Certificate{
		Subject:               pkix.Name{CommonName: "kubetest-ca"},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, caKey, nil, nil)
	servingKey := newKey()
	_, servingPEM := sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default.svc"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}, servingKey, ca, caKey)
	clientKey := newKey()
	_, clientPEM := sign(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "admin", Organization: []string{"system:masters"}},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}, clientKey, ca, caKey)

	p := &pki{
		caPEM: caPEM, clientCert: clientPEM, clientKey: keyPEM(clientKey),
		caFile:          filepath.Join(dir, "pki", "ca.crt"),
		servingCertFile: filepath.Join(dir, "pki", "apiserver.crt"),
		servingKeyFile:  filepath.Join(dir, "pki", "apiserver.key"),
		saKeyFile:       filepath.Join(dir, "pki", "sa.key"),
	}
	writeFile(t, p.caFile, caPEM)
	writeFile(t, p.servingCertFile, servingPEM)
	writeFile(t, p.servingKeyFile, keyPEM(servingKey))
	writeFile(t, p.saKeyFile, keyPEM(newKey()))
	return p
}
