package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/bundle/bundletest/badlink"
)

// TestServeReplicasBehindHAProxy serves three copies of one bundle with
// three serve processes behind a real HAProxy configured as the README's
// "serve replicas" section says, starts 32 parallel image pulls through
// it, and kills one replica with SIGKILL once a quarter of the bytes have
// arrived. Each puller behaves as docker and containerd do: a blob whose
// transfer breaks is asked for again from the byte it reached (Range).
// Every pull must complete with every digest checked, and at least one
// must have met the kill.
func TestServeReplicasBehindHAProxy(t *testing.T) {
	sel := firstImages(t, 8)
	// 16 MiB layers: serve hands blobs to the kernel (sendfile), whose
	// socket buffer (up to 4 MiB) is delivered even after a kill, so the
	// kill must meet responses with more than that still to send.
	_, path := bundletest.Build(t, sel, bundletest.Options{LayerSize: 16 << 20})
	b, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	var replicas []*replica
	var backends []string
	for i := range 3 {
		cp := filepath.Join(t.TempDir(), fmt.Sprintf("copy%d.tar", i))
		copyFile(t, path, cp)
		addr := freeAddr(t)
		cmd, _ := startServe(t, "--addr", addr, cp)
		replicas = append(replicas, &replica{cmd: cmd, addr: addr})
		backends = append(backends, addr)
	}
	lb := badlink.HAProxy(t, backends)

	const pulls = 32
	var total int64
	for i := range pulls {
		img := b.Lock.Images[i%len(b.Lock.Images)]
		total += img.Size
		for _, bl := range img.Blobs() {
			total += bl.Size
		}
	}
	var received, resumed, broken atomic.Int64
	// A small receive buffer keeps each response in flight, not buffered
	// whole by the kernel, when the replica is killed.
	dialer := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10) })
	}}
	client := &http.Client{Transport: &http.Transport{Proxy: nil, MaxIdleConnsPerHost: pulls, DisableCompression: true, DialContext: dialer.DialContext}}
	defer client.CloseIdleConnections()
	errs := make([]error, pulls)
	var wg sync.WaitGroup
	for i := range pulls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := &puller{client: client, base: "http://" + lb.Addr, received: &received, resumed: &resumed, broken: &broken}
			errs[i] = p.pull(b.Lock.Images[i%len(b.Lock.Images)])
		}()
	}
	deadline := time.Now().Add(60 * time.Second)
	for received.Load() < total/4 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	killedAt := received.Load()
	if err := replicas[1].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("pull %d: %v", i, err)
		}
	}
	if killedAt >= total {
		t.Fatalf("every pull had finished before the kill")
	}
	if broken.Load() == 0 {
		t.Errorf("no transfer broke: the killed replica was serving none of the %d pulls (killed at %d of %d bytes)", pulls, killedAt, total)
	}
	t.Logf("%d pulls, %d bytes; replica 2 killed at %d; %d transfers broke, %d resumed with Range", pulls, total, killedAt, broken.Load(), resumed.Load())
}

type replica struct {
	cmd  *exec.Cmd
	addr string
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// puller pulls an image over the registry API as docker and containerd
// do: the manifest by tag, then each blob, a broken blob transfer asked
// for again from where it stopped (up to 10 times), every digest checked.
type puller struct {
	client                    *http.Client
	base                      string
	received, resumed, broken *atomic.Int64
}

func (p *puller) pull(img bundle.Image) error {
	repo, tag, _ := strings.Cut(img.Names[0], ":")
	var manifest []byte
	err := p.retry(func() error {
		req, _ := http.NewRequest(http.MethodGet, p.base+"/v2/"+repo+"/manifests/"+tag, nil)
		req.Header.Set("Accept", img.MediaType)
		resp, err := p.client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("manifest: %s", resp.Status)
		}
		manifest, err = io.ReadAll(resp.Body)
		p.received.Add(int64(len(manifest)))
		return err
	})
	if err != nil {
		return err
	}
	if d := digestOf(manifest); d != img.Digest {
		return fmt.Errorf("manifest digest %s, want %s", d, img.Digest)
	}
	for _, bl := range img.Blobs() {
		if err := p.blob(repo, bl); err != nil {
			return fmt.Errorf("%s blob %s: %w", repo, bl.Digest, err)
		}
	}
	return nil
}

// blob fetches one blob, resuming a broken transfer with Range.
func (p *puller) blob(repo string, bl bundle.Blob) error {
	var got bytes.Buffer
	attempts := 0
	err := p.retry(func() error {
		attempts++
		req, _ := http.NewRequest(http.MethodGet, p.base+"/v2/"+repo+"/blobs/"+string(bl.Digest), nil)
		if got.Len() > 0 {
			req.Header.Set("Range", fmt.Sprintf("bytes=%d-", got.Len()))
			p.resumed.Add(1)
		}
		resp, err := p.client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		switch {
		case resp.StatusCode == http.StatusOK:
			got.Reset()
		case resp.StatusCode == http.StatusPartialContent && got.Len() > 0:
		default:
			return fmt.Errorf("GET: %s", resp.Status)
		}
		// Read in paced chunks, as a node on a busy LAN does: the pulls
		// stay in flight long enough for the kill to meet some of them,
		// however loaded the machine is.
		buf := make([]byte, 256<<10)
		for {
			n, err := resp.Body.Read(buf)
			got.Write(buf[:n])
			p.received.Add(int64(n))
			if err == io.EOF {
				return nil
			}
			if err != nil {
				p.broken.Add(1)
				return err
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	if err != nil {
		return fmt.Errorf("after %d attempts: %w", attempts, err)
	}
	if int64(got.Len()) != bl.Size || digestOf(got.Bytes()) != bl.Digest {
		return fmt.Errorf("got %d bytes hashing to %s", got.Len(), digestOf(got.Bytes()))
	}
	return nil
}

func (p *puller) retry(f func() error) error {
	var errs []error
	for range 10 {
		err := f()
		if err == nil {
			return nil
		}
		errs = append(errs, err)
		time.Sleep(50 * time.Millisecond)
	}
	return errors.Join(errs...)
}

func digestOf(b []byte) digest.Digest { return digest.FromBytes(b) }
