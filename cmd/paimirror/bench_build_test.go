package main

// BenchmarkBuildLink: paimirror build against crane pull --format oci, both
// pulling the same images from distribution's registry v3.1.2 through the
// same link, side by side in each round:
//
//	BenchmarkBuildLink/cut/paimirror       vs  BenchmarkBuildLink/cut/crane
//	BenchmarkBuildLink/throttle/paimirror  vs  BenchmarkBuildLink/throttle/crane
//	BenchmarkBuildLink/clean/paimirror     vs  BenchmarkBuildLink/clean/crane
//	                                       and BenchmarkBuildLink/clean/floor
//	BenchmarkBuildLink/resume/paimirror    vs  BenchmarkBuildLink/resume/crane
//
// The links are toxiproxy v2.5.0 (bundle/bundletest/badlink), whose toxics
// act on each TCP connection alone:
//
//   - cut: 3 images of one 64 MiB layer; every connection is closed after
//     12 MiB downstream (limit_data) and paced at 16 MB/s (bandwidth).
//     Reported: the time (ns/op), the bytes fetched over the bytes the
//     images hold (fetched/unique, goal ≤ 1.05), and whether the pull
//     succeeded (ok, 1 or 0): crane, which cannot resume inside a blob, is
//     expected to fail, and its ns/op is then its time to failure.
//   - throttle: one 128 MiB layer; every connection paced at 8 MB/s.
//     Compared: crane's time over paimirror's (goal ≥ 4).
//   - clean: the default selection of the embedded manifest (its 45
//     images, each two random 8 MiB layers under its upstream name),
//     straight from the registry, no toxiproxy. Compared: paimirror's time
//     over crane's (goal ≤ 0.8). A third side, floor (benchLinkFloor),
//     is the least a pull that verifies and syncs what it fetched takes
//     here: its time over crane's says how far below crane this machine's
//     network and disk let any durable pull go.
//   - resume: one image of three 128 MiB layers; every connection paced at
//     32 MB/s. The pull is killed with SIGKILL once a third of the bytes
//     have arrived, then run again to the end in the same place. Reported:
//     the bytes fetched by both runs over the bytes the image holds
//     (fetched/unique, goal ≤ 1.05), and where the kill landed
//     (kept/unique). The layers are in one image so that crane, which
//     writes an image's layers at once, is a third into each of them as
//     paimirror is (with one layer per image, crane's first layer would end
//     exactly at the kill and a blob-granular restart would lose nothing).
//
// Bytes are counted where they are exact and comparable:
//
//   - A finished paimirror build's own figure, the "fetched" of its summary
//     line (every body byte its download engine read, bytes it later threw
//     away included; printed to 0.1 MiB). The registry's access log would
//     count more than arrived after a cut (what the kernel and toxiproxy
//     had taken), so it is reported only beside it, as served/unique.
//   - A killed run prints nothing and its buffers die with it: what counts
//     is what it had kept on disk, read after the kill. For paimirror, the
//     ranges its .state files in BUNDLE.partial.d record (it writes each
//     blob in place, into its member of BUNDLE.partial) plus the members
//     no state file speaks for; for crane, the size of its files in the
//     layout's blobs/sha256 (the finished ones and the temporary ones).
//     Bytes received but not yet written (at most a chunk per connection)
//     are left out of the killed run; the rerun fetches them again and
//     counts them.
//   - crane's rerun, which prints nothing: the registry's access log (the
//     rerun is not cut, so what the registry wrote is what crane read).
//
// unique is the images' layers and configs (the manifests, a few hundred
// bytes each, are fetched apart from the engine and counted by neither).
// Every side also reports client-CPU-s, the user and system CPU time of
// its own process (both runs for resume). Only the ratios of one run mean
// anything; speed is never asserted in a test.

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/paimirror/paimirror/bundle/bundletest/badlink"
	"github.com/paimirror/paimirror/bundle/bundletest/testenv"
	"github.com/paimirror/paimirror/manifests"
)

