package files_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/bundletest"
	"github.com/paimirror/paimirror/fileserver/files"
)

// testBundle is bundletest's default fixture under the names these tests
// use.
type testBundle struct {
	b *bundle.Bundle
	// data is each file's content as the upstream served it, by URL.
	data map[string][]byte
}

func TestMain(m *testing.M) { os.Exit(bundletest.RunTests(m)) }

// defaultBundle returns the bundle of manifests.Default() built once per
// test binary and shared (read-only) by every test.
func defaultBundle(t testing.TB) *testBundle {
	t.Helper()
	f := bundletest.DefaultBundle(t)
	return &testBundle{b: f.Bundle, data: f.FileData}
}

// start serves the shared bundle on 127.0.0.1:0 and returns the server and
// its HOST:PORT.
func start(t *testing.T, o files.Options) (*files.Server, string) {
	t.Helper()
	tb := defaultBundle(t)
	if o.Logger == nil {
		o.Logger = testLogger(t)
	}
	s := files.New(tb.b, o)
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return s, strings.TrimPrefix(ts.URL, "http://")
}

// testLogger logs through t, from Info up (Debug has a line per request).
func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type tWriter struct{ t *testing.T }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// response is what curl got.
type response struct {
	code   int
	header http.Header
	body   []byte
}

// curl runs the real curl with args (the URL among them), without proxies
// or a .curlrc, and returns the status, headers and body.
func curl(t *testing.T, args ...string) response {
	t.Helper()
	bin := bundletest.Tool(t, "curl")
	dir := t.TempDir()
	bodyFile, headFile := filepath.Join(dir, "body"), filepath.Join(dir, "head")
	full := append([]string{"-q", "-sS", "--noproxy", "*", "--max-time", "30", "-o", bodyFile, "-D", headFile, "-w", "%{http_code}"}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	code, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("curl %s: status %q", strings.Join(args, " "), out)
	}
	body, _ := os.ReadFile(bodyFile)
	head, _ := os.ReadFile(headFile)
	return response{code: code, header: parseHeader(t, head), body: body}
}

// cleanEnv is the environment without proxy settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasSuffix(strings.ToLower(k), "_proxy") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// parseHeader reads the headers curl dumped (of the last response).
func parseHeader(t *testing.T, head []byte) http.Header {
	t.Helper()
	blocks := strings.Split(strings.TrimSpace(strings.ReplaceAll(string(head), "\r\n", "\n")), "\n\n")
	last := blocks[len(blocks)-1]
	r := textproto.NewReader(bufio.NewReader(strings.NewReader(last + "\n\n")))
	if _, err := r.ReadLine(); err != nil { // the status line
		t.Fatalf("curl headers: %v", err)
	}
	h, err := r.ReadMIMEHeader()
	if err != nil {
		t.Fatalf("curl headers %q: %v", last, err)
	}
	return http.Header(h)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// fileAt returns the lock's file served at path p.
func fileAt(t *testing.T, p string) bundle.File {
	t.Helper()
	for _, f := range defaultBundle(t).b.Lock.Files {
		for _, fp := range f.Paths {
			if fp == p {
				return f
			}
		}
	}
	t.Fatalf("no file of the bundle is served at %s", p)
	return bundle.File{}
}

func url(addr, p string) string { return fmt.Sprintf("http://%s%s", addr, p) }
