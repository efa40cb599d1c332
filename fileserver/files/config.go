package files

import (
	"crypto/sha256"
	"encoding/pem"
	"fmt"
	"net"
	"path"
	"strconv"
	"strings"

	"github.com/paimirror/paimirror/manifests"
	"github.com/paimirror/paimirror/manifests/shell"
)

// snippet is one piece of configuration to paste: where it goes and what it
// says, with the mirror's address filled in.
type snippet struct {
	// ID is the anchor on the index page.
	ID string
	// Where names the file the text goes into.
	Where string
	// Note says what to do with the text.
	Note string
	// Text is the text itself.
	Text string
}

// snippets returns the configuration that points an OpenPAI v1.8.0 install
// at the mirror at hostport, in the order the install needs it: what a
// hand install sets in the pai checkout, on the nodes and on the dev box,
// as paimirror install would.
func (s *Server) snippets(hostport, scheme string) []snippet {
	out := []snippet{{
		ID:    "config-yaml",
		Where: "contrib/kubespray/config/config.yaml",
		Note: "Merge into config.yaml, replacing any openpai_kubespray_extra_var block from the guide. " +
			"kubespray then pulls the gcr.io, k8s.gcr.io and quay.io images and downloads kubeadm, hyperkube, " +
			"the CNI plugins and calicoctl from this mirror" + s.dockerAptNote() + ". Docker Hub images need no line here. " +
			"Do not also set openpai_docker_registry_mirrors or openpai_docker_insecure_registries: " +
			"dockerd refuses a setting that is both a flag and in daemon.json.",
		Text: configYAML(hostport, scheme, s.dockerAptVars(hostport, scheme)...),
	}}
	daemonNote := "On the dev box (pai never configures its docker), and on any node you set up by hand: " +
		"merge these keys, then restart docker. Docker Hub images are then pulled from the mirror under their usual names."
	if scheme == "https" {
		// The docker cache step writes "http://<docker_cache_host>", which a
		// TLS mirror does not answer: daemon.json does its job instead.
		daemonNote = "On every node and on the dev box: merge these keys, then restart docker. " +
			"(Leave docker_cache_host in docker-cache-config-distribute.yml as it is: that step writes http:// addresses, " +
			"which a TLS mirror does not answer.) Docker Hub images are then pulled from the mirror under their usual names."
	} else {
		out = append(out, snippet{
			ID:    "docker-cache",
			Where: "contrib/kubespray/docker-cache-config-distribute.yml",
			Note: "Replace the docker_cache_host line: this step then adds the mirror to the registry mirrors " +
				"and insecure registries in /etc/docker/daemon.json on every master and worker. " +
				"Every node needs a valid daemon.json (at least {}) before it runs.",
			Text: dockerCacheYAML(hostport),
		})
	}
	out = append(out, snippet{ID: "daemon-json", Where: "/etc/docker/daemon.json", Note: daemonNote, Text: daemonJSON(hostport, scheme)})
	out = append(out, s.aptSnippets(hostport, scheme)...)
	pip := len(s.b.Lock.PythonFiles()) > 0
	if kp := s.kubesprayPath(); kp != "" || pip {
		note := "On the dev box, before quick-start-kubespray.sh runs it: environment.sh then takes kubespray's tree from this mirror " +
			"(the same commit release-2.11 stands at) instead of cloning it from GitHub"
		if kp == "" {
			note = "On the dev box: this bundle holds no kubespray archive (build it with the devbox-sources group), so environment.sh clones kubespray from GitHub"
		}
		if pip {
			note += ", and pip installs its Python packages from this mirror (/etc/pip.conf below does the same for every pip on the dev box)"
		}
		out = append(out, snippet{ID: "environment-sh", Where: environmentFile, Note: note + ".", Text: environmentSh(hostport, scheme, kp, pip)})
	}
	if pip {
		out = append(out, snippet{
			ID:    "pip-conf",
			Where: "/etc/pip.conf",
			Note: fmt.Sprintf("On the dev box: write this file (as root: environment.sh runs pip with sudo, which reads /etc/pip.conf). "+
				"pip then installs the dev box's Python packages (%d of them) from this mirror instead of PyPI. "+
				"trusted-host lets pip use it without a certificate it can check.", s.projects),
			Text: pipConf(hostport, scheme),
		})
	}
	return append(out,
		snippet{
			ID:    "device-plugin",
			Where: "src/device-plugin/deploy/start.sh.template",
			Note: "Replace each `svn cat https://github.com/...` line (GitHub no longer serves Subversion) " +
				"with the matching line below; the `| kubectl apply ...` line after it stays.",
			Text: s.devicePluginLines(hostport, scheme),
		})
}

