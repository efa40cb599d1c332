package nodes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"unicode"

	"github.com/paimirror/paimirror/bundle/apt"
	"github.com/paimirror/paimirror/manifests/shell"
)

// The files Prepare writes to point a machine's apt at the mirror, and
// where it keeps the originals.
const (
	// AptSourcesPath holds one "deb" line per suite of every repository
	// of the machine's target that the bundle adds to sources.
	AptSourcesPath = "/etc/apt/sources.list.d/paimirror.list"
	// AptConfPath is the drop-in that keeps apt from asking the mirror for
	// what it does not carry (translations, DEP-11 and command-not-found
	// metadata, Contents), sends requests to the mirror past any proxy
	// and, for an https mirror with a CA, trusts that CA.
	AptConfPath = "/etc/apt/apt.conf.d/99paimirror"
	// AptCAPath is the mirror's CA for apt (https mirror with a CA only).
	AptCAPath = "/etc/apt/paimirror-ca.crt"
	// AptBackupDir keeps the original /etc/apt/sources.list (as
	// sources.list) and the *.list and *.sources files of
	// /etc/apt/sources.list.d (under sources.list.d/). It is made once,
	// before the first change; later runs add files that appeared since
	// but never replace one kept there. RestoreApt empties and removes it.
	AptBackupDir = "/etc/apt/paimirror-backup"
	// aptSourcesList is apt's main sources file.
	aptSourcesList = "/etc/apt/sources.list"
)

// aptPlaceholder is what Prepare leaves in /etc/apt/sources.list.
const aptPlaceholder = `# paimirror install points apt at its mirror: see ` + AptSourcesPath + `.
# The original sources are kept in ` + AptBackupDir + `/;
# paimirror install --restore-apt puts them back.
`

// FlatSuite is the suite of a flat repository's sources line, "deb URL ./".
const FlatSuite = apt.FlatSuite

// AptRepository is one apt repository the mirror serves (an apt entry of
// the bundle's lock).
type AptRepository struct {
	// Name labels the repository in messages, e.g. "ubuntu-bionic".
	Name string
	// Target is the machines it is for: "{ID}-{VERSION_ID}" of
	// /etc/os-release, e.g. "ubuntu-18.04".
	Target string
	// Prefix is the mirror path it is served under,
	// e.g. "/archive.ubuntu.com/ubuntu".
	Prefix string
	// Suites, Components and Architectures are those of its "deb" lines;
	// no Architectures means no arch= option. A flat repository has the
	// one suite FlatSuite and no components.
	Suites, Components, Architectures []string
	// Sources says whether Prepare adds it to the machines' sources. A
	// repository the install adds itself (kubespray adds Docker's) has
	// false; preflight still checks that it answers.
	Sources bool
	// Packages are the packages the bundle holds from it, "name=version".
	Packages []string
	// KeyPath is the mirror path of its signing key ("" if unknown).
	KeyPath string
}

// Apt is what the mirror serves to apt, from the bundle's lock.
type Apt struct {
	// Repositories are the mirror's apt repositories.
	Repositories []AptRepository
	// Wanted are, per target, the packages its machines need, as the
	// bundle records them ("name", "name=version" or
	// "name (>= version)"); preflight reports which are installed.
	Wanted map[string][]string
}

// repositories returns the repositories for target; with sources, only
// those Prepare adds to the sources.
func (a *Apt) repositories(target string, sources bool) []AptRepository {
	var out []AptRepository
	for _, r := range a.Repositories {
		if r.Target == target && (r.Sources || !sources) {
			out = append(out, r)
		}
	}
	return out
}

