package badlink

import (
	"bytes"
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
)

// ToxiproxyVersion is the toxiproxy release whose server Toxiproxy runs;
// it refuses any other build.
const ToxiproxyVersion = "v2.5.0"

// toxiproxyModule and toxiproxyPackage name the server's module and main
// package, as its build information records them.
const (
	toxiproxyModule  = "github.com/Shopify/toxiproxy/v2"
	toxiproxyPackage = toxiproxyModule + "/cmd/server"
)

// Toxi is a running toxiproxy server, the real program, driven through its
// HTTP API. It is safe for concurrent use.
type Toxi struct {
	// API is the base URL of the server's HTTP API, http://127.0.0.1:PORT.
	API string

	proc   *process
	client *http.Client
}

// Toxiproxy starts toxiproxy's server (ToxiproxyVersion) on a free
// loopback port and returns once its API answers; it is stopped by its PID
// when the test ends. The program is PAIMIRROR_TOXIPROXY, else
// $PAIMIRROR_CACHE/bin/toxiproxy-server, else toxiproxy-server on PATH;
// when it is missing, or is not toxiproxy's server at ToxiproxyVersion,
// the test is skipped, or fails where testenv.RequireEnv is set.
func Toxiproxy(t testing.TB) *Toxi {
	t.Helper()
	bin := testenv.Find(t, testenv.Program{What: "toxiproxy's server " + ToxiproxyVersion, Env: "PAIMIRROR_TOXIPROXY", Cached: "toxiproxy-server", Name: "toxiproxy-server", Provider: builder})
	if err := checkOnce("toxiproxy", bin, func() error { return checkToxiproxy(bin) }); err != nil {
		testenv.Need(t, "%v; .ci/badlink-tools.sh builds %s", err, ToxiproxyVersion)
	}
	x := &Toxi{client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}}}
	t.Cleanup(x.client.CloseIdleConnections)
	launch := func(addrs []string) (*exec.Cmd, *tail, error) {
		host, port, err := net.SplitHostPort(addrs[0])
		if err != nil {
			return nil, nil, err
		}
		out := &tail{}
		cmd := exec.Command(bin, "-host", host, "-port", port)
		// Each accepted client is an info line; keep the warnings.
		cmd.Env = append(os.Environ(), "LOG_LEVEL=warn")
		cmd.Stdout, cmd.Stderr = out, out
		return cmd, out, nil
	}
	ready := func(addrs []string) error {
		resp, err := x.client.Get("http://" + addrs[0] + "/version")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET /version: %s", resp.Status)
		}
		return nil
	}
	proc, addrs := startPeer(t, "toxiproxy-server", 1, launch, ready)
	x.proc = proc
	x.API = "http://" + addrs[0]
	return x
}

// checkToxiproxy reports an error unless bin is toxiproxy's server built
// from ToxiproxyVersion (go install, or go build in another module that
// requires it: the module is then a dependency).
func checkToxiproxy(bin string) error {
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return fmt.Errorf("%s: reading its build information: %w", bin, err)
	}
	if info.Path != toxiproxyPackage {
		return fmt.Errorf("%s is %q, not %s", bin, info.Path, toxiproxyPackage)
	}
	version := ""
	if info.Main.Path == toxiproxyModule {
		version = info.Main.Version
	}
	for _, d := range info.Deps {
		if d.Path == toxiproxyModule {
			version = d.Version
			if d.Replace != nil {
				version = d.Replace.Version
			}
		}
	}
	if version != ToxiproxyVersion {
		return fmt.Errorf("%s is toxiproxy %q, not %s", bin, version, ToxiproxyVersion)
	}
	return nil
}

// apiError is toxiproxy's error body.
type apiError struct {
	Message string `json:"error"`
	Status  int    `json:"status"`
}

// call sends one API request with body (nil, or a value encoded as JSON)
// and decodes the JSON answer into out (unless nil). Any status but want
// fails the test.
func (x *Toxi) call(t testing.TB, method, path string, body any, want int, out any) {
	t.Helper()
	if err := x.do(method, path, body, want, out); err != nil {
		t.Fatal(err)
	}
}

