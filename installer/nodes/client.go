package nodes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/paimirror/paimirror/manifests/shell"
)

// Role is what a machine is in the cluster.
type Role int

// The roles of layout.yaml's machines, and the dev box that runs the
// install.
const (
	Master Role = iota + 1 // the machine with pai-master: "true"
	Worker                 // a machine with pai-worker: "true"
	DevBox                 // the machine paimirror install runs on
)

// String returns "master", "worker" or "dev-box".
func (r Role) String() string {
	switch r {
	case Master:
		return "master"
	case Worker:
		return "worker"
	case DevBox:
		return "dev-box"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// Node is one machine to check and prepare.
type Node struct {
	// Name is the machine's hostname in layout.yaml; the preflight checks the
	// machine's own hostname against it (not for the dev box).
	Name string
	// Addr is the address to reach it at: an IP or host name (port 22), or
	// "host:port". For masters and workers it is layout.yaml's hostip, which
	// the preflight checks is one of the machine's own addresses. The dev
	// box is reached over SSH like any node: "127.0.0.1" when paimirror
	// runs on it, which needs an sshd there.
	Addr string
	// Role is Master, Worker or DevBox.
	Role Role
	// GPU marks a worker with NVIDIA GPUs (a machine-sku with
	// computing-device nvidia.com/gpu): nvidia-smi must work and docker's
	// default runtime must be nvidia.
	GPU bool
	// Storage marks the worker with pai-storage: "true".
	Storage bool
}

// sshAddr returns Addr with port 22 added when it has none.
func (n Node) sshAddr() string {
	if _, _, err := net.SplitHostPort(n.Addr); err == nil {
		return n.Addr
	}
	return net.JoinHostPort(strings.Trim(n.Addr, "[]"), "22")
}

// host returns Addr without its port.
func (n Node) host() string {
	if h, _, err := net.SplitHostPort(n.Addr); err == nil {
		return h
	}
	return strings.Trim(n.Addr, "[]")
}

// Auth is how to log in to the nodes: config.yaml's user and password, or
// a private key. The same credentials work on every node, as pai requires.
//
// The password is sent only to sshd (after the host key is accepted) and to
// sudo on its standard input. It never appears on a command line, in a log
// record, in an error or in a file; Auth's String, GoString and LogValue
// hide it.
type Auth struct {
	// User is the SSH user; it must be allowed to sudo.
	User string
	// Password logs in (password and keyboard-interactive methods) and is
	// sudo's password. It may be empty with KeyFile and passwordless sudo.
	Password string
	// KeyFile is an unencrypted private key (OpenSSH or PEM format), tried
	// before the password.
	KeyFile string
}

// String describes a without its password.
func (a Auth) String() string {
	pw := "none"
	if a.Password != "" {
		pw = "set"
	}
	return fmt.Sprintf("user=%s password=%s key=%s", a.User, pw, a.KeyFile)
}

// GoString is String, so %#v does not print the password either.
func (a Auth) GoString() string { return "nodes.Auth{" + a.String() + "}" }

// LogValue keeps the password out of slog records.
func (a Auth) LogValue() slog.Value {
	return slog.GroupValue(slog.String("user", a.User), slog.Bool("password", a.Password != ""), slog.String("key", a.KeyFile))
}

// DialOptions configures Dial. The zero value works.
type DialOptions struct {
	// Timeout bounds the TCP connect and, separately, the SSH handshake;
	// default 10s.
	Timeout time.Duration
	// Logger receives debug records of the commands run and an info record
	// for each host key recorded; default: discard.
	Logger *slog.Logger
}

func (o DialOptions) withDefaults() DialOptions {
	if o.Timeout <= 0 {
		o.Timeout = 10 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Client is an SSH connection to one node. Its methods are safe for
// concurrent use; each Run opens its own session on the connection.
type Client struct {
	node     Node
	user     string
	password string
	conn     *ssh.Client
	log      *slog.Logger

	sudoMu   sync.Mutex
	sudoMode sudoMode
}

// sudoMode is how commands get root on a node.
type sudoMode int

const (
	sudoUnknown  sudoMode = iota
	sudoRoot              // logged in as root: no sudo
	sudoNoPasswd          // sudo -n works
	sudoPassword          // sudo -S with the password on stdin
)

// Dial connects and logs in to n over SSH, checking its host key against
// keys (trust on first use).
//
// Errors: *UnreachableError when nothing answers at the address,
// *AuthError when the login is rejected, *HostKeyChangedError when the node
// presents a key other than the recorded one.
func Dial(ctx context.Context, n Node, auth Auth, keys *HostKeys, opts DialOptions) (*Client, error) {
	opts = opts.withDefaults()
	if keys == nil {
		return nil, fmt.Errorf("node %s: dialling without a host key record", n.Name)
	}
	if auth.User == "" {
		return nil, fmt.Errorf("node %s: no ssh user", n.Name)
	}
	methods, err := authMethods(auth)
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", n.Name, err)
	}
	addr := n.sshAddr()
	d := net.Dialer{Timeout: opts.Timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("node %s: connecting to %s: %w", n.Name, addr, ctx.Err())
		}
		return nil, &UnreachableError{Node: n.Name, Addr: addr, Err: err}
	}
	config := &ssh.ClientConfig{
		User:              auth.User,
		Auth:              methods,
		HostKeyCallback:   keys.callback(n.Name, opts.Logger),
		HostKeyAlgorithms: keys.algorithms(addr),
		Timeout:           opts.Timeout,
	}
	_ = conn.SetDeadline(time.Now().Add(opts.Timeout))
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	sc, chans, reqs, err := ssh.NewClientConn(conn, addr, config)
	stop()
	if err != nil {
		conn.Close()
		var changed *HostKeyChangedError
		switch {
		case errors.As(err, &changed):
			return nil, changed
		case ctx.Err() != nil:
			return nil, fmt.Errorf("node %s: ssh handshake with %s: %w", n.Name, addr, ctx.Err())
		case strings.Contains(err.Error(), "unable to authenticate"):
			return nil, &AuthError{Node: n.Name, Addr: addr, User: auth.User, Err: err}
		}
		return nil, fmt.Errorf("node %s: ssh handshake with %s: %w", n.Name, addr, err)
	}
	_ = conn.SetDeadline(time.Time{})
	opts.Logger.Debug("ssh connected", "node", n.Name, "addr", addr, "user", auth.User)
	return &Client{
		node:     n,
		user:     auth.User,
		password: auth.Password,
		conn:     ssh.NewClient(sc, chans, reqs),
		log:      opts.Logger,
	}, nil
}

// authMethods turns Auth into SSH methods: key first, then password, then
// keyboard-interactive answering password prompts.
func authMethods(a Auth) ([]ssh.AuthMethod, error) {
	var methods []ssh.AuthMethod
	if a.KeyFile != "" {
		pem, err := os.ReadFile(a.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("reading ssh key: %w", err)
		}
		signer, err := ssh.ParsePrivateKey(pem)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, fmt.Errorf("ssh key %s is protected by a passphrase; give an unencrypted key", a.KeyFile)
		}
		if err != nil {
			return nil, fmt.Errorf("ssh key %s: %w", a.KeyFile, err)
		}
		methods = append(methods, ssh.PublicKeys(signer))
	}
	if a.Password != "" {
		pw := a.Password
		methods = append(methods,
			ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, echos []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range questions {
					if !echos[i] { // a password prompt
						answers[i] = pw
					}
				}
				return answers, nil
			}))
	}
	if len(methods) == 0 {
		return nil, ErrNoCredentials
	}
	return methods, nil
}

