package nodes

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Test for them with errors.Is.
var (
	// ErrMirrorAddr means a mirror address is not HOST:PORT.
	ErrMirrorAddr = errors.New("not HOST:PORT")
	// ErrNoCredentials means an Auth has neither a password nor a key file.
	ErrNoCredentials = errors.New("no password and no key file to log in with")
	// ErrNoNodes means Preflight or Prepare was given no node.
	ErrNoNodes = errors.New("no nodes")
	// ErrRegistry means a Registry is not usable as given: its host, its
	// probe, its CA or its credentials.
	ErrRegistry = errors.New("invalid registry")
)

// UnreachableError reports a node that did not answer on its SSH port: no
// route, connection refused, or no answer before the dial timeout.
type UnreachableError struct {
	Node string // the node's name in layout.yaml
	Addr string // the address dialled, host:port
	Err  error  // the network error
}

// Error says what went wrong and where.
func (e *UnreachableError) Error() string {
	return fmt.Sprintf("node %s: cannot reach ssh at %s: %v", e.Node, e.Addr, e.Err)
}

// Unwrap returns the underlying error.
func (e *UnreachableError) Unwrap() error { return e.Err }

// AuthError reports that a node's sshd rejected the login: wrong user,
// password or key. It never holds the password.
type AuthError struct {
	Node string // the node's name in layout.yaml
	Addr string // the address dialled, host:port
	User string // the user that tried to log in
	Err  error  // the SSH library's error (lists the methods tried)
}

// Error says what went wrong and where.
func (e *AuthError) Error() string {
	return fmt.Sprintf("node %s: ssh login as %q at %s was rejected (check user and password in config.yaml, or the key): %v",
		e.Node, e.User, e.Addr, e.Err)
}

// Unwrap returns the underlying error.
func (e *AuthError) Unwrap() error { return e.Err }

// HostKeyChangedError reports that a node presented a host key other than
// the one recorded for it on first contact. That is what a
// man-in-the-middle looks like, and also what a reinstalled machine looks
// like; only a person can tell, so nothing connects until the old key is
// removed (HostKeys.Forget, or deleting the line from the file).
type HostKeyChangedError struct {
	Node string // the node's name in layout.yaml
	Host string // the address as recorded in the file (host, or [host]:port)
	File string // the known_hosts file holding the old key
	Line int    // the line of the old key in File
	Want string // SHA256 fingerprint recorded
	Got  string // SHA256 fingerprint the node presented
}

// Error says what went wrong and where.
func (e *HostKeyChangedError) Error() string {
	return fmt.Sprintf("node %s: the ssh host key of %s changed: recorded %s, now %s; "+
		"if the machine was reinstalled, accept the new key by deleting line %d of %s "+
		"(or run install with --accept-new-host-key=%s), otherwise someone may be intercepting the connection",
		e.Node, e.Host, e.Want, e.Got, e.Line, e.File, e.Node)
}

// SudoError reports that sudo refused to run a command on a node: wrong
// password, the user is not in sudoers, or a password is needed and none
// was given.
type SudoError struct {
	Node   string // the node's name in layout.yaml
	User   string // the SSH user
	Stderr string // what sudo said (never contains the password)
}

// Error says what went wrong and where.
func (e *SudoError) Error() string {
	msg := strings.TrimSpace(e.Stderr)
	if msg == "" {
		msg = "no message"
	}
	return fmt.Sprintf("node %s: sudo as %q refused: %s", e.Node, e.User, firstLines(msg, 3))
}

// CommandError reports a command that ran on a node and exited non-zero (or
// was killed).
type CommandError struct {
	Node   string // the node's name in layout.yaml
	Cmd    string // the command as given to Client.Run (never holds a password)
	Status int    // exit status; -1 when killed by a signal or the session broke
	Stderr string // the command's standard error
}

// Error says what went wrong and where.
func (e *CommandError) Error() string {
	msg := fmt.Sprintf("node %s: %s: exit status %d", e.Node, shortCmd(e.Cmd), e.Status)
	if s := strings.TrimSpace(e.Stderr); s != "" {
		msg += ": " + firstLines(s, 3)
	}
	return msg
}

