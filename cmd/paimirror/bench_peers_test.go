package main

// The servers the benchmarks in bench_test.go measure, each a process of its
// own on a loopback port: paimirror serve, and the baselines,
// distribution's registry binary (v3.1.2) and nginx.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
)

// registryVersion is the baseline registry's version; the benchmarks refuse
// any other build.
const registryVersion = "v3.1.2"

// benchProvider ends the message of a missing benchmark program; where
// it is missing the benchmark is skipped, or fails where
// testenv.RequireEnv is set (.ci/bench.sh).
const benchProvider = "`make bench` installs it"

// benchAddr returns a loopback address with a port nothing listens on.
func benchAddr(tb testing.TB) string {
	tb.Helper()
	addr, err := bundletest.ClosedAddr()
	if err != nil {
		tb.Fatal(err)
	}
	return addr
}

// benchProcess is a server process a benchmark started.
type benchProcess struct {
	name  string // for messages
	label string // for benchmark names
	url   string // http://HOST:PORT
	cmd   *exec.Cmd
	log   *bytes.Buffer

	exited   chan error
	stopOnce sync.Once
}

// startBenchProcess starts cmd, waits until url+ready answers 200, and stops the
// process (by its PID) when the benchmark ends. The process gets SIGKILL if
// the benchmark process dies first.
func startBenchProcess(tb testing.TB, name, label, url, ready string, cmd *exec.Cmd) *benchProcess {
	tb.Helper()
	p := &benchProcess{name: name, label: label, url: url, cmd: cmd, log: &bytes.Buffer{}, exited: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("starting %s: %v", name, err)
	}
	exited := p.exited
	go func() { exited <- cmd.Wait() }()
	tb.Cleanup(p.stop)
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := c.Get(url + ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case err := <-exited:
			exited <- err
			tb.Fatalf("%s exited at start-up: %v\n%s", name, err, p.log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s did not answer %s in 30s (last: %v)\n%s", name, url+ready, err, p.log)
		}
	}
}

// stop ends the process: SIGTERM, then SIGKILL after 10s.
func (p *benchProcess) stop() {
	p.stopOnce.Do(func() {
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
			p.cmd.Process.Kill()
			<-p.exited
		}
	})
}

// memory returns a /proc/PID/status memory figure in bytes: "VmRSS" (now)
// or "VmHWM" (the peak resident set size).
func (p *benchProcess) memory(field string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, p.cmd.Process.Pid)
}

