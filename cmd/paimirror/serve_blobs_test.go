package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
)

// metricSamples reads serve's /metrics into value by series, each series
// with its labels sorted by name (`name{a="1",b="2"}`).
func metricSamples(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if line == "" || strings.HasPrefix(line, "#") || i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("/metrics line %q: %v", line, err)
		}
		series := line[:i]
		if name, labels, ok := strings.Cut(series, "{"); ok {
			l := strings.Split(strings.TrimSuffix(labels, "}"), ",")
			slices.Sort(l)
			series = name + "{" + strings.Join(l, ",") + "}"
		}
		out[series] = v
	}
	return out
}

// TestServeBlobs pulls blobs from a real paimirror serve, one of them
// damaged in the bundle: the whole ones arrive whole (GET, Range, HEAD),
// the damaged one never does, and /metrics and the access log count every
// request, the damaged one as cut short.
func TestServeBlobs(t *testing.T) {
	path, _ := buildSmall(t, bundletest.Options{LayerSize: 64 << 10})
	b, err := bundle.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	img := b.Lock.Images[0]
	good, bad := img.Layers[0], img.Layers[len(img.Layers)-1]
	want, err := b.ReadBlob(good.Digest, 1<<30)
	b.Close()
	if err != nil {
		t.Fatal(err)
	}
	if good.Digest == bad.Digest {
		t.Fatal("the first image has one layer")
	}
	if err := bundletest.FlipByte(path, bad.Digest); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	_, log := startServe(t, path, "--addr", addr, "--access-log")
	repo, _, _ := strings.Cut(img.Names[0], ":")
	blobURL := func(d digest.Digest) string { return fmt.Sprintf("http://%s/v2/%s/blobs/%s", addr, repo, d) }

	// A connection each: Go's client would send a GET again that got no
	// answer on a reused one.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, Proxy: nil}}
	get := func(method, u, rng string) (*http.Response, []byte, error) {
		req, _ := http.NewRequest(method, u, nil)
		if rng != "" {
			req.Header.Set("Range", rng)
		}
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp, body, err
	}
	resp, body, err := get(http.MethodGet, blobURL(good.Digest), "")
	if sum := sha256.Sum256(body); err != nil || resp.StatusCode != http.StatusOK || "sha256:"+hex.EncodeToString(sum[:]) != string(good.Digest) {
		t.Fatalf("GET %s: %v, %d bytes, err %v", good.Digest, resp.Status, len(body), err)
	}
	resp, body, err = get(http.MethodGet, blobURL(good.Digest), "bytes=1000-")
	if err != nil || resp.StatusCode != http.StatusPartialContent || !bytes.Equal(body, want[1000:]) {
		t.Fatalf("ranged GET: %v, %d bytes, err %v", resp.Status, len(body), err)
	}
	resp, _, err = get(http.MethodHead, blobURL(good.Digest), "")
	if err != nil || resp.StatusCode != http.StatusOK || resp.ContentLength != good.Size {
		t.Fatalf("HEAD: %v, %d, err %v", resp.Status, resp.ContentLength, err)
	}
	if resp, body, err := get(http.MethodGet, blobURL(bad.Digest), ""); err == nil {
		t.Fatalf("the damaged blob arrived whole: %s, %d bytes", resp.Status, len(body))
	}

	m := metricSamples(t, addr)
	for series, v := range map[string]float64{
		`paimirror_http_requests_total{code="200",kind="blob"}`:     3, // the damaged one's headers were set, never sent
		`paimirror_http_requests_total{code="206",kind="blob"}`:     1,
		`paimirror_http_response_bytes_total{kind="blob"}`:          float64(2*len(want) - 1000),
		`paimirror_http_errors_total{kind="blob",reason="aborted"}`: 1,
		`paimirror_http_requests_in_flight{kind="blob"}`:            0,
	} {
		if m[series] != v {
			t.Errorf("%s = %v, want %v", series, m[series], v)
		}
	}
	logged := log.String()
	if n := strings.Count(logged, "/blobs/"+string(good.Digest)); n != 3 {
		t.Errorf("the access log has %d lines for the good blob, want 3:\n%s", n, logged)
	}
	if !strings.Contains(logged, string(bad.Digest)) || !strings.Contains(logged, "paimirror verify") {
		t.Errorf("the log does not name the damaged blob and paimirror verify:\n%s", logged)
	}
}
