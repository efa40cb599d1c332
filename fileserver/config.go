package fileserver

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
// at the mirror at hostport, in the order the install needs it.
func (s *Server) snippets(hostport, scheme string) []snippet {
	out := []snippet{{
		ID:    "config-yaml",
		Where: "contrib/kubespray/config/config.yaml",
		Note: "Merge into config.yaml, replacing any openpai_kubespray_extra_var block from the guide. " +
			"kubespray then pulls the gcr.io, k8s.gcr.io and quay.io images and downloads kubeadm, hyperkube, " +
			"the CNI plugins and calicoctl from this mirror. Docker Hub images need no line here. " +
			"Do not also set openpai_docker_registry_mirrors or openpai_docker_insecure_registries: " +
			"dockerd refuses a setting that is both a flag and in daemon.json.",
		Text: configYAML(hostport, scheme),
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
	if len(s.b.Lock.PythonFiles()) > 0 {
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

// configYAML is the openpai_kubespray_extra_var block of config.yaml. Every
// value is a double-quoted string: pai writes each one into openpai.yml as
// `key: "value"`. It must never contain the word that quick-start-service.sh
// greps config.yaml for (the image tag key), or that grep would break.
func configYAML(hostport, scheme string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# paimirror at %s\nopenpai_kubespray_extra_var:\n", hostport)
	for _, v := range manifests.KubesprayVars(hostport, scheme) {
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
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	return fmt.Sprintf("[global]\nindex-url = %s\ntrusted-host = %s\n", pipIndexURL(hostport, scheme), host)
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