// dockerAptURL is Docker's apt repository for Ubuntu, which kubespray 2.11's
// docker role adds to every node itself (docker_ubuntu_repo_base_url).
const dockerAptURL = "https://download.docker.com/linux/ubuntu"

// dockerApt returns the row of Docker's apt repository for Ubuntu, when the
// bundle carries it with its key.
func (s *Server) dockerApt() (aptRow, bool) {
	for _, r := range s.aptRows {
		if strings.TrimRight(r.URL, "/") == dockerAptURL && r.Prefix != "" && r.KeyPath != "" {
			return r, true
		}
	}
	return aptRow{}, false
}

// dockerAptVars are the kubespray variables that make its docker role add
// the mirror's copy of Docker's apt repository and key in place of
// download.docker.com, as paimirror install sets them; none when the bundle
// does not carry that repository.
func (s *Server) dockerAptVars(hostport, scheme string) []manifests.Var {
	r, ok := s.dockerApt()
	if !ok {
		return nil
	}
	base := scheme + "://" + hostport
	return []manifests.Var{
		{Name: "docker_ubuntu_repo_base_url", Value: base + r.Prefix},
		{Name: "docker_ubuntu_repo_gpgkey", Value: base + r.KeyPath},
	}
}

func (s *Server) dockerAptNote() string {
	if _, ok := s.dockerApt(); ok {
		return ", and installs docker-ce from this mirror's copy of Docker's apt repository"
	}
	return ""
}

// The apt files paimirror install writes on every node.
const (
	aptSourcesPath = "/etc/apt/sources.list.d/paimirror.list"
	aptConfPath    = "/etc/apt/apt.conf.d/99paimirror"
)

// aptSnippets are the apt files of a node: for each target with
// repositories the install adds to the sources, their sources lines (one
// line each); then apt's settings for the mirror. None when the bundle has
// no such repository.
func (s *Server) aptSnippets(hostport, scheme string) []snippet {
	base := scheme + "://" + hostport
	var targets []string
	lines := map[string][]string{}
	others := false
	for _, r := range s.aptRows {
		if !r.Sources {
			others = true
			continue
		}
		if _, ok := lines[r.Target]; !ok {
			targets = append(targets, r.Target)
		}
		for _, l := range r.Lines {
			lines[r.Target] = append(lines[r.Target], l.Text(base))
		}
	}
	if len(targets) == 0 {
		return nil
	}
	var out []snippet
	for _, t := range targets {
		note := fmt.Sprintf("On every %s node (and on the dev box, if it runs %s), by hand: move /etc/apt/sources.list and the lists in "+
			"/etc/apt/sources.list.d aside (offline, apt-get update fails on every repository it cannot reach), "+
			"write this file and %s below, then run apt-get update. paimirror install does all of it, and --restore-apt puts the originals back.", t, t, aptConfPath)
		if others {
			note += " Repositories kubespray adds itself (Docker's) are not listed."
		}
		out = append(out, snippet{ID: "apt-sources-" + t, Where: aptSourcesPath + " (" + t + ")", Note: note,
			Text: fmt.Sprintf("# paimirror at %s: the apt repositories for %s\n%s\n", oneLine(hostport), oneLine(t), strings.Join(lines[t], "\n"))})
	}
	return append(out, snippet{ID: "apt-conf", Where: aptConfPath,
		Note: "On every node whose apt uses this mirror: it carries only the Packages indexes and the packages the install needs, " +
			"so apt must not ask it for translations, other index types or recommended packages, nor go through a proxy to reach it.",
		Text: aptConf(hostport, scheme)})
}

