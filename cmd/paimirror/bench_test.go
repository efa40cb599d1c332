package main

// Benchmarks of paimirror serve side by side with its baselines, in one run:
//
//	BenchmarkPull/c=N/serve            vs  BenchmarkPull/c=N/registry-v3.1.2
//	BenchmarkFiles/c=N/serve           vs  BenchmarkFiles/c=N/nginx
//	BenchmarkStartup/small             vs  BenchmarkStartup/large
//	BenchmarkServeRSS/small            vs  BenchmarkServeRSS/large
//
// Every server is a process of its own on loopback, fed the same bytes, and
// the same client drives them. Pull and Files report MB/s and the server
// process's CPU time per GB served (server-CPU-ms/GB, user+system, children
// included): on a small shared machine the clients compete with the server
// for the cores, and CPU per byte is the steadier figure. Only ratios from
// one run mean anything. `make bench` (.ci/bench.sh) installs the
// baselines, runs these and prints the ratios. Speed is never asserted in a
// test.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/fileserver"
	"github.com/paimirror/paimirror/manifests"
	"github.com/paimirror/paimirror/registry"
)

// benchClients are the concurrency levels: how many clients, each with its
// own keep-alive connection, pull at once.
var benchClients = []int{1, 8, 32, 64}

// manifestAccept is what a pulling client sends for a manifest.
var manifestAccept = strings.Join([]string{
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
}, ", ")

// benchRequest is one GET of a pull or a download, and what it must return.
type benchRequest struct {
	path   string
	accept string
	size   int64
	digest string // sha256:<hex>
}

// benchUnit is one op of a throughput benchmark: the requests one client
// makes in order, pulling one image or downloading one file.
type benchUnit []benchRequest

// pullUnits returns one unit per image of b: its manifest by tag under its
// first mirror name, then its config and its layers, as a client pulls it
// (every image's layers, even those shared with another image: each unit
// stands for a different node).
func pullUnits(b *bundle.Bundle) []benchUnit {
	var out []benchUnit
	for _, img := range b.Lock.Images {
		repo, tag := manifests.RepoTag(img.Names[0])
		u := benchUnit{{path: "/v2/" + repo + "/manifests/" + tag, accept: manifestAccept, size: img.Size, digest: string(img.Digest)}}
		for _, bl := range img.Blobs() {
			u = append(u, benchRequest{path: "/v2/" + repo + "/blobs/" + string(bl.Digest), size: bl.Size, digest: string(bl.Digest)})
		}
		out = append(out, u)
	}
	return out
}

// fileUnits returns one unit per file of b: a GET of its first mirror path.
func fileUnits(b *bundle.Bundle) []benchUnit {
	var out []benchUnit
	for _, f := range b.Lock.Files {
		out = append(out, benchUnit{{path: f.Paths[0], size: f.Size, digest: string(f.Digest())}})
	}
	return out
}

func openBenchBundle(tb testing.TB, path string) *bundle.Bundle {
	tb.Helper()
	b, err := bundle.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { b.Close() })
	return b
}

// BenchmarkPull pulls images from paimirror serve and from distribution's
// registry v3.1.2 holding the same images: each op is one client pulling
// one image (manifest, config, layers), c clients at once.
func BenchmarkPull(b *testing.B) {
	serve, reg := serveBin(b), registryBin(b)
	path := benchBundle(b, pullSpec)
	bn := openBenchBundle(b, path)
	units := pullUnits(bn)
	benchPeers(b, units, startBenchServe(b, serve, path), startBenchRegistry(b, reg, bn))
}

// BenchmarkFiles downloads the files from paimirror serve and from nginx
// serving copies of them at the same paths: each op is one client
// downloading one file, c clients at once.
func BenchmarkFiles(b *testing.B) {
	serve, nginx := serveBin(b), nginxBin(b)
	path := benchBundle(b, pullSpec)
	bn := openBenchBundle(b, path)
	units := fileUnits(bn)
	benchPeers(b, units, startBenchServe(b, serve, path), startBenchNginx(b, nginx, bn))
}

