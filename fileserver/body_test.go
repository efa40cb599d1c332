package fileserver

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// bodyServer runs limitBodies with limits around a handler that reads
// the body of uploads (reporting how the read ended on the returned
// channel) and ignores the body of everything else, as serve's handlers
// do, on a real server on 127.0.0.1.
func bodyServer(t *testing.T, limits bodyLimits) (string, <-chan error) {
	t.Helper()
	reads := make(chan error, 10)
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			io.WriteString(w, "ok")
			return
		}
		n, err := io.Copy(io.Discard, r.Body)
		reads <- err
		fmt.Fprintf(w, "read %d bytes", n)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: limitBodies(inner, true, limits, &atomic.Bool{}), ReadHeaderTimeout: time.Minute}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String(), reads
}

// TestServeBoundsBodies checks how serve reads request bodies: a GET whose
// body trickles in is answered at once and its connection closed (the
// body is never waited for); an upload whose body stops arriving fails
// with a read timeout once a window passes without enough progress; an
// upload that keeps coming is read whole however long it takes.
func TestServeBoundsBodies(t *testing.T) {
	limits := bodyLimits{window: 2 * time.Second, progress: 1024}

	t.Run("GET with a trickling body", func(t *testing.T) {
		addr, _ := bodyServer(t, limits)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// The deadline only bounds the test when serve never answers.
		c.SetDeadline(time.Now().Add(20 * time.Second))
		io.WriteString(c, "GET /file HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
		br := bufio.NewReader(c)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("no answer while the body trickles: %v", err)
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || string(body) != "ok" {
			t.Errorf("%s %q", resp.Status, body)
		}
		if !resp.Close {
			t.Error("the answer keeps the connection, whose body is still unread, alive")
		}
		if _, err := br.ReadByte(); err != io.EOF {
			t.Errorf("after the answer: %v, want EOF", err)
		}
	})

	t.Run("stalled upload", func(t *testing.T) {
		addr, reads := bodyServer(t, limits)
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		io.WriteString(c, "PATCH /v2/lab/x/blobs/uploads/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n"+strings.Repeat("x", 2000))
		select {
		case err := <-reads:
			if !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("reading a stalled upload ended with %v, want a read timeout", err)
			}
		case <-time.After(30 * time.Second):
			t.Fatal("a stalled upload is still being read after 30s; the window is 2s")
		}
	})

	t.Run("steady upload longer than the window", func(t *testing.T) {
		addr, reads := bodyServer(t, limits)
		pr, pw := io.Pipe()
		go func() {
			chunk := strings.Repeat("y", 4096)
			for range 16 { // 16 × 250 ms: twice the window
				if _, err := io.WriteString(pw, chunk); err != nil {
					return
				}
				time.Sleep(250 * time.Millisecond)
			}
			pw.Close()
		}()
		req, _ := http.NewRequest(http.MethodPatch, "http://"+addr+"/v2/lab/x/blobs/uploads/2", pr)
		req.ContentLength = 16 * 4096
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err := <-reads; err != nil {
			t.Errorf("reading a steady upload: %v", err)
		}
		if string(body) != fmt.Sprintf("read %d bytes", 16*4096) {
			t.Errorf("%s %q", resp.Status, body)
		}
	})
}