// wanted returns the package names wanted for target, each once, in the
// order first wanted.
func (a *Apt) wanted(target string) []string {
	var out []string
	for _, w := range a.Wanted[target] {
		if name := PackageName(w); name != "" && !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out
}

// PackageName strips a version pin, a version constraint or an
// architecture from a wanted package: "docker-ce=5:18.09.7~3-0~ubuntu-bionic"
// is "docker-ce".
func PackageName(w string) string {
	w = strings.TrimSpace(w)
	if i := strings.IndexAny(w, "=( \t:"); i >= 0 {
		w = w[:i]
	}
	return w
}

// aptTarget reads a machine's target, "{ID}-{VERSION_ID}", from
// /etc/os-release.
func aptTarget(ctx context.Context, c *Client) (string, error) {
	out, errb, err := c.Run(ctx, "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release", RunOptions{})
	if err != nil {
		return "", fmt.Errorf("node %s: reading /etc/os-release: %w", c.node.Name, withStderr(err, errb))
	}
	rel := osRelease(string(out))
	if rel["ID"] == "" || rel["VERSION_ID"] == "" {
		return "", fmt.Errorf("node %s: /etc/os-release has no ID and VERSION_ID", c.node.Name)
	}
	return rel["ID"] + "-" + rel["VERSION_ID"], nil
}

// base returns the URL of a repository on the mirror.
func (m Mirror) base(prefix string) string { return m.scheme() + "://" + m.Addr + prefix }

// renderAptSources returns the sources list for a machine of target: one
// "deb [arch=...] URL SUITE COMPONENTS" line per suite of every
// repository with Sources, in the bundle's order, each as
// apt.SourcesLine writes it; "" when there is none. A word of a
// repository or the mirror's address that would change a line or add one
// (whitespace, a newline, apt's comment and quoting characters) is an
// error wrapping apt.ErrSourcesLine that names the repository (or the
// mirror address, which the comment on top names too), and nothing is
// returned.
func renderAptSources(a *Apt, target string, m Mirror) (string, error) {
	repos := a.repositories(target, true)
	if len(repos) == 0 {
		return "", nil
	}
	// The comment names them too: it must stay one line.
	for _, w := range [][2]string{{"mirror address", m.Addr}, {"target", target}} {
		if strings.ContainsFunc(w[1], unicode.IsControl) {
			return "", fmt.Errorf("%w: the %s %q holds a control character", apt.ErrSourcesLine, w[0], w[1])
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by paimirror install: the apt repositories of the mirror %s for %s.\n", m.Addr, target)
	fmt.Fprintf(&b, "# The original sources are kept in %s/; paimirror install --restore-apt puts them back.\n", AptBackupDir)
	for _, r := range repos {
		var opts []apt.SourceOption
		if len(r.Architectures) > 0 {
			opts = []apt.SourceOption{{Name: "arch", Value: strings.Join(r.Architectures, ",")}}
		}
		for _, s := range r.Suites {
			line, err := apt.SourcesLine(m.base(r.Prefix), s, r.Components, opts...)
			if err != nil {
				return "", fmt.Errorf("apt repository %s: %w", r.Name, err)
			}
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String(), nil
}

// disabledTargets are the apt index targets (Acquire::IndexTargets) that
// Ubuntu and Debian enable by default besides Packages: appstream's DEP-11
// metadata and icons, command-not-found's CNF and apt-file's Contents.
// The mirror carries only Packages indexes; apt-get update fails on
// every other index a Release lists and the mirror does not serve.
var disabledTargets = []string{
	"DEP-11", "DEP-11-icons-small", "DEP-11-icons", "DEP-11-icons-hidpi", "DEP-11-icons-large", "DEP-11-icons-large-hidpi",
	"CNF", "Contents-deb", "Contents-udeb", "Contents-deb-legacy", "Contents-dsc",
}

// renderAptConf returns the apt.conf.d drop-in for the mirror: no
// translations (Acquire::Languages "none"), the disabledTargets off, the
// mirror's host reached without a proxy and, with a CA, verified with it.
func renderAptConf(m Mirror) string {
	host, _, err := net.SplitHostPort(m.Addr)
	if err != nil {
		host = m.Addr
	}
	var b strings.Builder
	fmt.Fprintf(&b, "// Written by paimirror install: apt uses the mirror %s, which carries only\n", m.Addr)
	b.WriteString("// Packages indexes and the packages the install needs.\n")
	b.WriteString("// paimirror install --restore-apt removes this file.\n")
	b.WriteString("Acquire::Languages \"none\";\n")
	// The bundle holds Depends and Pre-Depends, not Recommends: apt must not
	// ask the mirror for a recommended package it does not carry.
	b.WriteString("APT::Install-Recommends \"false\";\n")
	for _, t := range disabledTargets {
		fmt.Fprintf(&b, "Acquire::IndexTargets::deb::%s::DefaultEnabled \"false\";\n", t)
	}
	fmt.Fprintf(&b, "Acquire::%s::Proxy::%s \"DIRECT\";\n", m.scheme(), host)
	if m.TLS && len(m.CA) > 0 {
		fmt.Fprintf(&b, "Acquire::https::%s::CaInfo \"%s\";\n", host, AptCAPath)
	}
	return b.String()
}

// heredoc is the delimiter of the files prepareAptScript writes; none of
// them can hold it (sources lines, apt.conf lines, a PEM certificate).
const heredoc = "PAIMIRROR_END_OF_FILE"

// prepareAptScript backs up and moves away the machine's sources and
// writes ours (sources, drop-in, CA; "" removes a file), printing
// "backup=created", "moved=PATH", "kept=PATH" (an original left in place
// because another file of that name is kept already), "wrote=PATH" and
// "removed=PATH".
func prepareAptScript(mirror, sources, conf, ca string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `set -e
b=%s; d=/etc/apt/sources.list.d; main=%s; ours=%s; mirror=%s
placeholder=%s
mkdir -p "$d" /etc/apt/apt.conf.d
if [ ! -d "$b" ]; then
  rm -rf "$b.tmp"; mkdir -p "$b.tmp/sources.list.d"
  if [ -e "$main" ]; then cp -p "$main" "$b.tmp/sources.list"; fi
  for f in "$d"/*.list "$d"/*.sources; do
    [ -e "$f" ] && [ "$f" != "$ours" ] || continue
    cp -p "$f" "$b.tmp/sources.list.d/"
  done
  mv "$b.tmp" "$b"
  echo backup=created
fi
for f in "$main" "$d"/*.list "$d"/*.sources; do
  [ -e "$f" ] && [ "$f" != "$ours" ] || continue
  if [ "$f" = "$main" ]; then
    [ "$(cat "$f")" != "$placeholder" ] || continue
    k="$b/sources.list"
  else
    ! grep -qF "$mirror" "$f" || continue
    k="$b/sources.list.d/${f##*/}"
  fi
  if [ ! -e "$k" ]; then mv -f "$f" "$k"; echo "moved=$f"
  elif cmp -s "$f" "$k"; then rm -f "$f"; echo "moved=$f"
  else echo "kept=$f"
  fi
done
t=
trap '[ -z "$t" ] || rm -f "$t"' EXIT
put() {
  if [ -z "$2" ]; then
    if [ -e "$1" ]; then rm -f "$1"; echo "removed=$1"; fi
    return
  fi
  t=$(mktemp /etc/apt/.paimirror-tmp.XXXXXX)
  printf '%%s\n' "$2" > "$t"
  chmod 0644 "$t"
  if [ -e "$1" ] && cmp -s "$t" "$1"; then rm -f "$t"; else mv -f "$t" "$1"; echo "wrote=$1"; fi
  t=
}
`, shell.Quote(AptBackupDir), shell.Quote(aptSourcesList), shell.Quote(AptSourcesPath), shell.Quote(mirror), shell.Quote(strings.TrimRight(aptPlaceholder, "\n")))
	for _, f := range [][2]string{{aptSourcesList, aptPlaceholder}, {AptSourcesPath, sources}, {AptConfPath, conf}, {AptCAPath, ca}} {
		if f[0] == aptSourcesList {
			// Only when it was moved away (or never was): the placeholder.
			fmt.Fprintf(&b, "if [ ! -e %s ]; then put %s \"$(cat <<'%s'\n%s%s\n)\"; fi\n", shell.Quote(f[0]), shell.Quote(f[0]), heredoc, f[1], heredoc)
			continue
		}
		if f[1] == "" {
			fmt.Fprintf(&b, "put %s ''\n", shell.Quote(f[0]))
			continue
		}
		fmt.Fprintf(&b, "put %s \"$(cat <<'%s'\n%s%s\n)\"\n", shell.Quote(f[0]), heredoc, ensureNL(f[1]), heredoc)
	}
	return b.String()
}

func ensureNL(s string) string {
	if strings.HasSuffix(s, "\n") {
		return s
	}
	return s + "\n"
}

// restoreAptScript puts the kept sources back and removes paimirror's
// files, printing "nobackup", "restored=PATH", "removed=PATH" and
// "left=PATH" (a file still in the backup directory).
var restoreAptScript = fmt.Sprintf(`set -e
b=%s; d=/etc/apt/sources.list.d; main=%s
placeholder=%s
if [ ! -d "$b" ]; then echo nobackup; exit 0; fi
for f in %s %s %s; do
  if [ -e "$f" ]; then rm -f "$f"; echo "removed=$f"; fi
done
if [ -e "$b/sources.list" ]; then
  mv -f "$b/sources.list" "$main"; echo "restored=$main"
elif [ -e "$main" ] && [ "$(cat "$main")" = "$placeholder" ]; then
  rm -f "$main"; echo "removed=$main"
fi
mkdir -p "$d"
for f in "$b"/sources.list.d/*; do
  [ -e "$f" ] || continue
  mv -f "$f" "$d/"; echo "restored=$d/${f##*/}"
done
rmdir "$b/sources.list.d" 2>/dev/null || true
if ! rmdir "$b" 2>/dev/null; then
  for f in "$b"/* "$b"/sources.list.d/*; do [ -e "$f" ] && echo "left=$f"; done
fi
`, shell.Quote(AptBackupDir), shell.Quote(aptSourcesList), shell.Quote(strings.TrimRight(aptPlaceholder, "\n")),
	shell.Quote(AptSourcesPath), shell.Quote(AptConfPath), shell.Quote(AptCAPath))

// scriptLines parses "key=value" output lines (and bare words) into a
// list of pairs, in order.
func scriptLines(out string) [][2]string {
	var kv [][2]string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		kv = append(kv, [2]string{k, v})
	}
	return kv
}

// AptResult is what Prepare did to one machine's apt.
type AptResult struct {
	// Target is the machine's "{ID}-{VERSION_ID}".
	Target string
	// Skipped says why the machine's apt was left alone (the bundle has
	// no repository for its target); "" when it was pointed at the
	// mirror.
	Skipped string
	// BackedUp reports that this run made AptBackupDir (the first run).
	BackedUp bool
	// Moved are the original sources files moved into AptBackupDir (or
	// removed because an identical copy is kept there).
	Moved []string
	// Kept are original sources files left in place because a different
	// file of the same name is kept in AptBackupDir already; apt still
	// reads them.
	Kept []string
	// Wrote are the files paimirror wrote or replaced, Removed those it
	// removed (a CA no longer needed).
	Wrote, Removed []string
	// Updated reports that apt-get update succeeded against the mirror.
	Updated bool
	// Warnings are apt-get update's "W:" lines.
	Warnings []string
}

// Changed reports whether the run changed the machine's apt
// configuration.
func (r *AptResult) Changed() bool {
	return r.BackedUp || len(r.Moved)+len(r.Wrote)+len(r.Removed) > 0
}

// prepareApt points the machine's apt at the mirror and runs apt-get
// update. A machine whose target the bundle has no repository for is left
// alone (AptResult.Skipped).
func prepareApt(ctx context.Context, c *Client, a *Apt, opts PrepareOptions) (*AptResult, error) {
	n := c.node
	target, err := aptTarget(ctx, c)
	if err != nil {
		return nil, err
	}
	r := &AptResult{Target: target}
	sources, err := renderAptSources(a, target, opts.Mirror)
	if err != nil {
		return r, fmt.Errorf("node %s: writing apt's sources: %w (the mirror address and the bundle's apt record must be plain words)", n.Name, err)
	}
	if sources == "" {
		r.Skipped = fmt.Sprintf("the bundle has no apt repository for %s; apt is left as it is", target)
		return r, nil
	}
	ca := ""
	if opts.Mirror.TLS && len(opts.Mirror.CA) > 0 {
		ca = strings.TrimRight(string(opts.Mirror.CA), "\n")
	}
	script := prepareAptScript(opts.Mirror.Addr, strings.TrimRight(sources, "\n"), strings.TrimRight(renderAptConf(opts.Mirror), "\n"), ca)
	out, errb, err := c.Run(ctx, script, RunOptions{Sudo: true})
	if err != nil {
		var se *SudoError
		if errors.As(err, &se) {
			return r, se
		}
		return r, fmt.Errorf("node %s: pointing apt at the mirror: %w", n.Name, withStderr(err, errb))
	}
	for _, kv := range scriptLines(string(out)) {
		switch kv[0] {
		case "backup":
			r.BackedUp = true
		case "moved":
			r.Moved = append(r.Moved, kv[1])
		case "kept":
			r.Kept = append(r.Kept, kv[1])
		case "wrote":
			r.Wrote = append(r.Wrote, kv[1])
		case "removed":
			r.Removed = append(r.Removed, kv[1])
		}
	}

	out, errb, err = runApt(ctx, c, "DEBIAN_FRONTEND=noninteractive apt-get -q update 2>&1", opts)
	lines := aptMessages(string(out) + string(errb))
	for _, l := range lines {
		if strings.HasPrefix(l, "W:") {
			r.Warnings = append(r.Warnings, l)
		}
	}
	if err != nil {
		var se *SudoError
		if errors.As(err, &se) {
			return r, se
		}
		return r, newAptUpdateError(n.Name, a.repositories(target, true), opts.Mirror, lines, err)
	}
	r.Updated = true
	return r, nil
}

// runApt runs an apt-get script as root on c, given opts.AptWait to end;
// running out of that time is the error "no end within ...". A sudo
// problem is the *SudoError.
func runApt(ctx context.Context, c *Client, script string, opts PrepareOptions) (out, errb []byte, err error) {
	uctx, cancel := context.WithTimeout(ctx, opts.AptWait)
	defer cancel()
	out, errb, err = c.Run(uctx, script, RunOptions{Sudo: true})
	var se *SudoError
	if err != nil && !errors.As(err, &se) && uctx.Err() != nil && ctx.Err() == nil {
		err = fmt.Errorf("no end within %v", opts.AptWait)
	}
	return out, errb, err
}

// aptMessages keeps apt-get's error and warning lines ("E:", "W:", and
// "Err:" with the indented line that follows it).
func aptMessages(out string) []string {
	var keep []string
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		l = strings.TrimRight(l, "\r")
		switch {
		case strings.HasPrefix(l, "E:"), strings.HasPrefix(l, "W:"):
			keep = append(keep, strings.TrimSpace(l))
		case strings.HasPrefix(l, "Err:"):
			msg := strings.TrimSpace(l)
			if i+1 < len(lines) && strings.HasPrefix(lines[i+1], " ") {
				msg += ": " + strings.TrimSpace(lines[i+1])
			}
			keep = append(keep, msg)
		}
	}
	return keep
}

// AptUpdateError reports that apt-get update failed on a machine after
// its apt was pointed at the mirror.
type AptUpdateError struct {
	Node string
	// Repositories are the names of the repositories apt complained about
	// (empty when its messages name none of them).
	Repositories []string
	// Messages are apt-get's "E:", "W:" and "Err:" lines.
	Messages []string
	// Err is how the command ended.
	Err error
}

// Error says which repository failed and what apt said.
func (e *AptUpdateError) Error() string {
	what := "apt-get update against the mirror failed"
	if len(e.Repositories) > 0 {
		what += " for repository " + strings.Join(e.Repositories, ", ")
	}
	msg := fmt.Sprintf("node %s: %s: %v", e.Node, what, e.Err)
	var shown []string
	for _, m := range e.Messages {
		if !strings.HasPrefix(m, "W:") || len(shown) == 0 {
			shown = append(shown, m)
		}
	}
	if len(shown) > 4 {
		shown = append(shown[:4], fmt.Sprintf("(%d more)", len(shown)-4))
	}
	if len(shown) > 0 {
		msg += ": " + strings.Join(shown, "; ")
	}
	return msg + fmt.Sprintf(" (the sources are in %s; apt-get update on the node shows it all)", AptSourcesPath)
}

// Unwrap returns how the command ended.
func (e *AptUpdateError) Unwrap() error { return e.Err }

func newAptUpdateError(node string, repos []AptRepository, m Mirror, lines []string, err error) *AptUpdateError {
	e := &AptUpdateError{Node: node, Messages: lines, Err: err}
	var ce *CommandError
	if errors.As(err, &ce) {
		e.Err = fmt.Errorf("exit status %d", ce.Status)
	}
	for _, l := range lines {
		if name := repoNamed(l, repos, m); name != "" && !slices.Contains(e.Repositories, name) {
			e.Repositories = append(e.Repositories, name)
		}
	}
	return e
}

// repoNamed returns the name of the repository whose mirror URL line
// names (the longest match), or "".
func repoNamed(line string, repos []AptRepository, m Mirror) string {
	best, name := 0, ""
	for _, r := range repos {
		u := m.base(r.Prefix)
		for _, end := range []string{" ", "/", "'"} {
			if strings.Contains(line, u+end) && len(u) > best {
				best, name = len(u), r.Name
			}
		}
	}
	return name
}

// RestoreAptOptions configures RestoreApt. The zero value works.
type RestoreAptOptions struct {
	// Dial configures the SSH connections; its Logger defaults to Logger.
	Dial DialOptions
	// Logger receives an info record per node; default: discard.
	Logger *slog.Logger
}

// RestoreAptResult is what RestoreApt did on one machine.
type RestoreAptResult struct {
	Node string
	// NoBackup reports that the machine has no AptBackupDir: Prepare never
	// changed its apt, or it was restored already. Nothing was done.
	NoBackup bool
	// Restored are the files put back, Removed paimirror's files removed.
	Restored, Removed []string
	// Left are files still in AptBackupDir (it could not be removed).
	Left []string
	// Err is why the machine could not be restored; nil on success.
	Err error
}

// RestoreApt undoes Prepare's apt changes on every node, all at once: it
// puts the sources kept in AptBackupDir back, removes AptSourcesPath,
// AptConfPath, AptCAPath and the placeholder sources.list, and removes
// the backup directory. A machine without a backup is reported
// (NoBackup), not an error, so a second run changes nothing. It does not
// run apt-get update: the original sources may not be reachable from
// where the machine is.
//
// Results come in nodes' order; the error joins the nodes' errors.
func RestoreApt(ctx context.Context, nodes []Node, auth Auth, keys *HostKeys, opts RestoreAptOptions) ([]RestoreAptResult, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Dial.Logger == nil {
		opts.Dial.Logger = opts.Logger
	}
	if err := checkNodes(nodes); err != nil {
		return nil, fmt.Errorf("restoring apt: %w", err)
	}
	return eachNode(nodes, func(n Node) (RestoreAptResult, error) {
		r := restoreAptNode(ctx, n, auth, keys, opts)
		r.Node = n.Name
		opts.Logger.Info("restore apt", "node", n.Name, "nobackup", r.NoBackup, "restored", len(r.Restored), "error", errString(r.Err))
		return r, r.Err
	})
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func restoreAptNode(ctx context.Context, n Node, auth Auth, keys *HostKeys, opts RestoreAptOptions) (r RestoreAptResult) {
	c, err := Dial(ctx, n, auth, keys, opts.Dial)
	if err != nil {
		r.Err = err
		return r
	}
	defer c.Close()
	out, errb, err := c.Run(ctx, restoreAptScript, RunOptions{Sudo: true})
	if err != nil {
		var se *SudoError
		if errors.As(err, &se) {
			r.Err = se
		} else {
			r.Err = fmt.Errorf("node %s: restoring apt's sources: %w", n.Name, withStderr(err, errb))
		}
	}
	for _, kv := range scriptLines(string(out)) {
		switch kv[0] {
		case "nobackup":
			r.NoBackup = true
		case "restored":
			r.Restored = append(r.Restored, kv[1])
		case "removed":
			r.Removed = append(r.Removed, kv[1])
		case "left":
			r.Left = append(r.Left, kv[1])
		}
	}
	return r
}

// fetchScript asks the mirror for each path (GET, body discarded) with
// curl, else wget, else (plain http) bash's /dev/tcp, printing
// "ok PATH" or "fail PATH MESSAGE" per path, and exit status 12 when
// there is no tool to ask with.
func fetchScript(m Mirror, paths []string) string {
	host, port, _ := net.SplitHostPort(m.Addr)
	quoted := make([]string, len(paths))
	for i, p := range paths {
		quoted[i] = shell.Quote(p)
	}
	return fmt.Sprintf(`base=%s; host=%s; port=%s; tls=%s
if command -v curl >/dev/null 2>&1; then
  get() { curl -fsS $k --max-time 15 -o /dev/null "$base$1" 2>&1; }
elif command -v wget >/dev/null 2>&1; then
  get() { wget -q $kw -T 15 -O /dev/null "$base$1" 2>&1 || { echo "wget: exit status $?"; return 1; }; }
elif [ "$tls" != yes ] && command -v bash >/dev/null 2>&1; then
  get() { timeout 15 bash -c 'exec 3<>"/dev/tcp/$0/$1" && printf "GET %%s HTTP/1.0\r\nHost: %%s:%%s\r\n\r\n" "$2" "$0" "$1" >&3 && head -n 1 <&3' "$host" "$port" "$1" | grep " 200 " >/dev/null || { echo "no 200 answer"; return 1; }; }
else
  echo "no curl, wget or bash to reach the mirror with" >&2; exit 12
fi
for p in %s; do
  if msg=$(get "$p"); then echo "ok $p"; else printf 'fail %%s %%s\n' "$p" "$(printf '%%s' "$msg" | head -n 1)"; fi
done
`, shell.Quote(m.scheme()+"://"+m.Addr), shell.Quote(host), shell.Quote(port), shell.Quote(map[bool]string{true: "yes", false: "no"}[m.TLS]), strings.Join(quoted, " "))
}

// listShort joins names, at most max of them, saying how many more.
func listShort(names []string, max int) string {
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return strings.Join(names[:max], ", ") + fmt.Sprintf(" and %d more", len(names)-max)
}

// checkApt reports which wanted packages of the machine's target are
// installed and whether the mirror's repositories for it answer.
func checkApt(ctx context.Context, p *probe) outcome {
	a := p.opts.Apt
	if _, err := p.release(ctx); err != nil {
		return problem("cannot read /etc/os-release: "+err.Error(), "")
	}
	target := p.target(ctx)
	repos := a.repositories(target, false)
	wanted := a.wanted(target)

	// What is installed.
	installed := map[string]string{}
	if len(wanted) > 0 {
		cmd := `dpkg-query -W -f='${Package} ${Version} ${Status}\n' ` + strings.Join(quoteAll(wanted), " ")
		out, errb, err := p.user(ctx, cmd)
		var ce *CommandError
		if err != nil && !(errors.As(err, &ce) && ce.Status == 1) { // 1: some package unknown
			return problem("dpkg-query failed: "+firstLines(errb+" "+errText(err), 2), "")
		}
		for _, line := range strings.Split(out, "\n") {
			f := strings.Fields(line)
			if len(f) >= 5 && f[len(f)-1] == "installed" && f[len(f)-2] == "ok" {
				installed[f[0]] = f[1]
			}
		}
	}
	var missing []string
	for _, w := range wanted {
		if _, ok := installed[w]; !ok {
			missing = append(missing, w)
		}
	}
	have := fmt.Sprintf("%s: %d of %d packages installed", target, len(wanted)-len(missing), len(wanted))
	if len(missing) > 0 {
		have += " (missing " + listShort(missing, 8) + ")"
	}
	if len(repos) == 0 {
		return outcome{soft: true, detail: have + "; the bundle has no apt repository for " + target + ", so prepare leaves apt alone",
			fix: "build the bundle with the apt repositories for " + target + ", or install the missing packages on " + p.n.Name + " by hand"}
	}

	// Whether the mirror answers for each suite.
	var paths []string
	owner := map[string]string{}
	for _, r := range repos {
		for _, s := range r.Suites {
			path := r.Prefix + "/dists/" + s + "/InRelease"
			if s == FlatSuite {
				path = r.Prefix + "/InRelease"
			}
			paths = append(paths, path)
			owner[path] = r.Name + " " + s
		}
	}
	out, errb, err := p.fetchMirror(ctx, fetchScript(p.opts.Mirror, paths))
	var ce *CommandError
	if errors.As(err, &ce) && ce.Status == 12 {
		return problem(strings.TrimSpace(errb), "sudo apt-get install -y curl on "+p.n.Name)
	}
	if err != nil {
		return problem("asking the mirror's apt repositories failed: "+err.Error(), "")
	}
	var failed []string
	answered := 0
	for _, line := range strings.Split(out, "\n") {
		f := strings.SplitN(strings.TrimSpace(line), " ", 3)
		switch {
		case len(f) >= 2 && f[0] == "ok":
			answered++
		case len(f) >= 2 && f[0] == "fail":
			msg := ""
			if len(f) == 3 {
				msg = ": " + f[2]
			}
			failed = append(failed, fmt.Sprintf("%s (%s)%s", owner[f[1]], p.opts.Mirror.base(f[1]), msg))
		}
	}
	names := map[string]bool{}
	for _, r := range repos {
		names[r.Name] = true
	}
	if len(failed) == 0 && answered == len(paths) {
		return pass(fmt.Sprintf("%s; the mirror's %d apt repositories for it answer (%d suites)", have, len(names), len(paths)))
	}
	detail := fmt.Sprintf("%s; %d of %d suites of the mirror's apt repositories do not answer: %s", have, len(paths)-answered, len(paths), strings.Join(failed, "; "))
	fix := fmt.Sprintf("check that %s serves the bundle's apt repositories (a bundle built with apt entries for %s) and is reachable from %s", p.opts.Mirror.Addr, target, p.n.Name)
	if len(missing) == 0 {
		return outcome{soft: true, detail: detail + " (every package is installed, so the install needs none)", fix: fix}
	}
	return problem(detail, fix)
}

// quoteAll shell-quotes each string.
func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = shell.Quote(s)
	}
	return out
}
