package fileserver

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"syscall"
	"time"
)

// connTracker follows every connection of an http.Server through its
// ConnState hook: which are idle keep-alive connections (and since when),
// and when the server last had a request in flight. Serve uses it to shed
// idle connections when descriptors run short and to tell when a drain
// has gone quiet. Its methods are safe for concurrent use; each costs a
// lock and, for shedding and the drain's check, a pass over the open
// connections.
type connTracker struct {
	mu    sync.Mutex
	conns map[net.Conn]connEntry
	// changed is when a connection last started or stopped serving a
	// request (or was opened or closed).
	changed time.Time
}

type connEntry struct {
	state http.ConnState
	since time.Time
}

func newConnTracker() *connTracker {
	return &connTracker{conns: map[net.Conn]connEntry{}, changed: time.Now()}
}

// state is the http.Server.ConnState hook.
func (t *connTracker) state(c net.Conn, s http.ConnState) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.changed = now
	switch s {
	case http.StateClosed, http.StateHijacked:
		delete(t.conns, c)
	default:
		t.conns[c] = connEntry{state: s, since: now}
	}
}

// newGrace is how long a connection that has sent no request yet counts
// as busy (net/http's Shutdown waits the same before closing one).
const newGrace = 5 * time.Second

// busy returns how many connections are serving a request or were opened
// within newGrace and have sent none yet, and when a connection last
// changed state.
func (t *connTracker) busy() (n int, changed time.Time) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.conns {
		if e.state == http.StateActive || (e.state == http.StateNew && now.Sub(e.since) < newGrace) {
			n++
		}
	}
	return n, t.changed
}

// shedIdle closes up to n idle keep-alive connections, the longest idle
// first, and returns how many it closed. It closes the TCP connection
// under a TLS one, so no close alert can block it. A client whose request
// was crossing the close on the wire sees the connection reset; clients
// retry such requests on a new connection.
func (t *connTracker) shedIdle(n int) int {
	t.mu.Lock()
	var idle []net.Conn
	for c, e := range t.conns {
		if e.state == http.StateIdle {
			idle = append(idle, c)
		}
	}
	slices.SortFunc(idle, func(a, b net.Conn) int { return t.conns[a].since.Compare(t.conns[b].since) })
	idle = idle[:min(n, len(idle))]
	for _, c := range idle {
		delete(t.conns, c)
	}
	t.mu.Unlock()
	for _, c := range idle {
		if nc, ok := c.(interface{ NetConn() net.Conn }); ok {
			c = nc.NetConn()
		}
		c.Close()
	}
	return len(idle)
}

// shedBatch is how many idle connections shedListener closes each time an
// accept fails for want of descriptors: one for the new connection, the
// rest for what its requests open (a file request opens the bundle again).
const shedBatch = 4

// shortageLogEvery bounds how often shedListener logs that descriptors ran
// short.
const shortageLogEvery = time.Minute

// shedListener keeps accepting when the process runs out of file
// descriptors. net/http's Server, when Accept fails with EMFILE or ENFILE,
// only sleeps and retries while every descriptor stays held, mostly by
// idle keep-alive connections; new clients then wait until --idle-timeout
// frees some. shedListener instead closes the longest idle keep-alive
// connections (shedBatch at a time) and accepts at once; with none idle
// it waits, 5 ms doubling up to 1 s, as net/http would. It logs the
// shortage at once and then at most every shortageLogEvery, with counts.
type shedListener struct {
	net.Listener
	conns *connTracker
	log   *slog.Logger

	mu      sync.Mutex
	logged  time.Time
	failed  int // accepts that failed since the last record
	shedNum int // connections closed since the last record
}

func (l *shedListener) Accept() (net.Conn, error) {
	wait := 5 * time.Millisecond
	for {
		c, err := l.Listener.Accept()
		if err == nil || !descriptorShortage(err) {
			return c, err
		}
		shed := l.conns.shedIdle(shedBatch)
		l.report(err, shed)
		if shed > 0 {
			wait = 5 * time.Millisecond
			continue
		}
		time.Sleep(wait)
		wait = min(2*wait, time.Second)
	}
}

func descriptorShortage(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE)
}

func (l *shedListener) report(err error, shed int) {
	l.mu.Lock()
	l.failed++
	l.shedNum += shed
	if !l.logged.IsZero() && time.Since(l.logged) < shortageLogEvery {
		l.mu.Unlock()
		return
	}
	failed, shedNum := l.failed, l.shedNum
	l.logged, l.failed, l.shedNum = time.Now(), 0, 0
	l.mu.Unlock()
	l.log.Error("file descriptors ran short: a connection could not be accepted; closing the longest idle keep-alive connections to make room (raise the limit: ulimit -n, or LimitNOFILE= for a systemd unit; or lower --idle-timeout)",
		"err", err, "failed_accepts", failed, "idle_closed", shedNum)
}