// DaemonJSONError reports a /etc/docker/daemon.json that cannot be used:
// not JSON, not an object, a repeated key, or a mirror list that is not a
// list of strings. Prepare leaves such a file untouched.
type DaemonJSONError struct {
	Node   string // the node's name; empty from MergeDaemonJSON
	Path   string // the file
	Line   int    // 1-based position of the problem; 0 when not positional
	Column int
	Err    error // the parse error
}

// Error says what went wrong and where.
func (e *DaemonJSONError) Error() string {
	var b strings.Builder
	if e.Node != "" {
		fmt.Fprintf(&b, "node %s: ", e.Node)
	}
	b.WriteString(e.Path)
	if e.Line > 0 {
		fmt.Fprintf(&b, ": line %d, column %d", e.Line, e.Column)
	}
	fmt.Fprintf(&b, ": invalid daemon configuration: %v", e.Err)
	return b.String()
}

// Unwrap returns the underlying error.
func (e *DaemonJSONError) Unwrap() error { return e.Err }

// DockerConfigError reports a docker client config.json (root's, or
// kubelet's) that cannot be merged into: not JSON, not an object, a
// repeated key, or "auths" not an object. Prepare leaves such a file
// untouched. The message never quotes the file, which holds credentials.
type DockerConfigError struct {
	Node   string // the node's name; empty from MergeDockerAuth
	Path   string // the file; empty from MergeDockerAuth
	Line   int    // 1-based position of the problem; 0 when not positional
	Column int
	Err    error // the parse error
}

// Error says what went wrong and where.
func (e *DockerConfigError) Error() string {
	var b strings.Builder
	if e.Node != "" {
		fmt.Fprintf(&b, "node %s: ", e.Node)
	}
	if e.Path != "" {
		b.WriteString(e.Path)
	} else {
		b.WriteString("docker config.json")
	}
	if e.Line > 0 {
		fmt.Fprintf(&b, ": line %d, column %d", e.Line, e.Column)
	}
	fmt.Fprintf(&b, ": invalid docker client configuration: %v (repair or move the file away by hand; prepare leaves it untouched)", e.Err)
	return b.String()
}

// Unwrap returns the underlying error.
func (e *DockerConfigError) Unwrap() error { return e.Err }

// DockerError reports that docker did not answer after Prepare restarted it.
type DockerError struct {
	Node   string // the node's name
	Backup string // where the original daemon.json was kept
	Err    error  // the last `docker info` error, or the restart's
}

// Error says what went wrong and where.
func (e *DockerError) Error() string {
	return fmt.Sprintf("node %s: docker is not answering after the restart (see `journalctl -u docker` on the node; "+
		"a setting both in daemon.json and on dockerd's command line stops it; original daemon.json kept as %s): %v",
		e.Node, e.Backup, e.Err)
}

// Unwrap returns the underlying error.
func (e *DockerError) Unwrap() error { return e.Err }

// BlockingError is what Table.Err returns when a blocking check failed.
type BlockingError struct {
	Failures []CheckResult // every blocking failure, in table order
}

// Error says what went wrong and where.
func (e *BlockingError) Error() string {
	parts := make([]string, 0, len(e.Failures))
	for _, f := range e.Failures {
		parts = append(parts, f.Node+"/"+f.Check)
	}
	return fmt.Sprintf("preflight: %d blocking check(s) failed: %s", len(e.Failures), strings.Join(parts, ", "))
}

// firstLines keeps at most n lines of s, joined with "; ".
func firstLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = append(lines[:n], "...")
	}
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}

// shortCmd abbreviates a command (often a multi-line script) for messages.
func shortCmd(cmd string) string {
	first := strings.TrimSpace(cmd)
	if i := strings.IndexByte(first, '\n'); i >= 0 {
		first = strings.TrimSpace(first[:i]) + " ..."
	}
	if len(first) > 80 {
		first = first[:77] + "..."
	}
	return fmt.Sprintf("%q", first)
}
