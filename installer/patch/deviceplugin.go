package patch

import (
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/paimirror/paimirror/manifests"
	"github.com/paimirror/paimirror/manifests/yamltext"
)

// svnCat matches pai's device plugin fetches:
//
//	svn cat https://github.com/OWNER/REPO.git/tags/TAG/PATH
//	svn cat https://github.com/OWNER/REPO.git/trunk/PATH
//
// (and branches/BRANCH/PATH), optionally quoted.
var svnCat = regexp.MustCompile(`svn\s+cat\s+(["']?)https?://github\.com/([^/\s"']+)/([^/\s"']+?)(?:\.git)?/(?:tags/([^/\s"']+)|branches/([^/\s"']+)|(trunk))/([^\s"']+)(["']?)`)

// curlMirror matches a fetch of a device plugin file from a mirror: this
// package's own rewrite (possibly for another mirror address) and the seed
// guide's hand edit, which uses the siaimes/k8s-share server's paths:
//
//	curl -fsSL "http://HOST:PORT/raw.githubusercontent.com/OWNER/REPO/REF/PATH"
//	curl "http://HOST:PORT/k8s-share/OWNER/REPO/REF/PATH"
var curlMirror = regexp.MustCompile(`curl(?:\s+-[A-Za-z]+)*\s+(["']?)(https?://[^/\s"']+)/(raw\.githubusercontent\.com|k8s-share)/([^/\s"']+)/([^/\s"']+)/([^/\s"']+)/([^\s"']+)(["']?)`)

// deviceIf matches the Jinja condition that renders one device's block:
// {% if 'nvidia.com/gpu' in cluster_cfg['device-plugin']['devices'] %}.
var deviceIf = regexp.MustCompile(`\{%-?\s*if\s+["']([^"']+)["']\s+in\s+cluster_cfg\[["']device-plugin["']\]\[["']devices["']\]`)

// rawHost is where GitHub serves a repository's files over HTTPS.
const rawHost = "raw.githubusercontent.com"

// devicePlugin rewrites the svn fetches of the device plugin start script.
type devicePlugin struct {
	name     string // for messages
	base     string // SCHEME://MIRROR
	hasPath  func(string) bool
	manifest *manifests.Manifest
	used     map[string]bool // device types layout.yaml's workers use
	// registry, when set, holds the images; the manifests fetched from
	// the mirror are piped through a sedStage for their device's images.
	registry *Registry
	// unused maps each line (1-based) of a block that renders only for a
	// device type layout.yaml's workers do not use to that type; set by
	// patch.
	unused   map[int]string
	warnings []string
}

// patch returns the script with every svn cat the mirror can answer
// replaced by a curl of the same file from it. With a registry, each such
// curl is followed by a sed stage (sedStage) that points the manifest's
// device plugin images at the registry, since the manifests name Docker
// Hub images (nvidia/k8s-device-plugin:1.0.0-beta4): in a device type's
// block, the registry's tags of that device's image
// (devicePluginImages); elsewhere, every device plugin image the
// registry holds (Registry.pluginImages). Without a registry, a sed
// stage a former run added is taken out.
func (d *devicePlugin) patch(data []byte) []byte {
	lines := yamltext.Lines(data)
	device := ""
	var out strings.Builder
	d.unused = map[int]string{}
	ours := regexp.MustCompile(`(curl -fsSL "` + regexp.QuoteMeta(d.base) + `/[^"]*")((?: \| sed(?: -e '[^']*')+)?)`)
	warned := map[string]bool{}
	for i, line := range lines {
		if m := deviceIf.FindStringSubmatch(line); m != nil {
			device = m[1]
		} else if strings.Contains(line, "endif") {
			device = ""
		}
		if device != "" && !d.used[device] {
			d.unused[i+1] = device
		}
		line = svnCat.ReplaceAllStringFunc(line, func(cmd string) string {
			return d.rewrite(i+1, device, cmd)
		})
		line = curlMirror.ReplaceAllStringFunc(line, func(cmd string) string {
			return d.retarget(i+1, device, cmd)
		})
		line = ours.ReplaceAllStringFunc(line, func(s string) string {
			if d.registry != nil && device != "" && d.used[device] && !warned[device] {
				if repo := devicePluginImages[device]; repo != "" && !d.registry.holdsRepo(repo) {
					warned[device] = true
					d.warnings = append(d.warnings, fmt.Sprintf("%s:%d: the registry %s holds no %s image, which the %s device plugin's manifest names: its pods will pull it from Docker Hub (push a bundle that has it and patch again)",
						d.name, i+1, d.registry.Prefix, repo, device))
				}
			}
			return ours.FindStringSubmatch(s)[1] + d.stage(device)
		})
		out.WriteString(line)
	}
	return []byte(out.String())
}

