package nodes

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/paimirror/paimirror/manifests/atomicfile"
)

// HostKeys is the record of the nodes' SSH host keys: trust on first use.
//
// The record is a file in OpenSSH's known_hosts format (one
// "host key-type base64-key" line per key, hosts as "10.0.0.1" for port 22
// and "[10.0.0.1]:2222" otherwise, never hashed), so `ssh -o
// UserKnownHostsFile=FILE` reads it too. The first connection to an address
// records the key the node presents; later connections must present that
// key, or Dial fails with a *HostKeyChangedError and nothing is sent to the
// node (not even the password, which goes only after the key is accepted).
//
// A HostKeys is safe for concurrent use by the goroutines of one process; it
// does not lock the file against other processes.
type HostKeys struct {
	path string
	mu   sync.Mutex
}

// OpenHostKeys opens the record at path, typically "known_hosts" in the
// install's state directory. The file need not exist (it is created, mode
// 0600, with the first key); its directory is created (mode 0700) if
// missing. An existing file that is not valid known_hosts text is an error.
func OpenHostKeys(path string) (*HostKeys, error) {
	if path == "" {
		return nil, errors.New("opening host keys: empty path")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("opening host keys: %w", err)
	}
	k := &HostKeys{path: path}
	if _, err := k.load(); err != nil {
		return nil, err
	}
	return k, nil
}

// Path returns the file the keys are recorded in.
func (k *HostKeys) Path() string { return k.path }

// load parses the file; a missing file holds no keys.
func (k *HostKeys) load() (ssh.HostKeyCallback, error) {
	if _, err := os.Stat(k.path); errors.Is(err, os.ErrNotExist) {
		return func(string, net.Addr, ssh.PublicKey) error { return &knownhosts.KeyError{} }, nil
	}
	cb, err := knownhosts.New(k.path)
	if err != nil {
		return nil, fmt.Errorf("reading host keys: %w", err)
	}
	return cb, nil
}

// callback checks (or, on first contact, records) the key a node presents.
func (k *HostKeys) callback(node string, log *slog.Logger) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		k.mu.Lock()
		defer k.mu.Unlock()
		check, err := k.load()
		if err != nil {
			return err
		}
		err = check(hostname, remote, key)
		var ke *knownhosts.KeyError
		switch {
		case err == nil:
			return nil
		case errors.As(err, &ke) && len(ke.Want) == 0:
			if err := k.appendLine(knownhosts.Line([]string{knownhosts.Normalize(hostname)}, key)); err != nil {
				return err
			}
			log.Info("recorded new ssh host key", "node", node, "host", knownhosts.Normalize(hostname),
				"fingerprint", ssh.FingerprintSHA256(key), "file", k.path)
			return nil
		case errors.As(err, &ke):
			want := ke.Want[0]
			for _, w := range ke.Want {
				if w.Key.Type() == key.Type() {
					want = w
					break
				}
			}
			return &HostKeyChangedError{
				Node: node, Host: knownhosts.Normalize(hostname), File: want.Filename, Line: want.Line,
				Want: ssh.FingerprintSHA256(want.Key), Got: ssh.FingerprintSHA256(key),
			}
		default:
			return err // e.g. *knownhosts.RevokedError
		}
	}
}

// algorithms returns the host key algorithms to ask a known host for, so a
// node with several host keys presents the one on record; nil for an
// unknown host (any algorithm).
func (k *HostKeys) algorithms(addr string) []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	check, err := k.load()
	if err != nil {
		return nil
	}
	// Ask about a key no host has: the answer lists the keys on record.
	var ke *knownhosts.KeyError
	if err := check(addr, probeAddr(addr), probeKey()); !errors.As(err, &ke) {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, w := range ke.Want {
		names := []string{w.Key.Type()}
		if w.Key.Type() == ssh.KeyAlgoRSA {
			names = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		}
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				algos = append(algos, n)
			}
		}
	}
	return algos
}

// Forget removes every key recorded for addr (an IP or host, with or
// without ":port"; port 22 when absent), so that the next connection
// records the key the node presents now. It is how a user accepts the new
// key of a reinstalled machine. It returns how many lines it removed.
func (k *HostKeys) Forget(addr string) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	data, err := os.ReadFile(k.path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("forgetting host key of %s: %w", addr, err)
	}
	want := knownhosts.Normalize(addr)
	var out bytes.Buffer
	removed := 0
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		fields := strings.Fields(line)
		if len(fields) >= 2 && !strings.HasPrefix(fields[0], "#") && !strings.HasPrefix(fields[0], "@") {
			hosts := strings.Split(fields[0], ",")
			for _, h := range hosts {
				if h == want {
					removed++
					line = ""
					break
				}
			}
			if line == "" {
				continue
			}
		}
		out.WriteString(line)
		out.WriteByte('\n')
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("forgetting host key of %s: %w", addr, err)
	}
	if removed == 0 {
		return 0, nil
	}
	if err := atomicfile.WriteFile(k.path, out.Bytes(), 0o600); err != nil {
		return 0, fmt.Errorf("forgetting host key of %s: %w", addr, err)
	}
	return removed, nil
}

// appendLine adds one line to the file, creating it, and syncs it.
func (k *HostKeys) appendLine(line string) error {
	f, err := os.OpenFile(k.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("recording host key: %w", err)
	}
	if _, err := f.WriteString(line + "\n"); err != nil {
		f.Close()
		return fmt.Errorf("recording host key: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("recording host key: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("recording host key: %w", err)
	}
	return nil
}

// probeKey is a public key no node has, used to list the keys on record.
var probeKey = sync.OnceValue(func() ssh.PublicKey {
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		panic(err)
	}
	return k
})

// probeAddr turns "host:port" into the net.Addr knownhosts wants.
func probeAddr(addr string) net.Addr {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		host, port = addr, "22"
	}
	ap := &net.TCPAddr{IP: net.ParseIP(host)}
	fmt.Sscan(port, &ap.Port)
	return ap
}
