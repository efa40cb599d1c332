package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/paimirror/paimirror/bundle/bundletest"
)

// TestServeShedsIdleWhenDescriptorsRunShort runs serve with 32 file
// descriptors and opens twice as many keep-alive connections, one after
// another, each making one request and then staying idle: every one is
// answered, because serve closes the longest idle connections to accept
// new ones, the first connection is among those closed, and the log says
// descriptors ran short.
func TestServeShedsIdleWhenDescriptorsRunShort(t *testing.T) {
	path, _ := buildSmall(t, bundletest.Options{})
	addr := freeAddr(t)
	_, log := startServeEnv(t, []string{"PAIMIRROR_TEST_RLIMIT_NOFILE=32"}, path, "--addr", addr)

	type client struct {
		c  net.Conn
		br *bufio.Reader
	}
	var clients []client
	t.Cleanup(func() {
		for _, cl := range clients {
			cl.c.Close()
		}
	})
	for i := range 64 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, client{c, bufio.NewReader(c)})
		// The deadline only bounds the test when serve never answers.
		c.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := http.ReadResponse(clients[i].br, nil)
		if err != nil {
			t.Fatalf("connection %d of 64 got no answer: %v\n%s", i+1, err, log)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("connection %d: %s", i+1, resp.Status)
		}
	}
	if !strings.Contains(log.String(), "file descriptors ran short") {
		t.Errorf("serve did not log the shortage:\n%s", log)
	}
	// The first connection has been idle longest: serve closed it.
	_, err := clients[0].br.ReadByte()
	if err != io.EOF && !errors.Is(err, syscall.ECONNRESET) {
		if errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("the longest idle connection is still open")
		} else {
			t.Errorf("reading the longest idle connection: %v, want EOF", err)
		}
	}
}