func (x *Toxi) do(method, path string, body any, want int, out any) error {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, x.API+path, r)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := x.client.Do(req)
	if err != nil {
		return fmt.Errorf("toxiproxy %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("toxiproxy %s %s: %w", method, path, err)
	}
	if resp.StatusCode != want {
		var e apiError
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			return fmt.Errorf("toxiproxy %s %s: %s: %s", method, path, resp.Status, e.Message)
		}
		return fmt.Errorf("toxiproxy %s %s: %s: %s", method, path, resp.Status, bytes.TrimSpace(data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("toxiproxy %s %s: decoding %q: %w", method, path, data, err)
		}
	}
	return nil
}

// Reset removes every toxic of every proxy and enables every proxy again
// (POST /reset).
func (x *Toxi) Reset(t testing.TB) {
	t.Helper()
	x.call(t, http.MethodPost, "/reset", nil, http.StatusNoContent, nil)
}

// proxyJSON is a proxy as toxiproxy's API reads and writes it.
type proxyJSON struct {
	Name     string `json:"name"`
	Listen   string `json:"listen"`
	Upstream string `json:"upstream"`
	Enabled  bool   `json:"enabled"`
}

// Proxy is one proxy of a toxiproxy server: a loopback listener whose
// every accepted connection is relayed to the upstream, through the
// proxy's toxics.
type Proxy struct {
	x        *Toxi
	name     string
	addr     string
	upstream string
}

// Proxy creates a proxy named name (unique on the server) that listens on
// a loopback port of toxiproxy's choosing and relays to upstream
// (host:port, or a URL whose host:port is taken). It is deleted when the
// test ends.
func (x *Toxi) Proxy(t testing.TB, name, upstream string) *Proxy {
	t.Helper()
	if u, err := url.Parse(upstream); err == nil && u.Host != "" {
		upstream = u.Host
	}
	var got proxyJSON
	x.call(t, http.MethodPost, "/proxies", proxyJSON{Name: name, Listen: "127.0.0.1:0", Upstream: upstream, Enabled: true}, http.StatusCreated, &got)
	if _, port, err := net.SplitHostPort(got.Listen); err != nil || port == "0" {
		t.Fatalf("toxiproxy created %s listening on %q", name, got.Listen)
	}
	p := &Proxy{x: x, name: name, addr: got.Listen, upstream: got.Upstream}
	t.Cleanup(func() {
		if x.proc.exited() {
			return
		}
		if err := x.do(http.MethodDelete, "/proxies/"+url.PathEscape(name), nil, http.StatusNoContent, nil); err != nil {
			t.Errorf("deleting proxy %s: %v", name, err)
		}
	})
	return p
}

// Name returns the proxy's name.
func (p *Proxy) Name() string { return p.name }

// Addr returns the address the proxy listens on, 127.0.0.1:PORT.
func (p *Proxy) Addr() string { return p.addr }

// URL returns http://Addr(), for upstreams that speak HTTP.
func (p *Proxy) URL() *url.URL { return &url.URL{Scheme: "http", Host: p.addr} }

// Upstream returns the host:port the proxy relays to.
func (p *Proxy) Upstream() string { return p.upstream }

// Enable lets the proxy accept connections again after Disable.
func (p *Proxy) Enable(t testing.TB) {
	t.Helper()
	p.setEnabled(t, true)
}

// Disable closes the proxy's listener and every connection it relays:
// clients then get "connection refused", as from a host that is down.
func (p *Proxy) Disable(t testing.TB) {
	t.Helper()
	p.setEnabled(t, false)
}

func (p *Proxy) setEnabled(t testing.TB, on bool) {
	t.Helper()
	p.x.call(t, http.MethodPost, "/proxies/"+url.PathEscape(p.name), map[string]any{"enabled": on}, http.StatusOK, nil)
}

