package patch

import (
	"bytes"
	"fmt"
	"net"
	"regexp"
	"strings"

	"github.com/paimirror/paimirror/manifests/shell"
)

var (
	// gitCloneKubespray matches environment.sh's clone of kubespray and
	// captures the destination.
	gitCloneKubespray = regexp.MustCompile(`^(\s*)git clone .*kubernetes-sigs/kubespray(?:\.git)?\s+(\S+)\s*$`)
	// mirrorKubespray matches a line this patch wrote, to repoint it: a
	// download with curl, else wget, else python3 (fetchKubespray), or
	// the curl-only one of earlier versions.
	mirrorKubespray = regexp.MustCompile(`^(\s*)mkdir -p (\S+) && \(set -o pipefail; (?:u="[^"]*"; if command -v curl .* fi|curl -fsSL "[^"]*") \| tar -xz --strip-components=1 -C \S+\) \|\| exit \$\?\s*$`)
	// pipInstall finds `pip install` (python3 -m pip, pip3, pip) and an
	// index option this patch added before.
	pipInstall  = regexp.MustCompile(`\bpip3? install\b`)
	pipIndexOpt = regexp.MustCompile(` --index-url \S+( --trusted-host \S+| --cert \S+)?`)
)

// fetchKubespray writes the URL in $u to standard output with curl, or
// wget, or python3, whichever the dev box has (a stock Ubuntu 18.04
// desktop has wget and python3, not curl), failing on an HTTP error. With
// none of them it says what to install.
const fetchKubespray = `if command -v curl >/dev/null 2>&1; then curl -fsSL "$u"; ` +
	`elif command -v wget >/dev/null 2>&1; then wget -qO- "$u"; ` +
	`elif command -v python3 >/dev/null 2>&1; then python3 -c 'import shutil, sys, urllib.request; shutil.copyfileobj(urllib.request.urlopen(sys.argv[1]), sys.stdout.buffer)' "$u"; ` +
	`else echo "environment.sh: fetching kubespray from the mirror needs curl, wget or python3; install one and run again" >&2; exit 127; fi`

// envPatch says where environment.sh should take kubespray and Python
// packages from; an empty field leaves that part alone.
type envPatch struct {
	// kubesprayURL is the mirror URL of the kubespray archive at the commit
	// release-2.11 stands at.
	kubesprayURL string
	// pipIndex is the mirror's PEP 503 index, e.g.
	// "http://10.0.0.9:5000/pypi/simple/"; trustedHost its host when it
	// is plain HTTP; cert the CA bundle pip verifies it with when it is
	// https.
	pipIndex, trustedHost, cert string
}

// patchEnvironment rewrites environment.sh: the kubespray clone becomes a
// download of the same tree from the mirror (with curl, wget or python3),
// and every pip install gets the mirror's index, each option value one
// shell word (shell.Word). Lines it wrote before (also the curl-only
// download of earlier versions) are repointed, so a second run with the
// same mirror changes nothing.
func patchEnvironment(name string, data []byte, p envPatch) ([]byte, []string) {
	var warnings []string
	lines := strings.SplitAfter(string(data), "\n")
	cloned := false
	for i, l := range lines {
		body := strings.TrimRight(l, "\n")
		nl := l[len(body):]
		if p.kubesprayURL != "" {
			var m []string
			if m = gitCloneKubespray.FindStringSubmatch(body); m == nil {
				m = mirrorKubespray.FindStringSubmatch(body)
			}
			if m != nil {
				lines[i] = fmt.Sprintf(`%smkdir -p %s && (set -o pipefail; u="%s"; %s | tar -xz --strip-components=1 -C %s) || exit $?`, m[1], m[2], p.kubesprayURL, fetchKubespray, m[2]) + nl
				cloned = true
				continue
			}
		}
		if p.pipIndex != "" && pipInstall.MatchString(body) && !strings.HasPrefix(strings.TrimSpace(body), "#") {
			opt := " --index-url " + shell.Word(p.pipIndex)
			if p.trustedHost != "" {
				opt += " --trusted-host " + shell.Word(p.trustedHost)
			}
			if p.cert != "" {
				opt += " --cert " + shell.Word(p.cert)
			}
			body = pipIndexOpt.ReplaceAllString(body, "")
			loc := pipInstall.FindStringIndex(body)
			lines[i] = body[:loc[1]] + opt + body[loc[1]:] + nl
		}
	}
	if p.kubesprayURL != "" && !cloned {
		warnings = append(warnings, fmt.Sprintf("%s: no `git clone` of kubespray found; the dev box will take kubespray from wherever this script says", name))
	}
	out := []byte(strings.Join(lines, ""))
	if bytes.Equal(out, data) {
		return data, warnings
	}
	return out, warnings
}

// pipTrustedHost returns the host of mirror (HOST or HOST:PORT; an IPv6
// address in brackets) for pip's --trusted-host: without the port, and
// an IPv6 address without brackets, which both pip 9 (Ubuntu 18.04's,
// comparing host names) and later pips (which add the brackets back)
// match against the index URL's host.
func pipTrustedHost(mirror string) string {
	if h, _, err := net.SplitHostPort(mirror); err == nil {
		return h
	}
	return strings.Trim(mirror, "[]")
}