// Node returns the node c is connected to.
func (c *Client) Node() Node { return c.node }

// Close closes the connection.
func (c *Client) Close() error { return c.conn.Close() }

// RunOptions configures Client.Run. The zero value runs the command as the
// SSH user with no input.
type RunOptions struct {
	// Sudo runs the command as root: through `sudo -k -S -p ''` with the
	// password written to sudo's standard input ahead of Stdin, or
	// `sudo -n` where the user needs no password, or directly when the user
	// is root. How is found out once per Client.
	Sudo bool
	// Stdin is the command's standard input.
	Stdin []byte
}

// sudoMarker is written to stderr by the command sudo runs, so Run can tell
// sudo refusing from the command failing. Run removes it.
const sudoMarker = "paimirror-sudo-ok"

// Run runs cmd with /bin/sh on the node (LC_ALL=C) and returns its standard
// output and standard error, collected separately. A non-zero exit is a
// *CommandError (with the same stderr); sudo refusing is a *SudoError. When
// ctx ends first the command is killed. cmd must not hold secrets: it is
// logged at debug level and quoted in errors.
func (c *Client) Run(ctx context.Context, cmd string, opts RunOptions) (stdout, stderr []byte, err error) {
	start := time.Now()
	remote := "sh -c " + shell.Quote("LC_ALL=C; export LC_ALL; "+cmd)
	var stdin []byte
	if opts.Sudo {
		mode, serr := c.sudo(ctx)
		if serr != nil {
			return nil, nil, serr
		}
		inner := shell.Quote("printf '%s\\n' " + sudoMarker + " >&2; LC_ALL=C; export LC_ALL; " + cmd)
		switch mode {
		case sudoNoPasswd:
			remote = "sudo -n -- sh -c " + inner
		case sudoPassword:
			remote = "sudo -k -S -p '' -- sh -c " + inner
			stdin = append([]byte(c.password+"\n"), opts.Stdin...)
		}
		if mode != sudoRoot {
			defer func() {
				var ok bool
				stderr, ok = stripMarker(stderr)
				var ce *CommandError
				switch {
				case !errors.As(err, &ce):
				case ok:
					ce.Stderr = string(stderr)
				default: // sudo did not start the command
					err = &SudoError{Node: c.node.Name, User: c.user, Stderr: string(stderr)}
				}
			}()
		}
	}
	if stdin == nil {
		stdin = opts.Stdin
	}
	stdout, stderr, status, err := c.exec(ctx, remote, stdin)
	c.log.Debug("ran", "node", c.node.Name, "cmd", shortCmd(cmd), "sudo", opts.Sudo, "status", status,
		"took", time.Since(start).Round(time.Millisecond))
	if err != nil {
		return stdout, stderr, err
	}
	if status != 0 {
		return stdout, stderr, &CommandError{Node: c.node.Name, Cmd: cmd, Status: status, Stderr: string(stderr)}
	}
	return stdout, stderr, nil
}

