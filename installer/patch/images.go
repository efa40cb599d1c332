package patch

import (
	"fmt"
	"path"
	"regexp"
	"strings"

	"github.com/paimirror/paimirror/installer/pai"
	"github.com/paimirror/paimirror/manifests"
	"github.com/paimirror/paimirror/manifests/shell"
	"github.com/paimirror/paimirror/manifests/yamltext"
)

// imageLine splits a line holding an image reference as a YAML value:
// indentation and key ("image:", "- image:"), an optional quote, the
// reference, and the rest.
var imageLine = regexp.MustCompile(`^(\s*(?:-\s+)?image:[ \t]*)(["']?)([^\s"'#]+)(.*)$`)

// templated reports whether an image reference is (partly) filled in by a
// template or the shell, so that only its rendering names an image:
// "{{ cluster_cfg[...]['prefix'] }}rest-server:{{ ... }}", "$IMAGE".
func templated(ref string) bool {
	return strings.ContainsAny(ref, "{}$%<>()")
}

// literalMirrorName returns the mirror name of a literal image reference
// as docker reads it (no tag is "latest"), or "" when it is not one.
func literalMirrorName(ref string) string {
	if templated(ref) {
		return ""
	}
	if _, tag := manifests.RepoTag(ref); tag == "" && !strings.Contains(ref, "@") {
		ref += ":latest"
	}
	name, err := manifests.MirrorName(ref)
	if err != nil {
		return ""
	}
	return name
}

// offService says why a default install does not start the service whose
// deploy file is rel, or "" when it does.
func offService(rel string) string {
	switch {
	case strings.HasPrefix(rel, "src/docker-cache/"):
		return "the docker cache service runs only with enable_docker_cache: true in config.yaml"
	case strings.HasPrefix(rel, "src/dshuttle"):
		return "dshuttle runs only when enabled in services-configuration.yaml"
	}
	return ""
}

// isDeployFile reports whether rel (slash-separated, relative to the pai
// checkout) is a file of a service's deploy directory, src/*/deploy/**,
// that paictl renders or applies.
func isDeployFile(rel string) bool {
	parts := strings.SplitN(rel, "/", 4)
	if len(parts) < 4 || parts[0] != "src" || parts[2] != "deploy" {
		return false
	}
	base := path.Base(rel)
	return syntaxOf(base) != skipFile && !strings.HasSuffix(base, pai.OrigSuffix) && !strings.Contains(base, ".paimirror-")
}

// patchDeployImages points every literal image reference of a service's
// deploy file ("image: busybox:1.31.1") whose image the registry holds at
// its copy there ("image: harbor.lab/openpai/library/busybox:1.31.1"),
// keeping quotes and what follows. A reference already under the
// registry's prefix stays; one filled in by a template (pai's
// {{ cluster_cfg['cluster']['docker-registry']['prefix'] }}, which the
// docker_registry_* keys of config.yaml point at the registry) is not a
// literal. It returns the new content and a warning, "FILE:LINE: ...",
// for each literal reference whose image the registry lacks, when the
// service runs on a default install.
func patchDeployImages(rel string, data []byte, reg *Registry) ([]byte, []string) {
	lines := yamltext.Lines(data)
	var warnings []string
	changed := false
	for i, l := range lines {
		body, eol := yamltext.CutEOL(l)
		m := imageLine.FindStringSubmatch(body)
		if m == nil {
			continue
		}
		ref := m[3]
		if reg.names(ref) || templated(ref) {
			continue
		}
		name := literalMirrorName(ref)
		if name == "" || !reg.has(name) {
			if offService(rel) == "" {
				what := ref
				if name != "" && name != ref {
					what += " (" + name + ")"
				}
				warnings = append(warnings, fmt.Sprintf("%s:%d: the registry %s does not hold %s: left as it is, the service will pull it from %s (push a bundle that has it and patch again)",
					rel, i+1, reg.Prefix, what, sourceOf(ref)))
			}
			continue
		}
		lines[i] = m[1] + m[2] + reg.ref(name) + m[4] + eol
		changed = true
	}
	if !changed {
		return data, warnings
	}
	return []byte(strings.Join(lines, "")), warnings
}