// benchPeers checks every peer serves every unit's exact bytes (which also
// warms the page cache for all), then runs the units against each peer at
// every concurrency level, the peers side by side.
func benchPeers(b *testing.B, units []benchUnit, peers ...*benchProcess) {
	for _, p := range peers {
		if err := fetchAll(p.url, units, 4, true); err != nil {
			b.Fatalf("%s: %v\n%s", p.name, err, p.log)
		}
	}
	for round := range benchRounds() {
		for _, c := range benchClients {
			for _, p := range inTurn(peers, round) {
				b.Run(fmt.Sprintf("c=%d/%s", c, p.label), func(b *testing.B) {
					moved, cpu, err := runClients(b, p, c, units)
					if err != nil {
						b.Fatalf("%s: %v\n%s", p.name, err, p.log)
					}
					b.ReportMetric(float64(moved)/1e6/b.Elapsed().Seconds(), "MB/s")
					b.ReportMetric(float64(cpu.Milliseconds())/(float64(moved)/1e9), "server-CPU-ms/GB")
				})
			}
		}
	}
}

// benchRounds is how many times the side-by-side benchmarks run, each
// round running every pair once, so that the other load on the machine,
// which drifts, weighs on both sides of a pair alike (unlike -count, which
// repeats one benchmark before the next). PAIMIRROR_BENCH_ROUNDS sets it;
// default 1. Go names the repeats NAME#01, NAME#02, ...
func benchRounds() int {
	n, err := strconv.Atoi(os.Getenv("PAIMIRROR_BENCH_ROUNDS"))
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// inTurn returns s in order in even rounds and reversed in odd ones, so
// that neither side of a pair always runs first.
func inTurn[T any](s []T, round int) []T {
	if round%2 == 0 {
		return s
	}
	r := slices.Clone(s)
	slices.Reverse(r)
	return r
}

// runClients runs b.N units against the server p with c clients, each with
// its own keep-alive connection taking the next unit in turn, and returns
// the bytes moved and the CPU time the server used meanwhile. Allocations
// counted are the client's: the server is another process.
func runClients(b *testing.B, p *benchProcess, c int, units []benchUnit) (moved int64, cpu time.Duration, err error) {
	clients := make([]*http.Client, c)
	bufs := make([][]byte, c)
	for i := range clients {
		clients[i] = &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true, MaxIdleConnsPerHost: 1}}
		bufs[i] = make([]byte, 256<<10)
		defer clients[i].CloseIdleConnections()
	}
	var next, bytes atomic.Int64
	errs := make([]error, c)
	cpu0, err := p.cpuTime()
	if err != nil {
		return 0, 0, err
	}
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	for w := range c {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				for _, rq := range units[i%int64(len(units))] {
					n, err := fetch(clients[w], p.url, rq, bufs[w], nil)
					if err != nil {
						errs[w] = err
						next.Store(int64(b.N)) // stop the others
						return
					}
					bytes.Add(n)
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	cpu1, err := p.cpuTime()
	return bytes.Load(), cpu1 - cpu0, errors.Join(append(errs, err)...)
}

// fetchAll makes every unit's requests once with c clients, checking each
// body's digest when verify is set, and returns the first error.
func fetchAll(base string, units []benchUnit, c int, verify bool) error {
	work := make(chan benchRequest)
	errs := make([]error, c)
	var wg sync.WaitGroup
	for w := range c {
		wg.Go(func() {
			client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true}}
			defer client.CloseIdleConnections()
			buf := make([]byte, 256<<10)
			var h hash.Hash
			if verify {
				h = sha256.New()
			}
			for rq := range work {
				if errs[w] != nil {
					continue
				}
				if h != nil {
					h.Reset()
				}
				if _, err := fetch(client, base, rq, buf, h); err != nil {
					errs[w] = err
				} else if h != nil && "sha256:"+hex.EncodeToString(h.Sum(nil)) != rq.digest {
					errs[w] = fmt.Errorf("GET %s: the body is not %s", rq.path, rq.digest)
				}
			}
		})
	}
	for _, u := range units {
		for _, rq := range u {
			work <- rq
		}
	}
	close(work)
	wg.Wait()
	return errors.Join(errs...)
}