// The links and images of BenchmarkBuildLink (rates in KB/s of 1000 bytes,
// per connection, as toxiproxy's bandwidth toxic takes them).
const (
	cutImages, cutLayer = 3, 64 * mib
	cutAfter            = 12 * mib
	cutRate             = 16_000

	throttleLayer = 128 * mib
	throttleRate  = 8_000

	cleanLayers, cleanLayer = 2, 8 * mib

	resumeLayers, resumeLayer = 3, 128 * mib
	resumeRate                = 32_000
	// resumeKillAt: the first run is killed once 1/resumeKillAt of the
	// unique bytes are kept.
	resumeKillAt = 3
)

// linkTimeout bounds one pull; a pull that takes longer is killed and the
// benchmark fails.
const linkTimeout = 10 * time.Minute

// linkImage is one image of a link fixture: its reference in the manifest,
// an upstream name ("docker.io/bench/cut0:v1"); the registry holds it as
// "<upstream registry>/<repository>:<tag>".
type linkImage struct {
	ref                       string
	registry, repository, tag string
}

// linkFixture is the images of one case, pushed to the registry.
type linkFixture struct {
	images []linkImage
	// blobs maps every layer's and config's digest to its size; unique is
	// their sum, what a pull must fetch.
	blobs  map[string]int64
	unique int64
	// repos maps every blob's digest to a repository of the registry
	// that holds it ("<upstream registry>/<repository>").
	repos map[string]string
	// manifest is a paimirror manifest file naming the images.
	manifest string
}

// linkCase is one link, with the two sides that pull through it.
type linkCase struct {
	name  string
	sides []linkSide
}

type linkSide struct {
	name string
	run  func(b *testing.B)
}

// BenchmarkBuildLink runs paimirror build (PAIMIRROR_BIN) and crane pull
// --format oci against distribution's registry through toxiproxy's bad
// links; see the top of this file. One pull takes seconds to tens of
// seconds, so -benchtime 1x (or the default 1s) runs each op about once.
func BenchmarkBuildLink(b *testing.B) {
	bin := serveBin(b)
	crane := craneBin(b)
	reg := badlink.Registry(b, badlink.RegistryOptions{})
	toxi := badlink.Toxiproxy(b)
	dir := b.TempDir()
	if v, err := exec.Command(crane, "version").Output(); err == nil {
		b.Logf("baseline: crane %s", strings.TrimSpace(string(v)))
	}

	start := time.Now()
	cut := pushLinkFixture(b, reg, dir, "cut", benchImages("cut", cutImages), 1, cutLayer)
	throttle := pushLinkFixture(b, reg, dir, "throttle", benchImages("throttle", 1), 1, throttleLayer)
	sel, err := manifests.Default().Select(nil, nil)
	if err != nil {
		b.Fatal(err)
	}
	var defaults []linkImage
	for _, img := range sel.Images {
		r, repo, tag := img.Upstream()
		defaults = append(defaults, linkImage{ref: img.Ref, registry: r, repository: repo, tag: tag})
	}
	clean := pushLinkFixture(b, reg, dir, "clean", defaults, cleanLayers, cleanLayer)
	resume := pushLinkFixture(b, reg, dir, "resume", benchImages("resume", 1), resumeLayers, resumeLayer)
	b.Logf("pushed %d images (%.0f MiB) into registry %s in %s", len(cut.images)+len(throttle.images)+len(clean.images)+len(resume.images),
		float64(cut.unique+throttle.unique+clean.unique+resume.unique)/float64(mib), badlink.RegistryVersion, time.Since(start).Round(time.Millisecond))

	cutPx := toxi.Proxy(b, "cut", reg.Host)
	cutPx.LimitData(b, cutAfter)
	cutPx.Bandwidth(b, cutRate)
	throttlePx := toxi.Proxy(b, "throttle", reg.Host)
	throttlePx.Bandwidth(b, throttleRate)
	resumePx := toxi.Proxy(b, "resume", reg.Host)
	resumePx.Bandwidth(b, resumeRate)

	cases := []linkCase{
		{"cut", []linkSide{
			{"paimirror", func(b *testing.B) { benchLinkBuild(b, bin, reg, cut, cutPx.Addr(), true) }},
			{"crane", func(b *testing.B) { benchLinkCrane(b, crane, cut, cutPx.Addr(), true) }},
		}},
		{"throttle", []linkSide{
			{"paimirror", func(b *testing.B) { benchLinkBuild(b, bin, reg, throttle, throttlePx.Addr(), false) }},
			{"crane", func(b *testing.B) { benchLinkCrane(b, crane, throttle, throttlePx.Addr(), false) }},
		}},
		{"clean", []linkSide{
			{"paimirror", func(b *testing.B) { benchLinkBuild(b, bin, reg, clean, reg.Host, false) }},
			{"crane", func(b *testing.B) { benchLinkCrane(b, crane, clean, reg.Host, false) }},
			{"floor", func(b *testing.B) { benchLinkFloor(b, clean, reg.Host) }},
		}},
		{"resume", []linkSide{
			{"paimirror", func(b *testing.B) { benchLinkResume(b, reg, resume, buildSide(bin, resume, resumePx.Addr())) }},
			{"crane", func(b *testing.B) { benchLinkResume(b, reg, resume, craneSide(crane, resume, resumePx.Addr())) }},
		}},
	}
	for round := range benchRounds() {
		for _, c := range cases {
			for _, s := range inTurn(c.sides, round) {
				b.Run(c.name+"/"+s.name, s.run)
			}
		}
	}
}

