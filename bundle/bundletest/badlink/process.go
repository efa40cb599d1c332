package badlink

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long a peer may take to answer after its start.
const startTimeout = 30 * time.Second

// builder ends the message of a missing program: what builds it.
const builder = ".ci/badlink-tools.sh builds it"

// checked caches the outcome of each version check (an error, or nil), by
// what was checked and the program's path, size and modification time: a
// test binary runs many tests.
var checked sync.Map

// checkOnce runs the check named what for the program at path once per
// process (until the file changes) and returns its outcome.
func checkOnce(what, path string, check func() error) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	key := fmt.Sprintf("%s\x00%s\x00%d\x00%d", what, path, st.Size(), st.ModTime().UnixNano())
	if v, ok := checked.Load(key); ok {
		err, _ := v.(error)
		return err
	}
	err = check()
	checked.Store(key, err)
	return err
}

// freeAddrs returns n distinct loopback addresses nothing listened on a
// moment ago. A program given one may still lose it to another process;
// startPeer retries then.
func freeAddrs(n int) ([]string, error) {
	var addrs []string
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}

// tail keeps the last tailSize bytes written to it: a peer's output, for
// failure messages. It is safe for concurrent use.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 64 << 10

func (b *tail) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - tailSize; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tail) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// process is a peer program a test started.
type process struct {
	name string
	cmd  *exec.Cmd
	out  *tail

	done     chan struct{} // closed when the process has exited
	waitErr  error         // cmd.Wait's result, once done is closed
	stopOnce sync.Once
}

// exited reports whether the process has ended.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop ends the process by its PID: SIGTERM, then SIGKILL after 5 seconds.
func (p *process) stop() {
	p.stopOnce.Do(func() {
		if p.exited() {
			return
		}
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(5 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
		}
	})
}

// startPeer starts a server program on nAddrs fresh loopback addresses:
// launch returns the command for them (its Stdout and Stderr set, out
// collecting what a failure message should show); ready reports nil once
// the program answers. The process is stopped by its PID when the test
// ends. An early exit because an address was taken meanwhile is retried on
// new addresses.
func startPeer(t testing.TB, name string, nAddrs int, launch func(addrs []string) (*exec.Cmd, *tail, error), ready func(addrs []string) error) (*process, []string) {
	t.Helper()
	const attempts = 3
	for attempt := 1; ; attempt++ {
		addrs, err := freeAddrs(nAddrs)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cmd, out, err := launch(addrs)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		setDeathSignal(cmd)
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", name, err)
		}
		p := &process{name: name, cmd: cmd, out: out, done: make(chan struct{})}
		go func() {
			p.waitErr = cmd.Wait()
			close(p.done)
		}()
		t.Cleanup(p.stop)

		err = waitReady(p, func() error { return ready(addrs) })
		if err == nil {
			return p, addrs
		}
		p.stop()
		if p.exited() && strings.Contains(out.String(), "address already in use") && attempt < attempts {
			t.Logf("%s lost its address to another process; retrying", name)
			continue
		}
		t.Fatalf("%s: %v\n%s", name, err, out)
	}
}

// waitReady polls ready until it reports nil, the process exits, or
// startTimeout passes.
func waitReady(p *process, ready func() error) error {
	deadline := time.Now().Add(startTimeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := ready()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("exited at start-up: %w", errors.Join(p.waitErr, err))
		case <-tick.C:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %w", startTimeout, err)
		}
	}
}