// Stream names, for AddToxic: downstream is data from the upstream to the
// client, upstream from the client to the upstream.
const (
	Downstream = "downstream"
	Upstream   = "upstream"
)

// toxicJSON is a toxic as toxiproxy's API reads it.
type toxicJSON struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Stream     string         `json:"stream"`
	Toxicity   float64        `json:"toxicity"`
	Attributes map[string]any `json:"attributes"`
}

// AddToxic adds a toxic of type typ ("bandwidth", "limit_data",
// "reset_peer", "latency", "timeout", "slow_close", "slicer") named name
// (unique on the proxy) on stream (Downstream or Upstream), with its
// attributes as toxiproxy documents them. toxicity is the probability, 0
// to 1, that the toxic applies to a connection, drawn once per connection
// (0 never applies it). It applies to the connections the proxy relays
// now and to the ones it accepts later, each with its own state.
func (p *Proxy) AddToxic(t testing.TB, name, typ, stream string, toxicity float64, attrs map[string]any) {
	t.Helper()
	if attrs == nil {
		attrs = map[string]any{}
	}
	p.x.call(t, http.MethodPost, "/proxies/"+url.PathEscape(p.name)+"/toxics",
		toxicJSON{Name: name, Type: typ, Stream: stream, Toxicity: toxicity, Attributes: attrs}, http.StatusOK, nil)
}

// RemoveToxic removes the toxic named name; the convenience methods name
// theirs after their type ("bandwidth", "limit_data", ...).
func (p *Proxy) RemoveToxic(t testing.TB, name string) {
	t.Helper()
	p.x.call(t, http.MethodDelete, "/proxies/"+url.PathEscape(p.name)+"/toxics/"+url.PathEscape(name), nil, http.StatusNoContent, nil)
}

// Bandwidth limits each connection's downstream to kbPerSec kilobytes
// (1000 bytes) a second; the toxic is named "bandwidth". Two connections
// get kbPerSec each.
func (p *Proxy) Bandwidth(t testing.TB, kbPerSec int64) {
	t.Helper()
	p.AddToxic(t, "bandwidth", "bandwidth", Downstream, 1, map[string]any{"rate": kbPerSec})
}

// LimitData closes each connection once it has carried n bytes downstream,
// response headers included: a client sees the body end early, with no
// error from the peer (a clean close, after a short read). The toxic is
// named "limit_data". A new connection gets n bytes again.
func (p *Proxy) LimitData(t testing.TB, n int64) {
	t.Helper()
	p.AddToxic(t, "limit_data", "limit_data", Downstream, 1, map[string]any{"bytes": n})
}

// ResetPeer resets each connection (TCP RST) ms milliseconds after the
// upstream's first bytes for it, which never reach the client: a request
// sent through it fails with "connection reset by peer". The toxic is
// named "reset_peer".
func (p *Proxy) ResetPeer(t testing.TB, ms int64) {
	t.Helper()
	p.AddToxic(t, "reset_peer", "reset_peer", Downstream, 1, map[string]any{"timeout": ms})
}

// Latency delays each chunk of data from the upstream by ms milliseconds;
// the toxic is named "latency".
func (p *Proxy) Latency(t testing.TB, ms int64) {
	t.Helper()
	p.AddToxic(t, "latency", "latency", Downstream, 1, map[string]any{"latency": ms, "jitter": 0})
}

// Timeout drops all data from the upstream and closes each connection once
// none has come for ms milliseconds; with 0 it holds the connection open,
// silent, until the toxic is removed, and closes it then. The toxic is
// named "timeout".
func (p *Proxy) Timeout(t testing.TB, ms int64) {
	t.Helper()
	p.AddToxic(t, "timeout", "timeout", Downstream, 1, map[string]any{"timeout": ms})
}

// String returns the proxy's name, address and upstream, for messages.
func (p *Proxy) String() string {
	return fmt.Sprintf("%s (%s -> %s)", p.name, p.addr, p.upstream)
}