// craneBin returns crane: PAIMIRROR_CRANE, else ~/go/bin/crane (where go
// install puts it), else crane on PATH.
func craneBin(tb testing.TB) string {
	tb.Helper()
	var candidates []string
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, "go", "bin", "crane"))
	}
	return testenv.Find(tb, testenv.Program{What: "crane (go-containerregistry)", Env: "PAIMIRROR_CRANE", Candidates: candidates, Name: "crane", Provider: benchProvider})
}

// benchImages names n images docker.io/bench/<prefix>I:v1.
func benchImages(prefix string, n int) []linkImage {
	var out []linkImage
	for i := range n {
		repo := fmt.Sprintf("bench/%s%d", prefix, i)
		out = append(out, linkImage{ref: "docker.io/" + repo + ":v1", registry: "docker.io", repository: repo, tag: "v1"})
	}
	return out
}

// pushLinkFixture pushes each image as Docker schema 2 of layers random
// layers of size bytes (static layers: random.Image gzips, which is slow at
// these sizes), four at a time, and writes a manifest naming them.
func pushLinkFixture(b *testing.B, reg *badlink.Reg, dir, label string, images []linkImage, layers int, size int64) *linkFixture {
	b.Helper()
	fx := &linkFixture{images: images, blobs: map[string]int64{}, repos: map[string]string{}}
	var mu sync.Mutex
	work := make(chan linkImage)
	errs := make([]error, 4)
	var wg sync.WaitGroup
	for w := range errs {
		wg.Go(func() {
			tr := reg.Transport()
			defer tr.CloseIdleConnections()
			for im := range work {
				if errs[w] != nil {
					continue
				}
				blobs, err := pushRandomImage(reg.Host, im, layers, size, tr)
				if err != nil {
					errs[w] = fmt.Errorf("pushing %s: %w", im.ref, err)
					continue
				}
				mu.Lock()
				for d, n := range blobs {
					fx.blobs[d] = n
					fx.repos[d] = im.registry + "/" + im.repository
				}
				mu.Unlock()
			}
		})
	}
	for _, im := range images {
		work <- im
	}
	close(work)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		b.Fatalf("%v\n%s", err, reg.Output())
	}
	for _, n := range fx.blobs {
		fx.unique += n
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "name: bench-%s\nimages:\n", label)
	for _, im := range images {
		fmt.Fprintf(&sb, "  - ref: %s\n", im.ref)
	}
	fx.manifest = filepath.Join(dir, label+".yaml")
	if err := os.WriteFile(fx.manifest, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	return fx
}