// stage returns the sed stage for the manifests of device's block ("":
// outside one), or "" without a registry or images for it.
func (d *devicePlugin) stage(device string) string {
	if d.registry == nil {
		return ""
	}
	repo, ok := devicePluginImages[device]
	if !ok {
		return sedStage(d.registry, d.registry.pluginImages())
	}
	var names []string
	for _, name := range d.registry.Images {
		if rp, _ := manifests.RepoTag(name); rp == repo {
			names = append(names, name)
		}
	}
	return sedStage(d.registry, names)
}

// rewrite returns the curl command that replaces one svn cat, or the svn
// cat itself, with a warning, when the mirror cannot serve the file.
func (d *devicePlugin) rewrite(line int, device, cmd string) string {
	m := svnCat.FindStringSubmatch(cmd)
	owner, repo, tag, branch, trunk, file := m[2], m[3], m[4], m[5], m[6], m[7]
	ref := tag + branch
	who := "the device plugin"
	if device != "" {
		who = "the " + device + " device plugin"
	}
	var mirrorPath string
	if trunk != "" {
		mirrorPath = d.trunkPath(owner, repo, file)
		if mirrorPath == "" {
			d.warnf(line, device, "%s fetches %s/%s %s from the repository's default branch (svn trunk), and the manifest lists no such file: left as svn cat, which fails (GitHub no longer serves Subversion)",
				who, owner, repo, file)
			return cmd
		}
	} else {
		mirrorPath = "/" + rawHost + "/" + owner + "/" + repo + "/" + ref + "/" + file
	}
	if d.hasPath != nil && !d.hasPath(mirrorPath) {
		d.warnf(line, device, "the mirror does not serve %s, which %s needs: left as svn cat, which fails (GitHub no longer serves Subversion); %s and patch again",
			mirrorPath, who, d.buildHint(mirrorPath))
		return cmd
	}
	return `curl -fsSL "` + d.base + mirrorPath + `"`
}

// retarget points a curl of a device plugin file at this mirror, in this
// package's form, when it fetches from elsewhere (a former mirror address,
// the seed guide's k8s-share server).
func (d *devicePlugin) retarget(line int, device, cmd string) string {
	m := curlMirror.FindStringSubmatch(cmd)
	base, owner, repo, ref, file := m[2], m[4], m[5], m[6], m[7]
	mirrorPath := "/" + rawHost + "/" + owner + "/" + repo + "/" + ref + "/" + file
	want := `curl -fsSL "` + d.base + mirrorPath + `"`
	if cmd == want {
		return cmd
	}
	if d.hasPath != nil && !d.hasPath(mirrorPath) {
		d.warnf(line, device, "the mirror does not serve %s: left fetching from %s; %s and patch again", mirrorPath, base, d.buildHint(mirrorPath))
		return cmd
	}
	if base != d.base {
		d.warnf(line, "", "now fetches %s from the mirror instead of %s", mirrorPath, base)
	}
	return want
}

func (d *devicePlugin) warnf(line int, device, format string, args ...any) {
	w := fmt.Sprintf("%s:%d: ", d.name, line) + fmt.Sprintf(format, args...)
	switch {
	case device == "":
	case d.used[device]:
		w += "; layout.yaml uses " + device + ", so the device plugin service will not start"
	default:
		w += "; it matters only if the cluster has " + device
	}
	d.warnings = append(d.warnings, w)
}

// buildHint says how to get the file at mirrorPath into the bundle: the
// manifest groups that are off by default and hold it, if any.
func (d *devicePlugin) buildHint(mirrorPath string) string {
	if d.manifest == nil {
		return "add the file to the bundle"
	}
	off := map[string]bool{}
	for _, g := range d.manifest.Groups {
		off[g.Name] = !g.Default
	}
	for _, f := range d.manifest.Files {
		if !slices.Contains(f.MirrorPaths(), mirrorPath) {
			continue
		}
		var flags []string
		for _, g := range f.Groups {
			if off[g] {
				flags = append(flags, "--include "+g)
			}
		}
		if len(flags) == 0 {
			return "build the bundle again with this file (paimirror build)"
		}
		return "build the bundle with it (paimirror build " + strings.Join(flags, " ") + ")"
	}
	return "add the file to the manifest, build the bundle again"
}

// trunkPath returns the mirror path of the manifest file that is
// OWNER/REPO's PATH on some branch of raw.githubusercontent.com, or "".
func (d *devicePlugin) trunkPath(owner, repo, file string) string {
	if d.manifest == nil {
		return ""
	}
	for _, f := range d.manifest.Files {
		for _, src := range f.Sources() {
			u, err := url.Parse(src)
			if err != nil || !strings.EqualFold(u.Host, rawHost) {
				continue
			}
			parts := strings.SplitN(strings.TrimPrefix(u.Path, "/"), "/", 4)
			if len(parts) == 4 && strings.EqualFold(parts[0], owner) && strings.EqualFold(parts[1], repo) && parts[3] == file {
				if paths := f.MirrorPaths(); len(paths) > 0 {
					return paths[0]
				}
			}
		}
	}
	return ""
}
