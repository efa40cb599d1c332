package badlink

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// AccessEntry is one line of the registry's access log: one request it
// answered.
type AccessEntry struct {
	Method string
	// URI is the request target as sent, query included.
	URI string
	// Path is URI without its query.
	Path   string
	Status int
	// Size is the number of body bytes the registry wrote for the
	// response: the whole body, or the part written before the client went
	// away. Bytes the kernel took but the client never read count, so after
	// a cut connection it can exceed what the client received by the
	// connection's buffers (a few MiB on loopback).
	Size int64
}

// combinedLine matches the Apache combined log format that the registry's
// access log (gorilla/handlers' CombinedLoggingHandler) writes:
//
//	127.0.0.1 - - [07/Dec/2026:10:04:01 +0000] "GET /v2/x/blobs/sha256:... HTTP/1.1" 206 3001027 "" "curl/7.88.1"
var combinedLine = regexp.MustCompile(`^\S+ \S+ \S+ \[[^\]]*\] "(\S+) (\S+) [^"]*" (\d{3}) (\d+) `)

// parseAccessLine returns the entry a combined log line records.
func parseAccessLine(line string) (AccessEntry, bool) {
	m := combinedLine.FindStringSubmatch(line)
	if m == nil {
		return AccessEntry{}, false
	}
	status, err1 := strconv.Atoi(m[3])
	size, err2 := strconv.ParseInt(m[4], 10, 64)
	if err1 != nil || err2 != nil {
		return AccessEntry{}, false
	}
	path, _, _ := strings.Cut(m[2], "?")
	return AccessEntry{Method: m[1], URI: m[2], Path: path, Status: status, Size: size}, true
}

// accessLog is an io.Writer for the registry's standard output: it parses
// the access log lines into entries and passes every other line on to
// other. It is safe for concurrent use.
type accessLog struct {
	other *tail

	mu      sync.Mutex
	partial []byte
	entries []AccessEntry
	changed chan struct{} // closed and replaced whenever entries grows
}

func newAccessLog(other *tail) *accessLog {
	return &accessLog{other: other, changed: make(chan struct{})}
}

func (l *accessLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.partial = append(l.partial, p...)
	added := false
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		line := string(l.partial[:i+1])
		l.partial = l.partial[i+1:]
		if e, ok := parseAccessLine(line); ok {
			l.entries = append(l.entries, e)
			added = true
			continue
		}
		l.other.Write([]byte(line))
	}
	if added {
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return len(p), nil
}

// snapshot returns the entries so far and a channel closed when more come.
func (l *accessLog) snapshot() ([]AccessEntry, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.entries[:len(l.entries):len(l.entries)], l.changed
}