// cpuTime returns the user and system CPU time used so far by the process
// and its child processes (nginx's workers).
func (p *benchProcess) cpuTime() (time.Duration, error) {
	pid := p.cmd.Process.Pid
	ticks, err := procTicks(pid, 0)
	if err != nil {
		return 0, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil || child == pid {
			continue
		}
		if t, err := procTicks(child, pid); err == nil {
			ticks += t
		}
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times (100 on every
// Linux platform Go supports).
const clockTicks = 100

// procTicks returns utime+stime of a process from /proc/PID/stat, and an
// error if ppid is not 0 and the process is not ppid's child.
func procTicks(pid, ppid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses: state,
	// ppid, ..., utime (14th of the line), stime (15th).
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	if ppid != 0 && f[1] != strconv.Itoa(ppid) {
		return 0, fmt.Errorf("%d is not a child of %d", pid, ppid)
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	return utime + stime, errors.Join(err1, err2)
}

// startBenchServe runs `paimirror serve` (the binary bin) on the bundle.
func startBenchServe(tb testing.TB, bin, bundlePath string) *benchProcess {
	tb.Helper()
	addr := benchAddr(tb)
	cmd := exec.Command(bin, "serve", "-q", "--addr", addr, bundlePath)
	cmd.Env = append(os.Environ(), "HOME="+tb.TempDir())
	return startBenchProcess(tb, "paimirror serve", "serve", "http://"+addr, "/healthz", cmd)
}

// registryBin returns the baseline registry binary: PAIMIRROR_REGISTRY,
// else the one .ci/bench.sh builds into the cache directory, else
// "registry" on PATH, which must say it is v3.1.2.
func registryBin(tb testing.TB) string {
	tb.Helper()
	bin := testenv.Find(tb, testenv.Program{What: "distribution's registry " + registryVersion, Env: "PAIMIRROR_REGISTRY", Cached: "registry", Name: "registry", Provider: benchProvider})
	out, err := exec.Command(bin, "--version").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "distribution/v3 "+registryVersion) {
		tb.Fatalf("%s is not distribution's registry %s (--version says %q, %v); `make bench` builds it", bin, registryVersion, strings.TrimSpace(string(out)), err)
	}
	return bin
}

// nginxBin returns the nginx binary: PAIMIRROR_NGINX, else /usr/sbin/nginx,
// else nginx on PATH.
func nginxBin(tb testing.TB) string {
	tb.Helper()
	return testenv.Find(tb, testenv.Program{What: "nginx", Env: "PAIMIRROR_NGINX", Candidates: []string{"/usr/sbin/nginx"}, Name: "nginx", Provider: benchProvider})
}

// serveBin returns the paimirror binary to run: PAIMIRROR_BIN (.ci/bench.sh
// sets it to the bin/paimirror it built), else this test binary, which runs
// the real main as "paimirror" (testscript's link on PATH).
func serveBin(tb testing.TB) string {
	tb.Helper()
	return testenv.Find(tb, testenv.Program{What: "paimirror", Env: "PAIMIRROR_BIN", Name: "paimirror", Provider: benchProvider})
}

// startBenchRegistry runs distribution's registry binary (startEmptyBenchRegistry)
// and pushes every image of b into it under its first mirror name with
// go-containerregistry, from the bundle's own bytes, so that every digest
// is the bundle's.
func startBenchRegistry(tb testing.TB, bin string, b *bundle.Bundle) *benchProcess {
	tb.Helper()
	p := startEmptyBenchRegistry(tb, bin)
	addr := strings.TrimPrefix(p.url, "http://")
	start := time.Now()
	tr := bundletest.LoopbackTransport()
	defer tr.CloseIdleConnections()
	for _, img := range b.Lock.Images {
		if err := pushImage(addr, b, img, tr); err != nil {
			tb.Fatalf("pushing %s into the baseline registry: %v\n%s", img.Names[0], err, p.log)
		}
	}
	tb.Logf("pushed %d images into registry %s in %s", len(b.Lock.Images), registryVersion, time.Since(start).Round(time.Millisecond))
	return p
}

// startEmptyBenchRegistry runs distribution's registry binary with
// filesystem storage in a temp dir, its shipped config-example.yml
// settings (in-memory blob descriptor cache), errors-only logging and
// tracing off.
func startEmptyBenchRegistry(tb testing.TB, bin string) *benchProcess {
	tb.Helper()
	dir := tb.TempDir()
	addr := benchAddr(tb)
	secret := make([]byte, 16)
	rand.Read(secret)
	config := fmt.Sprintf(`version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: %s
  maintenance:
    uploadpurging:
      enabled: false
  tag:
    concurrencylimit: 8
http:
  addr: %s
  secret: %s
  headers:
    X-Content-Type-Options: [nosniff]
`, filepath.Join(dir, "storage"), addr, hex.EncodeToString(secret))
	cfgPath := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfgPath)
	// v3 always installs OpenTelemetry; keep it from exporting or sampling,
	// so the baseline pays nothing for tracing.
	cmd.Env = append(os.Environ(), "OTEL_TRACES_EXPORTER=none", "OTEL_METRICS_EXPORTER=none",
		"OTEL_LOGS_EXPORTER=none", "OTEL_TRACES_SAMPLER=always_off")
	return startBenchProcess(tb, "registry "+registryVersion, "registry-"+registryVersion, "http://"+addr, "/v2/", cmd)
}

// pushImage writes one image of the bundle to the registry at addr.
func pushImage(addr string, b *bundle.Bundle, img bundle.Image, tr http.RoundTripper) error {
	ref, err := name.ParseReference(addr+"/"+img.Names[0], name.Insecure)
	if err != nil {
		return err
	}
	raw, err := b.ReadBlob(img.Digest, img.Size)
	if err != nil {
		return err
	}
	cfg, err := b.ReadBlob(img.Config.Digest, img.Config.Size)
	if err != nil {
		return err
	}
	im, err := partial.CompressedToImage(&bundleImage{b: b, img: img, raw: raw, cfg: cfg})
	if err != nil {
		return err
	}
	if err := remote.Write(ref, im, remote.WithTransport(tr), remote.WithJobs(4), remote.WithContext(context.Background())); err != nil {
		return err
	}
	// The registry must serve the bundle's manifest bytes, digest and all.
	desc, err := remote.Head(ref, remote.WithTransport(tr))
	if err != nil {
		return err
	}
	if desc.Digest.String() != string(img.Digest) {
		return fmt.Errorf("the registry has %s as %s, the bundle %s", ref, desc.Digest, img.Digest)
	}
	return nil
}

// bundleImage is an image of a bundle as go-containerregistry's
// partial.CompressedImageCore: its manifest, config and layers exactly as
// stored.
type bundleImage struct {
	b   *bundle.Bundle
	img bundle.Image
	raw []byte
	cfg []byte
}

func (i *bundleImage) RawManifest() ([]byte, error)   { return i.raw, nil }
func (i *bundleImage) RawConfigFile() ([]byte, error) { return i.cfg, nil }
func (i *bundleImage) MediaType() (types.MediaType, error) {
	return types.MediaType(i.img.MediaType), nil
}

func (i *bundleImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range i.img.Blobs() {
		if string(l.Digest) == h.String() {
			return &bundleLayer{b: i.b, blob: l}, nil
		}
	}
	return nil, fmt.Errorf("%s has no blob %s", i.img.Names[0], h)
}

type bundleLayer struct {
	b    *bundle.Bundle
	blob bundle.Blob
}

func (l *bundleLayer) Digest() (v1.Hash, error) { return v1.NewHash(string(l.blob.Digest)) }
func (l *bundleLayer) Size() (int64, error)     { return l.blob.Size, nil }
func (l *bundleLayer) MediaType() (types.MediaType, error) {
	return types.MediaType(l.blob.MediaType), nil
}
func (l *bundleLayer) Compressed() (io.ReadCloser, error) {
	r, err := l.b.Blob(l.blob.Digest)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(r), nil
}

// startBenchNginx runs nginx with its own prefix, config and pid file in a temp
// dir, serving a copy of every file of b at each of its mirror paths, with
// the settings a static file server would have in production: sendfile,
// no access log, keep-alive, one worker per core.
func startBenchNginx(tb testing.TB, bin string, b *bundle.Bundle) *benchProcess {
	tb.Helper()
	dir := tb.TempDir()
	root := filepath.Join(dir, "root")
	for _, f := range b.Lock.Files {
		first := ""
		for _, p := range f.Paths {
			dst := filepath.Join(root, filepath.FromSlash(p))
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				tb.Fatal(err)
			}
			if first != "" {
				if err := os.Link(first, dst); err != nil {
					tb.Fatal(err)
				}
				continue
			}
			if err := writeBlob(b, f.Digest(), dst); err != nil {
				tb.Fatal(err)
			}
			first = dst
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "logs"), 0o755); err != nil {
		tb.Fatal(err)
	}
	addr := benchAddr(tb)
	config := fmt.Sprintf(`daemon off;
master_process on;
worker_processes auto;
user root;
pid %[1]s/nginx.pid;
error_log %[1]s/logs/error.log error;
events { worker_connections 1024; }
http {
	access_log off;
	sendfile on;
	tcp_nopush on;
	keepalive_timeout 65;
	keepalive_requests 100000;
	default_type application/octet-stream;
	client_body_temp_path %[1]s/tmp-body;
	proxy_temp_path %[1]s/tmp-proxy;
	fastcgi_temp_path %[1]s/tmp-fastcgi;
	uwsgi_temp_path %[1]s/tmp-uwsgi;
	scgi_temp_path %[1]s/tmp-scgi;
	server {
		listen %[2]s;
		root %[3]s;
		location = /healthz { return 200 "ok\n"; }
	}
}
`, dir, addr, root)
	cfgPath := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cfgPath, []byte(config), 0o644); err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", cfgPath, "-e", filepath.Join(dir, "logs", "error.log"))
	return startBenchProcess(tb, "nginx", "nginx", "http://"+addr, "/healthz", cmd)
}

// writeBlob copies a blob of the bundle to a file.
func writeBlob(b *bundle.Bundle, d digest.Digest, dst string) error {
	r, err := b.Blob(d)
	if err != nil {
		return err
	}
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