// fetch GETs one request's body into buf (and h, if given), checking the
// status and the length.
func fetch(c *http.Client, base string, rq benchRequest, buf []byte, h hash.Hash) (int64, error) {
	req, err := http.NewRequest(http.MethodGet, base+rq.path, nil)
	if err != nil {
		return 0, err
	}
	if rq.accept != "" {
		req.Header.Set("Accept", rq.accept)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("GET %s: %s", rq.path, resp.Status)
	}
	var n int64
	for {
		m, err := resp.Body.Read(buf)
		n += int64(m)
		if h != nil {
			h.Write(buf[:m])
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, fmt.Errorf("GET %s: %w", rq.path, err)
		}
	}
	if n != rq.size {
		return n, fmt.Errorf("GET %s: %d bytes, want %d", rq.path, n, rq.size)
	}
	return n, nil
}

// BenchmarkStartup times serve's start-up in process, from nothing to
// answering: bundle.Open, registry.New, fileserver.New, listening, and the
// first /healthz and first manifest answered, for a small (~10 MiB) and a
// large (~4 GiB) bundle of the same shape. Start-up reads only the tar
// headers and the lock, so large/small should be about 1.
func BenchmarkStartup(b *testing.B) {
	for round := range benchRounds() {
		for _, spec := range inTurn([]benchSpec{smallSpec, largeSpec}, round) {
			benchStartup(b, spec)
		}
	}
}

func benchStartup(b *testing.B, spec benchSpec) {
	b.Run(spec.Name, func(b *testing.B) {
		path := benchBundle(b, spec)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			stop, err := startInProcess(path)
			b.StopTimer()
			if stop != nil {
				stop()
			}
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
		}
	})
}

// startInProcess does what runServe does up to serving, then makes the
// first requests; stop undoes it.
func startInProcess(path string) (stop func(), err error) {
	var closers []func()
	stop = func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	closers = append(closers, cancel)
	b, err := bundle.Open(path)
	if err != nil {
		return stop, err
	}
	closers = append(closers, func() { b.Close() })
	reg, err := registry.New(ctx, b)
	if err != nil {
		return stop, err
	}
	closers = append(closers, func() { reg.Close() })
	files := fileserver.New(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return stop, err
	}
	srv := &http.Server{Handler: files.Handler(reg)}
	go srv.Serve(ln)
	closers = append(closers, func() { srv.Close() })
	client := &http.Client{Transport: &http.Transport{Proxy: nil}}
	closers = append(closers, client.CloseIdleConnections)
	base := "http://" + ln.Addr().String()
	repo, tag := manifests.RepoTag(b.Lock.Images[0].Names[0])
	for _, rq := range []benchRequest{
		{path: fileserver.PathHealth, size: 3},
		{path: "/v2/" + repo + "/manifests/" + tag, accept: manifestAccept, size: b.Lock.Images[0].Size},
	} {
		if _, err := fetch(client, base, rq, make([]byte, 4096), nil); err != nil {
			return stop, err
		}
	}
	return stop, nil
}

// BenchmarkServeRSS starts a `paimirror serve` process on the small and on
// the large bundle, and reports its resident set size once it answers
// (ready-RSS-MB), then pulls every image and downloads every file once (4
// clients) and reports its peak resident set size (VmHWM, peak-RSS-MB).
// Serving reads the bundle in place, so large/small should be about 1.
// Run it with -benchtime 1x.
func BenchmarkServeRSS(b *testing.B) {
	for _, spec := range []benchSpec{smallSpec, largeSpec} {
		b.Run(spec.Name, func(b *testing.B) {
			serve := serveBin(b)
			path := benchBundle(b, spec)
			bn := openBenchBundle(b, path)
			units := append(pullUnits(bn), fileUnits(bn)...)
			var total int64
			for _, u := range units {
				for _, rq := range u {
					total += rq.size
				}
			}
			b.SetBytes(total)
			b.ResetTimer()
			var ready, peak int64
			for range b.N {
				p := startBenchServe(b, serve, path)
				rss, err := p.memory("VmRSS")
				if err != nil {
					b.Fatal(err)
				}
				ready = max(ready, rss)
				if err := fetchAll(p.url, units, 4, false); err != nil {
					b.Fatalf("%v\n%s", err, p.log)
				}
				hwm, err := p.memory("VmHWM")
				if err != nil {
					b.Fatal(err)
				}
				peak = max(peak, hwm)
				p.stop()
			}
			b.ReportMetric(float64(ready)/1e6, "ready-RSS-MB")
			b.ReportMetric(float64(peak)/1e6, "peak-RSS-MB")
		})
	}
}
