package patch

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/paimirror/paimirror/manifests/shell"
	"github.com/paimirror/paimirror/manifests/yamltext"
)

var (
	// nslookupRaw is a task's `raw: nslookup HOST` line (HOST quoted or
	// not, often a {{ variable }}).
	nslookupRaw = regexp.MustCompile(`^(\s*(?:-\s+)?raw:\s+)(?:"nslookup\s[^"]*"|'nslookup\s[^']*'|nslookup\s+\S+)\s*$`)
	// mirrorRaw is a line patchRequirement wrote, to repoint it.
	mirrorRaw = regexp.MustCompile(`^(\s*(?:-\s+)?raw:\s+)"curl -fsSk? -o /dev/null --max-time 15 \S+ \|\| wget -q (?:--no-check-certificate )?-T 15 -O /dev/null \S+"\s*$`)
)

// mirrorCheck is the shell command that replaces a requirement check's
// nslookup: it succeeds when the machine gets an answer from the mirror's
// registry (curl, else wget). With https the certificate is not verified:
// this only checks reachability, and docker checks the certificate. The
// URL is one shell word (shell.Word: a bracketed IPv6 address is quoted).
func mirrorCheck(base string) string {
	u := shell.Word(base + "/v2/")
	if strings.HasPrefix(base, "https://") {
		return fmt.Sprintf("curl -fsSk -o /dev/null --max-time 15 %s || wget -q --no-check-certificate -T 15 -O /dev/null %s", u, u)
	}
	return fmt.Sprintf("curl -fsS -o /dev/null --max-time 15 %s || wget -q -T 15 -O /dev/null %s", u, u)
}

// patchRequirement makes every `raw: nslookup HOST` task of a requirement
// check ask the mirror at base ("http://HOST:PORT") instead, so the check
// passes offline when the machine reaches the mirror, and fails, as
// before, when it cannot reach what the install pulls from. Task names,
// registered variables and the messages are left as they are. Lines it
// wrote before are repointed, so a second run with the same mirror
// changes nothing. It returns data itself when nothing changes, and the
// number of checks rewritten.
func patchRequirement(data []byte, base string) ([]byte, int) {
	lines := yamltext.Lines(data)
	want := mirrorCheck(base)
	n := 0
	changed := false
	for i, l := range lines {
		body, eol := yamltext.CutEOL(l)
		m := nslookupRaw.FindStringSubmatch(body)
		if m == nil {
			m = mirrorRaw.FindStringSubmatch(body)
		}
		if m == nil {
			continue
		}
		n++
		if line := m[1] + `"` + want + `"`; line != body {
			lines[i] = line + eol
			changed = true
		}
	}
	if !changed {
		return data, n
	}
	return []byte(strings.Join(lines, "")), n
}
