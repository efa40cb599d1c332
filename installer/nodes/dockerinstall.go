package nodes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/paimirror/paimirror/manifests/shell"
)

// dockerPackage is the package whose repository Prepare installs docker
// from when a machine has none.
const dockerPackage = "docker-ce"

// dockerRepository returns the repository of target that the bundle holds
// docker-ce from, or nil. kubespray adds that repository itself, so it is
// not in the machines' sources; but the requirement check wants docker
// before kubespray runs (the seed guide's step 4 installs it by hand).
func (a *Apt) dockerRepository(target string) *AptRepository {
	if a == nil {
		return nil
	}
	for i, r := range a.Repositories {
		if r.Target != target || len(r.Suites) == 0 || r.KeyPath == "" {
			continue
		}
		if slices.ContainsFunc(r.Packages, func(p string) bool { return PackageName(p) == dockerPackage }) {
			return &a.Repositories[i]
		}
	}
	return nil
}

// installDockerScript installs every package the bundle holds from r, at
// the version it holds, from the mirror: with its own source list (r's
// first suite, signed by r's key from the mirror, plus paimirror's own
// list for dependencies) and its own lists directory, so the machine's apt
// state is not touched. extra are more apt-get install options.
func installDockerScript(m Mirror, r AptRepository, extra []string) string {
	base := m.scheme() + "://" + m.Addr
	opts := ""
	if len(r.Architectures) > 0 {
		opts = "arch=" + strings.Join(r.Architectures, ",") + " "
	}
	line := strings.TrimRight(fmt.Sprintf("deb [%ssigned-by=$t/docker.asc] %s%s %s %s", opts, base, r.Prefix, r.Suites[0], strings.Join(r.Components, " ")), " ")
	fetchCA, wgetCA := "", ""
	if m.TLS && len(m.CA) > 0 {
		fetchCA, wgetCA = " --cacert "+AptCAPath, " --ca-certificate="+AptCAPath
	}
	var b strings.Builder
	fmt.Fprintf(&b, `set -e
if command -v docker >/dev/null 2>&1; then echo present; exit 0; fi
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
mkdir -p "$t/lists/partial" "$t/parts"
curl -fsS%s -o "$t/docker.asc" '%s%s' 2>/dev/null || wget -q%s -O "$t/docker.asc" '%s%s'
echo "%s" > "$t/parts/docker.list"
if [ -e %s ]; then cp %s "$t/parts/"; fi
set -- -q -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$t/parts" -o Dir::State::Lists="$t/lists"
apt-get "$@" update
DEBIAN_FRONTEND=noninteractive apt-get "$@" -y %s install %s
echo installed
`, fetchCA, base, r.KeyPath, wgetCA, base, r.KeyPath, line, AptSourcesPath, AptSourcesPath,
		strings.Join(extra, " "), shell.Join(r.Packages...))
	return b.String()
}

// DockerInstallError reports that docker could not be installed from the
// mirror on a machine that had none.
type DockerInstallError struct {
	Node       string
	Repository string   // the apt repository it was installed from
	Packages   []string // "name=version"
	Messages   []string // apt-get's E:/Err: lines, if any
	Err        error
}

// Error says what was tried and what to do.
func (e *DockerInstallError) Error() string {
	msg := fmt.Sprintf("node %s: docker is not installed, and installing %s from the mirror's %s repository failed: %v",
		e.Node, strings.Join(e.Packages, " "), e.Repository, e.Err)
	if len(e.Messages) > 0 {
		msg += "\n  " + strings.Join(e.Messages, "\n  ")
	}
	return msg + "\n  install docker on the node by hand (the seed guide's step 4), then rerun"
}

// Unwrap returns the underlying error.
func (e *DockerInstallError) Unwrap() error { return e.Err }

// ensureDocker installs docker from the mirror on a machine of target
// that has none, when the bundle holds it for that target; it returns
// the packages installed (none when docker was there or cannot come from
// the bundle: the docker step then reports what is missing).
func ensureDocker(ctx context.Context, c *Client, a *Apt, target string, opts PrepareOptions) ([]string, error) {
	r := a.dockerRepository(target)
	if r == nil {
		return nil, nil
	}
	if _, _, err := c.Run(ctx, "command -v docker", RunOptions{}); err == nil {
		return nil, nil
	}
	out, errb, err := runApt(ctx, c, installDockerScript(opts.Mirror, *r, opts.aptInstallArgs)+" 2>&1", opts)
	if err != nil {
		var se *SudoError
		if errors.As(err, &se) {
			return nil, se
		}
		return nil, &DockerInstallError{Node: c.node.Name, Repository: r.Name, Packages: r.Packages,
			Messages: aptMessages(string(out) + string(errb)), Err: withStderr(err, errb)}
	}
	if strings.Contains(string(out), "\npresent\n") || strings.HasPrefix(string(out), "present\n") {
		return nil, nil
	}
	return slices.Clone(r.Packages), nil
}
