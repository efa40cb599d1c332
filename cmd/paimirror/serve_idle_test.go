package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle/bundletest"
)

// TestServeClosesIdleConnections makes one request on a keep-alive
// connection and leaves it idle: serve closes it once --idle-timeout has
// passed, not never.
func TestServeClosesIdleConnections(t *testing.T) {
	path, _ := buildSmall(t, bundletest.Options{})
	addr := freeAddr(t)
	startServe(t, path, "--addr", addr, "--idle-timeout", "500ms")

	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("status %d, close %v: want a kept-alive 200", resp.StatusCode, resp.Close)
	}

	// Idle from here on. The server closing the connection ends the read
	// with EOF; the deadline only bounds the test when it never does.
	start := time.Now()
	conn.SetReadDeadline(start.Add(10 * time.Second))
	_, err = br.ReadByte()
	idle := time.Since(start)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		t.Fatalf("the connection is still open after %s idle; --idle-timeout is 500ms", idle.Round(time.Millisecond))
	case err != io.EOF:
		t.Fatalf("reading the idle connection: %v, want EOF", err)
	case idle < 400*time.Millisecond:
		t.Errorf("closed after %s idle, before --idle-timeout (500ms)", idle.Round(time.Millisecond))
	}
}