// sourceOf names where docker pulls ref from: its registry host, or
// Docker Hub.
func sourceOf(ref string) string {
	if h := registryHost(ref); h != "" {
		return h
	}
	return "Docker Hub"
}

// devicePluginImages are the images that the device plugin manifests pai
// v1.8.0 fetches (start.sh.template) name, by device type, as Docker Hub
// repositories; the manifests leave the tag out or name the one the
// bundle holds (openpai-v1.8.0.yaml).
var devicePluginImages = map[string]string{
	"nvidia.com/gpu":  "nvidia/k8s-device-plugin",
	"amd.com/gpu":     "rocm/k8s-device-plugin",
	"enflame.com/dtu": "enflame/k8s-device-plugin",
	"rdma/hca":        "rdma/k8s-rdma-sriov-dev-plugin",
}

// pluginImages returns the registry's Docker Hub images that are device
// plugins (their repository's name has "plugin" in it): those the device
// plugin manifests name.
func (r *Registry) pluginImages() []string {
	var out []string
	for _, name := range r.Images {
		repo, _ := manifests.RepoTag(name)
		if registryHost(name) == "" && strings.Contains(path.Base(repo), "plugin") {
			out = append(out, name)
		}
	}
	return out
}

// holdsRepo reports whether the registry holds some tag of repository
// repo (a mirror name without tag).
func (r *Registry) holdsRepo(repo string) bool {
	for _, name := range r.Images {
		if rp, _ := manifests.RepoTag(name); rp == repo {
			return true
		}
	}
	return false
}

// sedStage returns the pipeline stage, " | sed -e '...' -e '...'", that
// rewrites the image: lines of a Kubernetes manifest naming one of the
// Docker Hub images names (mirror names) to their copies in the
// registry, or "" for no names. Each image gets two expressions, for a
// reference that ends its line and one followed by a quote, a space or a
// comment; a reference may carry "docker.io/", an official image may
// leave out "library/", and a "latest" image its tag. They are POSIX
// basic regular expressions (no GNU extensions), so busybox, BSD and GNU
// sed read them alike, each one shell word (shell.Quote).
func sedStage(reg *Registry, names []string) string {
	if len(names) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(" | sed")
	for _, name := range names {
		repo, tag := manifests.RepoTag(name)
		// \1: the key and an optional quote; then the groups below.
		re := `^\([[:space:]-]*image:[[:space:]]*[^[:alnum:][:space:]]\{0,1\}\)\(docker\.io/\)\{0,1\}`
		groups := 2
		if short, ok := strings.CutPrefix(repo, "library/"); ok {
			re += `\(library/\)\{0,1\}` + bre(short)
			groups++
		} else {
			re += bre(repo)
		}
		if tag == "latest" {
			re += `\(:latest\)\{0,1\}`
			groups++
		} else {
			re += bre(":" + tag)
		}
		to := sedReplacement(reg.ref(name))
		end := fmt.Sprintf(`s#%s$#\1%s#`, re, to)
		more := fmt.Sprintf(`s#%s\([^A-Za-z0-9._:@/-]\)#\1%s\%d#`, re, to, groups+1)
		b.WriteString(" -e " + shell.Quote(end) + " -e " + shell.Quote(more))
	}
	return b.String()
}

// bre escapes s for a POSIX basic regular expression between '#'
// delimiters.
func bre(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`.[\*^$#`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}

// sedReplacement escapes s for the replacement of a sed s### command.
func sedReplacement(s string) string {
	return strings.NewReplacer(`\`, `\\`, `&`, `\&`, `#`, `\#`).Replace(s)
}