// aptDisabledTargets are the apt index targets (Acquire::IndexTargets)
// Ubuntu enables besides Packages: appstream's DEP-11 metadata and icons,
// command-not-found's CNF and apt-file's Contents. The mirror serves none
// of them, and apt-get update fails on each it cannot fetch.
var aptDisabledTargets = []string{
	"DEP-11", "DEP-11-icons-small", "DEP-11-icons", "DEP-11-icons-hidpi", "DEP-11-icons-large", "DEP-11-icons-large-hidpi",
	"CNF", "Contents-deb", "Contents-udeb", "Contents-deb-legacy", "Contents-dsc",
}

// aptConf is the apt.conf.d drop-in for the mirror, with the settings
// paimirror install writes: no translations, no recommended packages, the
// aptDisabledTargets off, and the mirror's host reached without a proxy.
func aptConf(hostport, scheme string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "// paimirror at %s: apt takes only Packages indexes and the install's packages from it\n", oneLine(hostport))
	b.WriteString("Acquire::Languages \"none\";\n")
	b.WriteString("APT::Install-Recommends \"false\";\n")
	for _, t := range aptDisabledTargets {
		fmt.Fprintf(&b, "Acquire::IndexTargets::deb::%s::DefaultEnabled \"false\";\n", t)
	}
	fmt.Fprintf(&b, "Acquire::%s::Proxy::%s \"DIRECT\";\n", scheme, hostOf(hostport))
	return b.String()
}

// environmentFile is the dev box's setup script in the pai checkout;
// kubesprayDir is where it clones kubespray (pai v1.8.0).
const (
	environmentFile = "contrib/kubespray/script/environment.sh"
	kubesprayDir    = "${HOME}/pai-deploy/kubespray"
)

// kubesprayPath returns the mirror path of the kubespray archive
// environment.sh takes in place of its clone, or "" when the bundle does
// not hold it.
func (s *Server) kubesprayPath() string {
	for _, f := range s.b.Lock.Files {
		if strings.Contains(f.URL, "/kubernetes-sigs/kubespray/archive/") && len(f.Paths) > 0 {
			return f.Paths[0]
		}
	}
	return ""
}

// environmentSh is what changes in environment.sh, as paimirror install
// patches it: the line that replaces the clone of kubespray (when
// kubesprayPath is not empty), and the options every pip install gets (with
// pip). Over https pip checks the mirror with the system's CA bundle, to
// which the CA section adds the mirror's CA.
func environmentSh(hostport, scheme, kubesprayPath string, pip bool) string {
	var b strings.Builder
	if kubesprayPath != "" {
		fmt.Fprintf(&b, "# Replace the line `git clone -b release-2.11 https://github.com/kubernetes-sigs/kubespray.git %s` with:\n", kubesprayDir)
		fmt.Fprintf(&b, "mkdir -p \"%[1]s\" && (set -o pipefail; curl -fsSL %[2]s | tar -xz --strip-components=1 -C \"%[1]s\") || exit $?\n",
			kubesprayDir, shell.Quote(scheme+"://"+hostport+kubesprayPath))
	}
	if pip {
		b.WriteString("# In every `pip install` line, right after `install`, add:\n")
		fmt.Fprintf(&b, "--index-url %s", shell.Quote(pipIndexURL(hostport, scheme)))
		if scheme == "https" {
			fmt.Fprintf(&b, " --cert %s\n", shell.Quote(systemCABundle))
		} else {
			fmt.Fprintf(&b, " --trusted-host %s\n", shell.Quote(hostOf(hostport)))
		}
	}
	return b.String()
}

// systemCABundle is Ubuntu's bundle of the CAs the system trusts, which
// update-ca-certificates writes.
const systemCABundle = "/etc/ssl/certs/ca-certificates.crt"

// hostOf returns the host of HOST:PORT (all of it when it has no port).
func hostOf(hostport string) string {
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		return h
	}
	return hostport
}

// configYAML is the openpai_kubespray_extra_var block of config.yaml, with
// extra variables after kubespray's mirror ones. Every
// value is a double-quoted string: pai writes each one into openpai.yml as
// `key: "value"`. It must never contain the word that quick-start-service.sh
// greps config.yaml for (the image tag key), or that grep would break.
func configYAML(hostport, scheme string, extra ...manifests.Var) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# paimirror at %s\nopenpai_kubespray_extra_var:\n", hostport)
	for _, v := range append(manifests.KubesprayVars(hostport, scheme), extra...) {
		fmt.Fprintf(&b, "  %s: %s\n", v.Name, yamlQuote(v.Value))
	}
	return b.String()
}