// exec runs a remote command line in a new session; status -1 means the
// command was killed or the session broke without an exit status.
func (c *Client) exec(ctx context.Context, remote string, stdin []byte) (stdout, stderr []byte, status int, err error) {
	s, err := c.conn.NewSession()
	if err != nil {
		return nil, nil, -1, fmt.Errorf("node %s: opening ssh session: %w", c.node.Name, err)
	}
	defer s.Close()
	var out, errb bytes.Buffer // two buffers: the session writes them concurrently
	s.Stdout = &out
	s.Stderr = &errb
	if len(stdin) > 0 {
		s.Stdin = bytes.NewReader(stdin)
	}
	if err := s.Start(remote); err != nil {
		return nil, nil, -1, fmt.Errorf("node %s: starting command: %w", c.node.Name, err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = s.Signal(ssh.SIGKILL)
		s.Close()
		<-done
		return out.Bytes(), errb.Bytes(), -1, fmt.Errorf("node %s: command interrupted: %w", c.node.Name, ctx.Err())
	}
	var ee *ssh.ExitError
	var missing *ssh.ExitMissingError
	switch {
	case err == nil:
		return out.Bytes(), errb.Bytes(), 0, nil
	case errors.As(err, &ee):
		if ee.Signal() != "" {
			return out.Bytes(), errb.Bytes(), -1, nil
		}
		return out.Bytes(), errb.Bytes(), ee.ExitStatus(), nil
	case errors.As(err, &missing):
		return out.Bytes(), errb.Bytes(), -1, nil
	case errors.Is(err, io.EOF):
		return out.Bytes(), errb.Bytes(), -1, nil
	}
	return out.Bytes(), errb.Bytes(), -1, fmt.Errorf("node %s: running command: %w", c.node.Name, err)
}

// sudo finds out, once, how this user becomes root.
func (c *Client) sudo(ctx context.Context) (sudoMode, error) {
	c.sudoMu.Lock()
	defer c.sudoMu.Unlock()
	if c.sudoMode != sudoUnknown {
		return c.sudoMode, nil
	}
	out, _, status, err := c.exec(ctx, `sh -c 'if [ "$(id -u)" = 0 ]; then echo root; elif sudo -n true >/dev/null 2>&1; then echo nopasswd; else echo password; fi'`, nil)
	if err != nil {
		return sudoUnknown, err
	}
	if status != 0 {
		return sudoUnknown, &SudoError{Node: c.node.Name, User: c.user, Stderr: "cannot run a shell"}
	}
	switch strings.TrimSpace(string(out)) {
	case "root":
		c.sudoMode = sudoRoot
	case "nopasswd":
		c.sudoMode = sudoNoPasswd
	default:
		if c.password == "" {
			return sudoUnknown, &SudoError{Node: c.node.Name, User: c.user, Stderr: "sudo needs a password and none was given"}
		}
		c.sudoMode = sudoPassword
	}
	return c.sudoMode, nil
}

// CheckSudo runs `true` as root and returns nil, or the *SudoError that says
// why that is not possible.
func (c *Client) CheckSudo(ctx context.Context) error {
	_, _, err := c.Run(ctx, "true", RunOptions{Sudo: true})
	return err
}

// stripMarker removes the sudo marker line from stderr and reports whether
// it was there (that is, whether sudo ran the command).
func stripMarker(stderr []byte) ([]byte, bool) {
	m := []byte(sudoMarker + "\n")
	i := bytes.Index(stderr, m)
	if i < 0 {
		return stderr, false
	}
	out := append([]byte{}, stderr[:i]...)
	return append(out, stderr[i+len(m):]...), true
}