// pushRandomImage writes one image of random layers to the registry at
// host and returns its layers' and config's digests and sizes.
func pushRandomImage(host string, im linkImage, layers int, size int64, tr *http.Transport) (map[string]int64, error) {
	var ls []v1.Layer
	for range layers {
		data := make([]byte, size)
		rand.Read(data)
		ls = append(ls, static.NewLayer(data, types.DockerLayer))
	}
	img, err := mutate.AppendLayers(empty.Image, ls...)
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, types.DockerManifestSchema2)
	img = mutate.ConfigMediaType(img, types.DockerConfigJSON)
	ref, err := name.NewTag(host+"/"+im.registry+"/"+im.repository+":"+im.tag, name.Insecure)
	if err != nil {
		return nil, err
	}
	if err := remote.Write(ref, img, remote.WithTransport(tr), remote.WithContext(context.Background())); err != nil {
		return nil, err
	}
	blobs := map[string]int64{}
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			return nil, err
		}
		blobs[d.String()] = size
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return nil, err
	}
	cd, err := img.ConfigName()
	if err != nil {
		return nil, err
	}
	blobs[cd.String()] = int64(len(cfg))
	return blobs, nil
}

// mirrorFlags are the --mirror flags sending each upstream registry of the
// fixture to http://host/<registry>, where it is held.
func (fx *linkFixture) mirrorFlags(host string) []string {
	var out []string
	for _, im := range fx.images {
		flag := im.registry + "=http://" + host + "/" + im.registry
		if !slices.Contains(out, flag) {
			out = append(out, "--mirror", flag)
		}
	}
	return out
}

// craneRefs are the images' names at host, for crane.
func (fx *linkFixture) craneRefs(host string) []string {
	var out []string
	for _, im := range fx.images {
		out = append(out, host+"/"+im.registry+"/"+im.repository+":"+im.tag)
	}
	return out
}

// linkCmd is one pull by one side, with its output kept.
type linkCmd struct {
	cmd            *exec.Cmd
	stdout, output bytes.Buffer // stdout, and stdout and stderr together
	cancel         context.CancelFunc
}

// newLinkCmd runs bin with args in an environment of its own: HOME (and
// docker's config) in home, so no credentials are found, and no proxy.
// It is killed (by its PID) after linkTimeout or when the benchmark
// process dies.
func newLinkCmd(home, bin string, args ...string) *linkCmd {
	ctx, cancel := context.WithTimeout(context.Background(), linkTimeout)
	c := &linkCmd{cmd: exec.CommandContext(ctx, bin, args...), cancel: cancel}
	c.cmd.Env = append(withoutProxy(nil), "HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, ".docker"))
	c.cmd.Stdout = io.MultiWriter(&c.stdout, &c.output)
	c.cmd.Stderr = &c.output
	c.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return c
}

// cpu returns the user and system CPU time the finished process used.
func (c *linkCmd) cpu() time.Duration {
	if c.cmd.ProcessState == nil {
		return 0
	}
	return c.cmd.ProcessState.UserTime() + c.cmd.ProcessState.SystemTime()
}

func (c *linkCmd) run() error {
	defer c.cancel()
	if err := c.cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(c.cmd.Args[:2], " "), err, c.output.String())
	}
	return nil
}

// buildCmd is `paimirror build` of the fixture into out, through host.
func buildCmd(bin, home string, fx *linkFixture, host, out string) *linkCmd {
	args := append([]string{"build", "-q", "-f", fx.manifest, "-o", out}, fx.mirrorFlags(host)...)
	return newLinkCmd(home, bin, args...)
}

// craneCmd is `crane pull --format oci` of the fixture into the layout
// dir, through host.
func craneCmd(bin, home string, fx *linkFixture, host, dir string) *linkCmd {
	args := append([]string{"pull", "--insecure", "--format", "oci"}, fx.craneRefs(host)...)
	return newLinkCmd(home, bin, append(args, dir)...)
}

// summaryLine matches what runBuild prints when a build is done.
var summaryLine = regexp.MustCompile(`: (\d+) images, .*\(fetched ([0-9.]+) (B|KiB|MiB|GiB|TiB),`)

