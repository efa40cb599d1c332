package badlink

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/crypto/bcrypt"

	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
)

// RegistryVersion is the release of distribution's registry that Registry
// runs; it refuses any other build.
const RegistryVersion = "v3.1.2"

// registryVersionLine matches `registry --version` of RegistryVersion:
// "registry github.com/distribution/distribution/v3 v3.1.2+unknown" from
// go install.
var registryVersionLine = regexp.MustCompile(`github\.com/distribution/distribution/v3 v3\.1\.2(\+\S*)?(\s|$)`)

// settleTimeout bounds how long the access log figures wait for the
// registry to finish the requests it is serving.
const settleTimeout = 10 * time.Second

// RegistryOptions says how Registry sets the registry up. The zero value
// serves anonymous plain HTTP.
type RegistryOptions struct {
	// Htpasswd turns on basic auth (auth: htpasswd) for one user whose
	// name and password are generated (Reg.Username, Reg.Password). Default
	// off: anyone pulls and pushes.
	Htpasswd bool
	// TLS serves HTTPS with a certificate for 127.0.0.1, ::1 and localhost
	// signed by a CA made for the test (Reg.CAPEM, Reg.CertPool). Default
	// off: plain HTTP.
	TLS bool
}

// Reg is a running distribution registry, the real program. It is safe
// for concurrent use.
type Reg struct {
	// URL is the registry's base URL, http(s)://127.0.0.1:PORT.
	URL *url.URL
	// Host is URL's host:port, the registry part of image names.
	Host string
	// Username and Password are the htpasswd user's (empty without
	// RegistryOptions.Htpasswd).
	Username, Password string
	// CAPEM is the PEM certificate of the CA that signed the registry's
	// certificate, and CertPool a pool holding it (nil without
	// RegistryOptions.TLS).
	CAPEM    []byte
	CertPool *x509.CertPool
	// StorageDir is the filesystem storage driver's root directory.
	StorageDir string

	t        testing.TB
	proc     *process
	log      *accessLog
	debugURL string
	client   *http.Client
	settles  atomic.Int64
}

// Registry starts distribution's registry (RegistryVersion, `registry serve
// CONFIG`) on a free loopback port and returns once it answers; it is
// stopped by its PID when the test ends. The program is PAIMIRROR_REGISTRY,
// else $PAIMIRROR_CACHE/bin/registry, else registry on PATH; when it is
// missing, or its --version is not RegistryVersion's, the test is skipped,
// or fails where testenv.RequireEnv is set.
//
// Its configuration: filesystem storage in a temp dir (deletes allowed),
// http.secret set, upload purging off, log level warn, the access log on
// (read into AccessLog), and a debug server with Prometheus metrics on a
// second loopback port (for the in-flight requests the access log figures
// wait for).
func Registry(t testing.TB, opts RegistryOptions) *Reg {
	t.Helper()
	bin := testenv.Find(t, testenv.Program{What: "distribution's registry " + RegistryVersion, Env: "PAIMIRROR_REGISTRY", Cached: "registry", Name: "registry", Provider: builder})
	if err := checkOnce("registry", bin, func() error { return checkRegistry(bin) }); err != nil {
		testenv.Need(t, "%v; .ci/badlink-tools.sh builds %s", err, RegistryVersion)
	}

	dir := t.TempDir()
	r := &Reg{t: t, StorageDir: filepath.Join(dir, "storage")}
	scheme := "http"
	var auth, tlsConf string
	if opts.TLS {
		pki, err := newTestPKI()
		if err != nil {
			t.Fatal(err)
		}
		certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		writeFile(t, certFile, pki.certPEM, 0o644)
		writeFile(t, keyFile, pki.keyPEM, 0o600)
		r.CAPEM, r.CertPool = pki.caPEM, pki.pool
		scheme = "https"
		tlsConf = fmt.Sprintf("  tls:\n    certificate: %q\n    key: %q\n", certFile, keyFile)
	}
	if opts.Htpasswd {
		r.Username, r.Password = "badlink", randomHex(t, 12)
		// The registry checks the password on every request: the lowest
		// cost keeps that to well under a millisecond.
		hash, err := bcrypt.GenerateFromPassword([]byte(r.Password), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, "htpasswd")
		writeFile(t, file, []byte(r.Username+":"+string(hash)+"\n"), 0o600)
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: badlink\n    path: %q\n", file)
	}
	secret := randomHex(t, 16)
	r.client = &http.Client{Transport: r.Transport(), Timeout: 10 * time.Second}
	t.Cleanup(r.client.CloseIdleConnections)

	launch := func(addrs []string) (*exec.Cmd, *tail, error) {
		config := fmt.Sprintf(`version: 0.1
log:
  level: warn
  formatter: text
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: %q
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
  secret: %s
  debug:
    addr: %s
    prometheus:
      enabled: true
      path: /metrics
%s%s`, r.StorageDir, addrs[0], secret, addrs[1], tlsConf, auth)
		cfg := filepath.Join(dir, "config.yml")
		if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
			return nil, nil, err
		}
		out := &tail{}
		r.log = newAccessLog(out)
		cmd := exec.Command(bin, "serve", cfg)
		// v3 always sets up OpenTelemetry: export nothing.
		cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none", "OTEL_LOGS_EXPORTER=none")
		cmd.Stdout, cmd.Stderr = r.log, out
		return cmd, out, nil
	}
	ready := func(addrs []string) error {
		req, err := http.NewRequest(http.MethodGet, scheme+"://"+addrs[0]+"/v2/", nil)
		if err != nil {
			return err
		}
		if r.Username != "" {
			req.SetBasicAuth(r.Username, r.Password)
		}
		resp, err := r.client.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /v2/: %s", resp.Status)
		}
		return nil
	}
	proc, addrs := startPeer(t, "registry "+RegistryVersion, 2, launch, ready)
	r.proc = proc
	r.URL = &url.URL{Scheme: scheme, Host: addrs[0]}
	r.Host = addrs[0]
	r.debugURL = "http://" + addrs[1]
	return r
}

