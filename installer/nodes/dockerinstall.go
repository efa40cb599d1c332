package nodes

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/paimirror/paimirror/bundle/apt"
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
// state is not touched. extra are more apt-get install options. The
// sources line is apt.SourcesLine's, in shell double quotes (only the
// keyring's "$t" is expanded); a word that would change it, or that holds
// a backslash, is an error wrapping apt.ErrSourcesLine, and there is no
// script.
func installDockerScript(m Mirror, r AptRepository, extra []string) (string, error) {
	base := m.scheme() + "://" + m.Addr
	// sh's echo (dash's) reads backslashes as escapes, bash's does not.
	for _, w := range slices.Concat([]string{base + r.Prefix, r.Suites[0]}, r.Components, r.Architectures) {
		if strings.Contains(w, `\`) {
			return "", fmt.Errorf("apt repository %s: %w: %q holds a backslash, which sh's echo does not keep", r.Name, apt.ErrSourcesLine, w)
		}
	}
	var opts []apt.SourceOption
	if len(r.Architectures) > 0 {
		opts = append(opts, apt.SourceOption{Name: "arch", Value: dquoted(strings.Join(r.Architectures, ","))})
	}
	opts = append(opts, apt.SourceOption{Name: "signed-by", Value: "$t/docker.asc"})
	components := make([]string, len(r.Components))
	for i, c := range r.Components {
		components[i] = dquoted(c)
	}
	line, err := apt.SourcesLine(dquoted(base+r.Prefix), dquoted(r.Suites[0]), components, opts...)
	if err != nil {
		return "", fmt.Errorf("apt repository %s: %w", r.Name, err)
	}
	key := shell.Quote(base + r.KeyPath)
	fetchCA, wgetCA := "", ""
	if m.TLS && len(m.CA) > 0 {
		fetchCA, wgetCA = " --cacert "+AptCAPath, " --ca-certificate="+AptCAPath
	}
	var b strings.Builder
	fmt.Fprintf(&b, `set -e
if command -v docker >/dev/null 2>&1; then echo present; exit 0; fi
t=$(mktemp -d); trap 'rm -rf "$t"' EXIT
mkdir -p "$t/lists/partial" "$t/parts"
curl -fsS%s -o "$t/docker.asc" %s 2>/dev/null || wget -q%s -O "$t/docker.asc" %s
echo "%s" > "$t/parts/docker.list"
if [ -e %s ]; then cp %s "$t/parts/"; fi
set -- -q -o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts="$t/parts" -o Dir::State::Lists="$t/lists"
apt-get "$@" update
DEBIAN_FRONTEND=noninteractive apt-get "$@" -y %s install %s
echo installed
`, fetchCA, key, wgetCA, key, line, AptSourcesPath, AptSourcesPath,
		strings.Join(extra, " "), shell.Join(r.Packages...))
	return b.String(), nil
}

// dquoted escapes s for the inside of shell double quotes: a backslash
// before each \, $, ` and ", so that the shell reads back s and expands
// nothing in it.
func dquoted(s string) string {
	if !strings.ContainsAny(s, "\\$`\"") {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune("\\$`\"", r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
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
	script, err := installDockerScript(opts.Mirror, *r, opts.aptInstallArgs)
	if err != nil {
		return nil, fmt.Errorf("node %s: installing docker from the mirror: %w (the mirror address and the bundle's apt record must be plain words)", c.node.Name, err)
	}
	out, errb, err := runApt(ctx, c, script+" 2>&1", opts)
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
