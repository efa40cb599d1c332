package storage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// DefaultContainer is the dev-box container the seed guide's service
// management runs (`docker run -itd ... --name=dev-box
// openpai/dev-box:v1.8.0`). pai's own quick-start names its container
// dev-box-quick-start, but removes it when quick-start-service.sh exits.
const DefaultContainer = "dev-box"

// DefaultPaiMount is where the dev-box container has the pai checkout
// (-v <pai>:/mnt/pai), the directory paictl.py runs in.
const DefaultPaiMount = "/mnt/pai"

// DevBox runs commands inside the dev-box container, where paictl.py and
// the cluster's configuration are: the checkout at /mnt/pai (the working
// directory), ~/pai-deploy/cluster-cfg at /cluster-configuration and
// ~/pai-deploy/kube at /root/.kube.
type DevBox interface {
	// Exec runs args in the container's pai checkout with stdin as its
	// standard input (nil: none) and its standard output and error written
	// to out. A non-zero exit is an error.
	Exec(ctx context.Context, args []string, stdin io.Reader, out io.Writer) error
}

// Docker is the DevBox of the seed guide: a container on this machine
// reached with `docker exec -i -w /mnt/pai CONTAINER ...`. The docker
// program is found on PATH when a command runs.
//
// Before the first command it asks docker whether the container runs
// (`docker inspect`). A stopped container is started (`docker start`); a
// missing one is created as the guide's service management does when
// Image is set, and is otherwise an ErrNoDevBox error.
//
// A Docker is safe for concurrent use.
type Docker struct {
	// Container is the container's name; default DefaultContainer.
	Container string
	// Dir is the pai checkout inside the container, paictl's working
	// directory; default DefaultPaiMount.
	Dir string
	// Sudo runs docker through `sudo -n` (passwordless sudo), as pai's
	// scripts run `sudo docker`; default: docker directly (as root or a
	// member of group docker).
	Sudo bool
	// Image, when set, is the dev-box image to create the container from
	// when it does not exist, for example "openpai/dev-box:v1.8.0"; default
	// none: a missing container is an error.
	Image string
	// PaiDir, ClusterCfgDir and KubeDir are the host directories the new
	// container gets at /mnt/pai, /cluster-configuration and /root/.kube
	// (only with Image). PaiDir is required then; the others default to
	// ~/pai-deploy/cluster-cfg and ~/pai-deploy/kube.
	PaiDir, ClusterCfgDir, KubeDir string
	// Logger receives a debug record for each docker command; default:
	// discard.
	Logger *slog.Logger

	mu    sync.Mutex
	ready bool
}

func (d *Docker) container() string {
	if d.Container == "" {
		return DefaultContainer
	}
	return d.Container
}

func (d *Docker) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

// docker runs docker with args and returns its output (standard output
// and error together) when out is nil.
func (d *Docker) docker(ctx context.Context, args []string, stdin io.Reader, out io.Writer) ([]byte, error) {
	name := "docker"
	if d.Sudo {
		name, args = "sudo", append([]string{"-n", "docker"}, args...)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	var buf bytes.Buffer
	if out == nil {
		out = &buf
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdin, out, out
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	d.logger().Debug("docker", "args", strings.Join(args, " "), "err", err)
	if err != nil && errors.Is(err, exec.ErrNotFound) {
		return buf.Bytes(), fmt.Errorf("running %s: %w (the dev box needs docker, as for pai's quick-start)", name, err)
	}
	return buf.Bytes(), err
}

// ensure makes sure the container runs.
func (d *Docker) ensure(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ready {
		return nil
	}
	name := d.container()
	out, err := d.docker(ctx, []string{"inspect", "--format", "{{.State.Running}}", name}, nil, nil)
	state := strings.TrimSpace(string(out))
	switch {
	case err == nil && state == "true":
	case err == nil && state == "false":
		if out, err := d.docker(ctx, []string{"start", name}, nil, nil); err != nil {
			return fmt.Errorf("starting container %s: %w: %s", name, err, lastLine(out))
		}
	case strings.Contains(strings.ToLower(state), "no such"):
		if d.Image == "" {
			return fmt.Errorf("%w: there is no container %s", ErrNoDevBox, name)
		}
		if err := d.create(ctx); err != nil {
			return err
		}
	case err != nil:
		return fmt.Errorf("asking docker about container %s: %w: %s", name, err, lastLine(out))
	default:
		return fmt.Errorf("asking docker about container %s: unexpected answer %q", name, state)
	}
	d.ready = true
	return nil
}

// create runs the container as the seed guide's service management does.
func (d *Docker) create(ctx context.Context) error {
	if d.PaiDir == "" {
		return fmt.Errorf("%w: creating container %s needs the pai checkout's directory", ErrNoDevBox, d.container())
	}
	cfg, kube := d.ClusterCfgDir, d.KubeDir
	if cfg == "" || kube == "" {
		deploy, err := paiDeployDir()
		if err != nil {
			return err
		}
		if cfg == "" {
			cfg = deploy + "/cluster-cfg"
		}
		if kube == "" {
			kube = deploy + "/kube"
		}
	}
	args := []string{"run", "-itd",
		"-v", "/var/run/docker.sock:/var/run/docker.sock",
		"-v", cfg + ":/cluster-configuration",
		"-v", kube + ":/root/.kube",
		"-v", d.PaiDir + ":" + DefaultPaiMount,
		"--pid=host", "--privileged=true", "--net=host",
		// The image's entrypoint first tries GitHub (git fetch, the
		// releases API), which hangs offline; the pai checkout is mounted.
		"--entrypoint", "/bin/bash",
		"--name=" + d.container(), d.Image}
	if out, err := d.docker(ctx, args, nil, nil); err != nil {
		return fmt.Errorf("creating container %s from %s: %w: %s", d.container(), d.Image, err, lastLine(out))
	}
	return nil
}

// Exec runs args with `docker exec -i -w DIR CONTAINER args...`.
func (d *Docker) Exec(ctx context.Context, args []string, stdin io.Reader, out io.Writer) error {
	if err := d.ensure(ctx); err != nil {
		return err
	}
	dir := d.Dir
	if dir == "" {
		dir = DefaultPaiMount
	}
	if out == nil {
		out = io.Discard
	}
	full := append([]string{"exec", "-i", "-w", dir, d.container()}, args...)
	_, err := d.docker(ctx, full, stdin, out)
	return err
}

// lastLine returns the last non-empty line of out.
func lastLine(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// tail keeps the last lines written to it.
type tail struct {
	mu    sync.Mutex
	max   int
	lines []string
	part  []byte
}

func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.part = append(t.part, p...)
	for {
		i := bytes.IndexByte(t.part, '\n')
		if i < 0 {
			break
		}
		t.add(string(t.part[:i]))
		t.part = t.part[i+1:]
	}
	return len(p), nil
}

func (t *tail) add(line string) {
	line = strings.TrimRight(line, "\r")
	if strings.TrimSpace(line) == "" {
		return
	}
	t.lines = append(t.lines, line)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

// Lines returns the last lines, the unfinished one included.
func (t *tail) Lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := append([]string(nil), t.lines...)
	if s := strings.TrimSpace(string(t.part)); s != "" {
		out = append(out, s)
		if len(out) > t.max {
			out = out[1:]
		}
	}
	return out
}

// Text returns everything kept, as one string.
func (t *tail) Text() string { return strings.Join(t.Lines(), "\n") }