func dockerCacheYAML(hostport string) string {
	return "docker_cache_host: " + yamlQuote(hostport) + "\n"
}

// daemonJSON is the docker daemon.json keys for the mirror. Over plain HTTP
// the mirror must also be an insecure registry; over HTTPS docker verifies
// it (see the CA section of the index page).
func daemonJSON(hostport, scheme string) string {
	var b strings.Builder
	b.WriteString("{\n")
	if scheme == "https" {
		fmt.Fprintf(&b, "  \"registry-mirrors\": [%s]\n", strconv.Quote("https://"+hostport))
	} else {
		fmt.Fprintf(&b, "  \"registry-mirrors\": [%s],\n", strconv.Quote("http://"+hostport))
		fmt.Fprintf(&b, "  \"insecure-registries\": [%s]\n", strconv.Quote(hostport))
	}
	b.WriteString("}\n")
	return b.String()
}

// pipIndexURL is pip's --index-url for the mirror's package index.
func pipIndexURL(hostport, scheme string) string {
	return scheme + "://" + hostport + PathPyPI + "/simple/"
}

// pipConf is the pip configuration that sends every pip install to the
// mirror's package index.
func pipConf(hostport, scheme string) string {
	return fmt.Sprintf("[global]\nindex-url = %s\ntrusted-host = %s\n", pipIndexURL(hostport, scheme), hostOf(hostport))
}

// devicePluginLines are the `curl` lines that replace start.sh.template's
// `svn cat` lines: one for every Kubernetes manifest (a .yml or .yaml file)
// the bundle holds, at its upstream-shaped mirror path.
func (s *Server) devicePluginLines(hostport, scheme string) string {
	var b strings.Builder
	for _, f := range s.b.Lock.Files {
		if len(f.Paths) == 0 || !isYAML(f.Paths[0]) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		fmt.Fprintf(&b, "# %s\ncurl -fsSL %s \\\n", oneLine(f.Name), shell.Quote(scheme+"://"+hostport+f.Paths[0]))
	}
	if b.Len() == 0 {
		return "# this bundle holds no device plugin manifest\n"
	}
	return b.String()
}

// caLines are the commands that make docker and the system trust the
// mirror's own CA.
func caLines(hostport, caPath string) string {
	dir := "/etc/docker/certs.d/" + hostport
	return fmt.Sprintf(`sudo mkdir -p %[1]s
curl -fsSk %[2]s | sudo tee %[3]s >/dev/null
curl -fsSk %[2]s | sudo tee /usr/local/share/ca-certificates/paimirror.crt >/dev/null
sudo update-ca-certificates
openssl x509 -noout -fingerprint -sha256 -in /usr/local/share/ca-certificates/paimirror.crt
`, shell.Quote(dir), shell.Quote("https://"+hostport+caPath), shell.Quote(dir+"/ca.crt"))
}

// oneLine returns s with control characters (a newline would end a shell
// comment) shown as '?'.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, s)
}

// fingerprint returns the SHA-256 fingerprint of the first certificate in
// a PEM block, as openssl prints it ("AB:CD:..."), or "" if there is none.
func fingerprint(certPEM []byte) string {
	blk, _ := pem.Decode(certPEM)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return ""
	}
	sum := sha256.Sum256(blk.Bytes)
	parts := make([]string, len(sum))
	for i, c := range sum {
		parts[i] = fmt.Sprintf("%02X", c)
	}
	return strings.Join(parts, ":")
}

// yamlQuote returns s as a YAML double-quoted scalar.
func yamlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// contentType is the Content-Type of a file, chosen by its path's
// extension: YAML (the device plugin manifests) as application/yaml (RFC
// 9512), JSON as application/json, gzip archives as application/gzip,
// everything else (binaries) as application/octet-stream. Content is never
// sniffed.
func contentType(p string) string {
	switch {
	case isYAML(p):
		return "application/yaml; charset=utf-8"
	case strings.HasSuffix(p, ".json"):
		return "application/json"
	case strings.HasSuffix(p, ".tgz"), strings.HasSuffix(p, ".gz"):
		return "application/gzip"
	}
	return "application/octet-stream"
}

func isYAML(p string) bool {
	ext := path.Ext(p)
	return ext == ".yml" || ext == ".yaml"
}