// buildFetched reads the image count and the bytes fetched from a build's
// summary line (bytes to 0.1 of the unit bundle.HumanSize prints).
func buildFetched(stdout string) (images int, fetched int64, err error) {
	m := summaryLine.FindStringSubmatch(stdout)
	if m == nil {
		return 0, 0, fmt.Errorf("no summary line with \"fetched\" in the build's output %q", stdout)
	}
	images, _ = strconv.Atoi(m[1])
	v, err := strconv.ParseFloat(m[2], 64)
	if err != nil {
		return 0, 0, err
	}
	unit := map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40}[m[3]]
	return images, int64(v * unit), nil
}

// served returns the body bytes the registry wrote for GETs of the blobs,
// from its access log (after every request it is serving has ended).
func served(reg *badlink.Reg, blobs map[string]int64) int64 {
	var n int64
	for _, e := range reg.AccessLog() {
		i := strings.LastIndex(e.Path, "/blobs/")
		if e.Method != "GET" || i < 0 {
			continue
		}
		if _, ok := blobs[e.Path[i+len("/blobs/"):]]; ok {
			n += e.Size
		}
	}
	return n
}

// benchLinkBuild builds the fixture through host, each op a fresh build,
// and reports the bytes fetched and served over the unique bytes. On a
// cut link it also reports ok (1: the build always succeeds, or the
// benchmark fails).
func benchLinkBuild(b *testing.B, bin string, reg *badlink.Reg, fx *linkFixture, host string, cut bool) {
	var fetched, sent int64
	var cpu time.Duration
	ops := 0
	for b.Loop() {
		b.StopTimer()
		work := b.TempDir()
		before := served(reg, fx.blobs)
		c := buildCmd(bin, work, fx, host, filepath.Join(work, "b.tar"))
		b.StartTimer()
		err := c.run()
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		images, n, err := buildFetched(c.stdout.String())
		if err != nil {
			b.Fatal(err)
		}
		if images != len(fx.images) {
			b.Fatalf("the build holds %d images, want %d\n%s", images, len(fx.images), c.output.String())
		}
		fetched += n
		sent += served(reg, fx.blobs) - before
		cpu += c.cpu()
		ops++
		os.RemoveAll(work)
		b.StartTimer()
	}
	b.ReportMetric(float64(fetched)/float64(ops)/float64(fx.unique), "fetched/unique")
	b.ReportMetric(float64(sent)/float64(ops)/float64(fx.unique), "served/unique")
	b.ReportMetric(cpu.Seconds()/float64(ops), "client-CPU-s")
	if cut {
		b.ReportMetric(1, "ok")
	}
}

// benchLinkCrane pulls the fixture through host with crane, each op into
// a fresh layout. On a cut link a failure is the expected outcome: it
// reports ok, the share of ops that succeeded, and ns/op is then the time
// to fail; elsewhere a failure fails the benchmark.
func benchLinkCrane(b *testing.B, bin string, fx *linkFixture, host string, cut bool) {
	ok, ops := 0, 0
	var cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		work := b.TempDir()
		c := craneCmd(bin, work, fx, host, filepath.Join(work, "layout"))
		b.StartTimer()
		err := c.run()
		b.StopTimer()
		switch {
		case err == nil:
			ok++
		case !cut:
			b.Fatal(err)
		case ops == 0:
			b.Logf("crane failed, as expected on this link: %s", lastLine(c.output.String()))
		}
		cpu += c.cpu()
		ops++
		os.RemoveAll(work)
		b.StartTimer()
	}
	b.ReportMetric(cpu.Seconds()/float64(ops), "client-CPU-s")
	if cut {
		b.ReportMetric(float64(ok)/float64(ops), "ok")
	}
}

// benchLinkFloor is what the clean link allows any pull that verifies and
// keeps what it fetched: the fixture's blobs, nothing else (no manifests,
// no resume state, no archive), by as many connections at once as a build
// uses (4), each blob hashed as it arrives and written at its own place in
// one file in 1 MiB writes, the writeback of each started at once, and the
// file synced before the clock stops. It is the baseline that says how close the
// build comes to this machine's network and disk.
func benchLinkFloor(b *testing.B, fx *linkFixture, host string) {
	digests := slices.Sorted(maps.Keys(fx.blobs))
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 8}}
	for b.Loop() {
		b.StopTimer()
		path := filepath.Join(b.TempDir(), "blobs")
		b.StartTimer()
		if err := floorPull(client, fx, digests, host, path); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		os.Remove(path)
		b.StartTimer()
	}
}