// checkRegistry reports an error unless `bin --version` names
// RegistryVersion.
func checkRegistry(bin string) error {
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s --version: %w: %s", bin, err, strings.TrimSpace(string(out)))
	}
	if !registryVersionLine.Match(out) {
		return fmt.Errorf("%s is not distribution's registry %s (--version says %q)", bin, RegistryVersion, strings.TrimSpace(string(out)))
	}
	return nil
}

func writeFile(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// Transport returns a new HTTP transport for the registry: it trusts the
// test CA (with RegistryOptions.TLS), uses no proxy and asks for no
// compression, so bodies and Range answers arrive as the registry sent
// them. It sends no credentials: see Auth.
func (r *Reg) Transport() *http.Transport {
	tr := &http.Transport{
		Proxy:               nil,
		DisableCompression:  true,
		MaxIdleConnsPerHost: 16,
	}
	if r.CertPool != nil {
		tr.TLSClientConfig = &tls.Config{RootCAs: r.CertPool}
	}
	return tr
}

// Auth returns go-containerregistry's authenticator for the registry: the
// htpasswd user, or anonymous.
func (r *Reg) Auth() authn.Authenticator {
	if r.Username == "" {
		return authn.Anonymous
	}
	return &authn.Basic{Username: r.Username, Password: r.Password}
}

// FrontOptions returns the options a front needs to reach the registry as
// its upstream: its transport and, with htpasswd, its credentials.
func (r *Reg) FrontOptions() []FrontOption {
	opts := []FrontOption{WithTransport(r.Transport())}
	if r.Username != "" {
		opts = append(opts, WithBasicAuth(r.Username, r.Password))
	}
	return opts
}

// Ref returns the image name HOST/repo:tag for the registry, as
// go-containerregistry parses it (insecure, that is plain HTTP allowed,
// without TLS).
func (r *Reg) Ref(t testing.TB, repo, tag string) name.Tag {
	t.Helper()
	var opts []name.Option
	if r.URL.Scheme == "http" {
		opts = append(opts, name.Insecure)
	}
	ref, err := name.NewTag(r.Host+"/"+repo+":"+tag, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// Push writes img to the registry as repo:tag with go-containerregistry
// (remote.Write), with the htpasswd user's credentials if any.
func (r *Reg) Push(t testing.TB, repo, tag string, img v1.Image) {
	t.Helper()
	ref := r.Ref(t, repo, tag)
	tr := r.Transport()
	defer tr.CloseIdleConnections()
	if err := remote.Write(ref, img, remote.WithTransport(tr), remote.WithAuth(r.Auth()), remote.WithContext(t.Context())); err != nil {
		t.Fatalf("pushing %s: %v\n%s", ref, err, r.proc.out)
	}
}

// Output returns the registry's recent output other than its access log
// (errors and warnings), for failure messages.
func (r *Reg) Output() string { return r.proc.out.String() }

// AccessLog returns the registry's access log so far, one entry per
// request answered, in the order they ended. It first waits (up to 10s)
// until the registry has no request in flight and has logged every
// request it answered; call it once the transfers to count have ended
// for the client (it has its response, or gave up on it).
func (r *Reg) AccessLog() []AccessEntry {
	return r.settle()
}

// BlobGets returns how many GET requests for the blob digest ("sha256:..."),
// under any repository name and whatever their status, the registry has
// answered; it waits as AccessLog does.
func (r *Reg) BlobGets(digest string) int {
	n := 0
	for _, e := range r.settle() {
		if e.Method == http.MethodGet && isBlobPath(e.Path, digest) {
			n++
		}
	}
	return n
}

// BytesServed returns the body bytes the registry wrote for GET requests
// of the blob digest, as its access log records them (see
// AccessEntry.Size); it waits as AccessLog does.
func (r *Reg) BytesServed(digest string) int64 {
	var n int64
	for _, e := range r.settle() {
		if e.Method == http.MethodGet && isBlobPath(e.Path, digest) {
			n += e.Size
		}
	}
	return n
}

// isBlobPath reports whether path is /v2/NAME/blobs/DIGEST.
func isBlobPath(path, digest string) bool {
	rest, ok := strings.CutPrefix(path, "/v2/")
	return ok && strings.HasSuffix(rest, "/blobs/"+digest) && len(rest) > len("/blobs/"+digest)
}

// settleQuery marks the requests settle makes to the registry.
const settleQuery = "badlink-settle="

// settle waits until the registry has no request in flight (its Prometheus
// gauge), then sends it a marked request and waits for that request's
// access log line: a request whose handler has returned is logged at once
// (by the same goroutine), so by then every request that ended before is
// in the log. It returns the log without the marked requests; a timeout
// fails the test (without stopping it).
func (r *Reg) settle() []AccessEntry {
	deadline := time.Now().Add(settleTimeout)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := r.inFlight()
		if err == nil && n == 0 {
			break
		}
		if time.Now().After(deadline) {
			r.t.Errorf("registry: %d requests still in flight after %s (%v); its access log may miss them", n, settleTimeout, err)
			break
		}
		<-tick.C
	}

	marker := settleQuery + strconv.FormatInt(r.settles.Add(1), 10)
	resp, err := r.client.Get(r.URL.String() + "/?" + marker)
	if err != nil {
		r.t.Errorf("registry: marking its access log: %v", err)
	} else {
		resp.Body.Close()
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	for {
		entries, changed := r.log.snapshot()
		if slices.ContainsFunc(entries, func(e AccessEntry) bool { return e.URI == "/?"+marker }) {
			return slices.DeleteFunc(slices.Clone(entries), func(e AccessEntry) bool {
				return e.Path == "/" && strings.HasPrefix(e.URI, "/?"+settleQuery)
			})
		}
		select {
		case <-changed:
		case <-timer.C:
			r.t.Errorf("registry: no access log line for %s after %s", marker, settleTimeout)
			return entries
		}
	}
}

// inFlight returns the number of requests the registry is serving, the
// sum of its registry_http_in_flight_requests gauges.
func (r *Reg) inFlight() (int, error) {
	resp, err := r.client.Get(r.debugURL + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	var n float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "registry_http_in_flight_requests") {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			return 0, fmt.Errorf("metrics line %q: %w", line, err)
		}
		n += v
	}
	return int(n), sc.Err()
}
