package storage

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"

	"github.com/paimirror/paimirror/installer/nodes"
)

// Runner runs a shell command on a machine of the cluster. Setup uses it
// for one read-only command per worker (dpkg-query).
type Runner interface {
	// Run runs cmd with /bin/sh on m as the login user and returns its
	// standard output and exit status. err is for not being able to run
	// it at all (unreachable, login refused), not for a non-zero status.
	Run(ctx context.Context, m Machine, cmd string) (stdout []byte, status int, err error)
}

// SSHRunner is the Runner that logs in over SSH with package nodes: the
// user and password (or key) of config.yaml, host keys trusted on first
// use and checked after. It is safe for concurrent use.
type SSHRunner struct {
	// Auth is how to log in; required.
	Auth nodes.Auth
	// HostKeys is the record of the machines' host keys; required.
	HostKeys *nodes.HostKeys
	// Port is the SSH port; default 22.
	Port int
	// Dial tunes the connection (timeout, logger).
	Dial nodes.DialOptions
}

// Run connects to m, runs cmd and disconnects.
func (r *SSHRunner) Run(ctx context.Context, m Machine, cmd string) ([]byte, int, error) {
	addr := m.IP
	if r.Port != 0 && r.Port != 22 {
		addr = net.JoinHostPort(m.IP, strconv.Itoa(r.Port))
	}
	c, err := nodes.Dial(ctx, nodes.Node{Name: m.Hostname, Addr: addr, Role: nodes.Worker, Storage: m.Storage}, r.Auth, r.HostKeys, r.Dial)
	if err != nil {
		return nil, 0, err
	}
	defer c.Close()
	out, _, err := c.Run(ctx, cmd, nodes.RunOptions{})
	var ce *nodes.CommandError
	if errors.As(err, &ce) && ce.Status >= 0 {
		return out, ce.Status, nil
	}
	if err != nil {
		return out, 0, err
	}
	return out, 0, nil
}

// nfsCommon is the package every worker needs to mount the NFS volume.
const nfsCommon = "nfs-common"

// dpkgStatusCmd asks dpkg for a package's status: "install ok installed"
// when it is installed; exit status 1 when dpkg never heard of it.
func dpkgStatusCmd(pkg string) string {
	return `dpkg-query -W -f='${Status}\n' ` + pkg
}

// installed reads dpkgStatusCmd's answer.
func installed(out []byte, status int) (bool, error) {
	switch status {
	case 0:
	case 1: // unknown package
		return false, nil
	default:
		return false, fmt.Errorf("dpkg-query exited with status %d", status)
	}
	f := strings.Fields(strings.TrimSpace(string(out)))
	return len(f) == 3 && f[2] == "installed", nil
}

// checkPackage asks every worker whether pkg is installed, all at once.
func checkPackage(ctx context.Context, r Runner, workers []Machine, pkg string) error {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
		e  = &MissingPackageError{Package: pkg, Unchecked: map[string]error{}}
	)
	missing := make([]bool, len(workers))
	for i, m := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, status, err := r.Run(ctx, m, dpkgStatusCmd(pkg))
			ok := false
			if err == nil {
				ok, err = installed(out, status)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				e.Unchecked[m.Hostname] = err
			} else if !ok {
				missing[i] = true
			}
		}()
	}
	wg.Wait()
	for i, m := range workers {
		if missing[i] {
			e.Missing = append(e.Missing, m.Hostname)
		}
	}
	if len(e.Missing) == 0 && len(e.Unchecked) == 0 {
		return nil
	}
	if len(e.Unchecked) == 0 {
		e.Unchecked = nil
	}
	return e
}