// floorPull fetches the blobs digests of fx from host into the file path,
// 4 at a time, each at the next free offset, checks every digest, and
// syncs the file.
func floorPull(client *http.Client, fx *linkFixture, digests []string, host, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	offs := make([]int64, len(digests))
	var end int64
	for i, d := range digests {
		offs[i], end = end, end+fx.blobs[d]
	}
	var g errgroup.Group
	g.SetLimit(4)
	for i, d := range digests {
		g.Go(func() error {
			resp, err := client.Get("http://" + host + "/v2/" + fx.repos[d] + "/blobs/" + d)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET %s: %s", d, resp.Status)
			}
			h := sha256.New()
			buf := make([]byte, 1<<20)
			off := offs[i]
			for {
				n, err := io.ReadFull(resp.Body, buf)
				if n > 0 {
					h.Write(buf[:n])
					if _, err := f.WriteAt(buf[:n], off); err != nil {
						return err
					}
					unix.SyncFileRange(int(f.Fd()), off, int64(n), unix.SYNC_FILE_RANGE_WRITE)
					off += int64(n)
				}
				if err == io.EOF || err == io.ErrUnexpectedEOF {
					break
				}
				if err != nil {
					return err
				}
			}
			if got, n := "sha256:"+hex.EncodeToString(h.Sum(nil)), off-offs[i]; got != d || n != fx.blobs[d] {
				return fmt.Errorf("blob %s: %d bytes hashing to %s", d, n, got)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	return f.Sync()
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	return s[strings.LastIndexByte(s, '\n')+1:]
}

// resumeSide is how benchLinkResume drives one side: the command of a
// pull into work (the same for the killed run and the rerun), the bytes it
// has kept on disk so far, and the bytes a finished rerun fetched (ok
// false: the side cannot say; the registry's figure is used).
type resumeSide struct {
	cmd     func(work string) *linkCmd
	kept    func(work string) int64
	fetched func(c *linkCmd) (int64, bool, error)
}

func buildSide(bin string, fx *linkFixture, host string) resumeSide {
	return resumeSide{
		cmd:  func(work string) *linkCmd { return buildCmd(bin, work, fx, host, filepath.Join(work, "b.tar")) },
		kept: func(work string) int64 { return buildKept(filepath.Join(work, "b.tar"), fx.blobs) },
		fetched: func(c *linkCmd) (int64, bool, error) {
			_, n, err := buildFetched(c.stdout.String())
			return n, true, err
		},
	}
}

func craneSide(bin string, fx *linkFixture, host string) resumeSide {
	return resumeSide{
		cmd:     func(work string) *linkCmd { return craneCmd(bin, work, fx, host, filepath.Join(work, "layout")) },
		kept:    func(work string) int64 { return layoutKept(filepath.Join(work, "layout"), fx.blobs) },
		fetched: func(*linkCmd) (int64, bool, error) { return 0, false, nil },
	}
}

// benchLinkResume starts a pull, kills it (SIGKILL) once it has kept
// 1/resumeKillAt of the unique bytes, runs it again to the end in the
// same place, and reports the bytes of both runs over the unique bytes
// (fetched/unique) and the share kept at the kill (kept/unique). ns/op is
// both runs' time.
func benchLinkResume(b *testing.B, reg *badlink.Reg, fx *linkFixture, side resumeSide) {
	var total, keptAll, rerunServed int64
	var cpu time.Duration
	ops := 0
	for b.Loop() {
		b.StopTimer()
		work := b.TempDir()
		first := side.cmd(work)
		b.StartTimer()
		if err := first.cmd.Start(); err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- first.cmd.Wait() }()
		tick := time.NewTicker(2 * time.Millisecond)
	watch:
		for {
			select {
			case err := <-done:
				first.cancel()
				b.Fatalf("%s ended (%v) before 1/%d of the bytes arrived (%d of %d kept)\n%s",
					first.cmd.Args[0], err, resumeKillAt, side.kept(work), fx.unique, first.output.String())
			case <-tick.C:
				if side.kept(work) >= fx.unique/resumeKillAt {
					first.cmd.Process.Signal(syscall.SIGKILL)
					<-done
					first.cancel()
					break watch
				}
			}
		}
		tick.Stop()
		b.StopTimer()
		kept := side.kept(work)
		before := served(reg, fx.blobs)
		rerun := side.cmd(work)
		b.StartTimer()
		err := rerun.run()
		b.StopTimer()
		if err != nil {
			b.Fatal(err)
		}
		sent := served(reg, fx.blobs) - before
		n, own, err := side.fetched(rerun)
		if err != nil {
			b.Fatal(err)
		}
		if !own {
			n = sent
		}
		total += kept + n
		keptAll += kept
		rerunServed += sent
		cpu += first.cpu() + rerun.cpu()
		ops++
		os.RemoveAll(work)
		b.StartTimer()
	}
	u := float64(fx.unique) * float64(ops)
	b.ReportMetric(float64(total)/u, "fetched/unique")
	b.ReportMetric(float64(keptAll)/u, "kept/unique")
	b.ReportMetric(float64(keptAll+rerunServed)/u, "served/unique")
	b.ReportMetric(cpu.Seconds()/float64(ops), "client-CPU-s")
}

// buildKept returns the bytes of the blobs in want that a build writing
// out has kept: the ranges the download engine's <digest>.state files in
// out.partial.d record (the build writes a blob in place, into its member
// of out.partial, and keeps a state file until it is verified), and the
// blob members of out.partial that no state file speaks for (whole).
func buildKept(out string, want map[string]int64) int64 {
	var n int64
	inProgress := map[string]bool{}
	states, _ := filepath.Glob(filepath.Join(out+".partial.d", "*.state"))
	for _, p := range states {
		// A state file (named by the blob's hex digest) exists from the
		// start of the blob's download, empty until a MiB has arrived.
		inProgress[strings.TrimSuffix(filepath.Base(p), ".state")] = true
		data, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var st struct {
			Digest   string     `json:"digest"`
			Segments [][3]int64 `json:"segments"` // start, end, pos
		}
		// The file is rewritten in place, padded: the first value counts.
		if json.NewDecoder(bytes.NewReader(data)).Decode(&st) != nil {
			continue
		}
		if _, ok := want[st.Digest]; !ok {
			continue
		}
		for _, g := range st.Segments {
			n += g[2] - g[0]
		}
	}
	whole := tarWhole(out + ".partial")
	for d, size := range want {
		if h := strings.TrimPrefix(d, "sha256:"); whole[h] && !inProgress[h] {
			n += size
		}
	}
	return n
}

// tarWhole returns the hex digests of the whole blob members of a
// (partial) bundle, reading only the headers.
func tarWhole(path string) map[string]bool {
	out := map[string]bool{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return out
	}
	tr := tar.NewReader(f) // skips member data by seeking
	for {
		h, err := tr.Next()
		if err != nil {
			return out
		}
		at, err := f.Seek(0, io.SeekCurrent)
		if err != nil || at+h.Size > fi.Size() {
			return out // torn
		}
		if hex, ok := strings.CutPrefix(h.Name, "blobs/sha256/"); ok && hex != "" {
			out[hex] = true
		}
	}
}

// layoutKept returns the bytes of the blobs in want that crane has written
// to the OCI layout dir: their files in blobs/sha256, finished (named
// <hex>) or not (the temporary <hex><digits>, which a rerun does not use).
func layoutKept(dir string, want map[string]int64) int64 {
	ents, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256"))
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range ents {
		for d := range want {
			if strings.HasPrefix(e.Name(), strings.TrimPrefix(d, "sha256:")) {
				if fi, err := e.Info(); err == nil {
					n += fi.Size()
				}
				break
			}
		}
	}
	return n
}
