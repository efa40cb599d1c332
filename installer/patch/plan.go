package patch

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/paimirror/paimirror/installer/pai"
	"github.com/paimirror/paimirror/manifests"
	"github.com/rogpeppe/go-internal/diff"
)

// Options configures Plan. The zero value is not enough: Mirror is
// required.
type Options struct {
	// Mirror is HOST:PORT (or HOST) as the cluster's nodes reach the mirror,
	// without a scheme. Required.
	Mirror string
	// Scheme is how files are fetched from the mirror: "http" (the default
	// when empty) or "https". Images always go through docker, which the
	// prepare step configures.
	Scheme string
	// ConfigPath is the config.yaml to patch. Default:
	// <pai>/contrib/kubespray/config/config.yaml, the one quick-start reads.
	ConfigPath string
	// LayoutPath is the layout.yaml to validate. Default:
	// <pai>/contrib/kubespray/config/layout.yaml.
	LayoutPath string
	// HasPath reports whether the mirror serves a file at a path such as
	// "/raw.githubusercontent.com/NVIDIA/k8s-device-plugin/1.0.0-beta4/nvidia-device-plugin.yml".
	// Default (nil): every path is assumed served.
	HasPath func(path string) bool
	// Manifest is where a device plugin fetched from a repository's default
	// branch (svn "trunk") finds the file, and so its mirror path, and
	// where the kubespray source archive is. Default (nil):
	// manifests.Default().
	Manifest *manifests.Manifest
	// PipIndex is the mirror's Python package index path, e.g.
	// "/pypi/simple/", when the mirror serves one: environment.sh's pip
	// installs then use it. Default "": pip is left alone.
	PipIndex string
	// DockerApt is where the mirror serves Docker's apt repository for
	// Ubuntu, when the bundle carries it: kubespray's
	// docker_ubuntu_repo_base_url and docker_ubuntu_repo_gpgkey then point
	// there. Default nil: kubespray adds download.docker.com.
	DockerApt *DockerApt
	// AptPackages are the names of the packages the mirror's apt
	// repositories carry for the install's machines, whose apt the
	// prepare step points at the mirror: Scan then does not report apt
	// updates, or apt installs of only these packages. Default nil: apt
	// is not mirrored.
	AptPackages []string
	// DevBoxDocker reports that the prepare step gives the dev box's
	// docker the mirror in registry-mirrors (see ScanOptions). Default
	// false.
	DevBoxDocker bool
	// Targets are the releases of the install's machines, for Scan (see
	// ScanOptions.Targets). Default: DefaultTargets.
	Targets []string
	// Registry, when set, is a lab registry holding the bundle's images
	// (paimirror push): every image of the install path is then named
	// there explicitly (kubespray's image variables, pai's
	// docker_registry_* keys, the dev box, the literal images of pai's
	// services, the device plugin manifests) and the docker cache step
	// leaves daemon.json alone; files, apt and Python packages still come
	// from Mirror. Default nil: images come from the mirror.
	Registry *Registry
}

// SystemCABundle is the system's CA bundle on Debian and Ubuntu, which
// pip is pointed at (--cert) for an https mirror: prepare adds the
// mirror's CA there.
const SystemCABundle = "/etc/ssl/certs/ca-certificates.crt"

// DockerApt is the mirror's copy of Docker's apt repository for Ubuntu
// (https://download.docker.com/linux/ubuntu).
type DockerApt struct {
	// Path is the repository's mirror path,
	// "/download.docker.com/linux/ubuntu" (dists/ and pool/ below it).
	Path string
	// KeyPath is the mirror path of its signing key,
	// "/download.docker.com/linux/ubuntu/gpg".
	KeyPath string
}

// DockerAptVars returns the kubespray 2.11 variables that make its docker
// role add the mirror's copy of Docker's apt repository, and its key, in
// place of download.docker.com. mirror is HOST:PORT; scheme "http" (the
// default when empty) or "https".
func DockerAptVars(mirror, scheme string, d DockerApt) []manifests.Var {
	if scheme == "" {
		scheme = "http"
	}
	base := scheme + "://" + mirror
	return []manifests.Var{
		{Name: "docker_ubuntu_repo_base_url", Value: base + d.Path},
		{Name: "docker_ubuntu_repo_gpgkey", Value: base + d.KeyPath},
	}
}

// Change is one file Plan would rewrite.
type Change struct {
	// Path is the file, as Apply writes it (the pai directory joined with
	// the file's path inside it, or Options.ConfigPath).
	Path string
	// Old is the file's content as Plan read it; New what Apply writes.
	Old, New []byte
	// Why says what the change is for.
	Why string
}

// Result is what Plan found: the changes to make and what the user should
// know. It is plain data.
type Result struct {
	// PaiDir is the pai checkout Plan read; Diff names files relative to it.
	PaiDir string
	// Changes are the files to rewrite, in a fixed order: config.yaml,
	// docker-cache-config-distribute.yml, the device plugin start script,
	// service-boot.sh, environment.sh, the pai.RequirementFiles, then, with
	// a Registry, the services' deploy files in path order.
	// Files that need no change are left out.
	Changes []Change
	// Warnings are things the patch replaced or could not do, each
	// starting with the file it is about, "FILE:LINE: " where there is a
	// line.
	Warnings []string
	// Findings are the internet hosts that the files the install runs
	// still name once Changes are applied (see Scan).
	Findings []Finding
}

// Plan works out how to point the pai checkout at paiDir at the mirror,
// writing nothing. It first validates layout.yaml with pai's own rules (a
// failure is a *pai.LayoutError); then it computes the new config.yaml
// (openpai_kubespray_extra_var with manifests.KubesprayVars, and
// DockerAptVars with Options.DockerApt), the new docker_cache_host, the
// device plugin start script fetching from the mirror and the requirement
// checks asking the mirror, with Options.Registry the registry edits (see
// the package documentation), and scans the tree as it would be
// afterwards. Running Plan again after Apply gives no changes.
func Plan(paiDir string, opts Options) (*Result, error) {
	if err := CheckMirror(opts.Mirror); err != nil {
		return nil, err
	}
	scheme := opts.Scheme
	switch scheme {
	case "":
		scheme = "http"
	case "http", "https":
	default:
		return nil, fmt.Errorf("%w: scheme %q: want http or https", ErrInvalidOptions, opts.Scheme)
	}
	if _, err := parseTargets(opts.Targets); err != nil {
		return nil, err
	}
	if opts.Registry != nil {
		if err := opts.Registry.check(); err != nil {
			return nil, err
		}
	}
	if err := checkPaiDir(paiDir); err != nil {
		return nil, err
	}
	configPath := opts.ConfigPath
	if configPath == "" {
		configPath = filepath.Join(paiDir, filepath.FromSlash(pai.ConfigFile))
	}
	layoutPath := opts.LayoutPath
	if layoutPath == "" {
		layoutPath = filepath.Join(paiDir, filepath.FromSlash(pai.LayoutFile))
	}
	manifest := opts.Manifest
	if manifest == nil {
		manifest = manifests.Default()
	}

	layout, err := os.ReadFile(layoutPath)
	if err != nil {
		return nil, fmt.Errorf("reading layout: %w", err)
	}
	parsed, err := pai.ParseLayout(layout, displayName(paiDir, layoutPath))
	if err != nil {
		return nil, err
	}

	r := &Result{PaiDir: paiDir}
	vars := manifests.KubesprayVars(opts.Mirror, scheme)
	var top []manifests.Var
	if reg := opts.Registry; reg != nil {
		// The images from the registry, the files from the mirror.
		images := manifests.KubesprayRegistryVars(reg.Prefix)
		vars = slices.DeleteFunc(vars, func(v manifests.Var) bool {
			return slices.ContainsFunc(images, func(w manifests.Var) bool { return w.Name == v.Name })
		})
		vars = append(images, vars...)
		top = reg.topVars()
	}
	if d := opts.DockerApt; d != nil {
		if d.Path == "" || d.KeyPath == "" || !strings.HasPrefix(d.Path, "/") || !strings.HasPrefix(d.KeyPath, "/") {
			return nil, fmt.Errorf("%w: DockerApt needs the repository's and the key's mirror paths, got %q and %q", ErrInvalidOptions, d.Path, d.KeyPath)
		}
		vars = append(vars, DockerAptVars(opts.Mirror, scheme, *d)...)
	}

	// config.yaml
	old, err := os.ReadFile(configPath)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	out, warnings, err := patchConfigTop(displayName(paiDir, configPath), old, vars, top)
	if err != nil {
		return nil, err
	}
	r.Warnings = append(r.Warnings, warnings...)
	why := "kubespray pulls its non-Docker Hub images and downloads its files from the mirror (openpai_kubespray_extra_var)"
	if opts.DockerApt != nil {
		why = "kubespray pulls its non-Docker Hub images, downloads its files and installs docker-ce from the mirror (openpai_kubespray_extra_var)"
	}
	if opts.Registry != nil {
		why = "kubespray pulls every image from the registry and downloads its files from the mirror (openpai_kubespray_extra_var); pai's own images come from the registry (docker_registry_*)"
	}
	r.add(configPath, old, out, why)
	if reg := opts.Registry; reg != nil {
		if w := reg.kubesprayWarning(displayName(paiDir, configPath), manifest); w != "" {
			r.Warnings = append(r.Warnings, w)
		}
	}

	// docker-cache-config-distribute.yml
	path := filepath.Join(paiDir, filepath.FromSlash(pai.DockerCacheFile))
	if old, err = os.ReadFile(path); err != nil {
		return nil, fmt.Errorf("reading docker cache playbook: %w", err)
	}
	if out, err = patchDockerCache(pai.DockerCacheFile, old, opts.Mirror, opts.Registry == nil); err != nil {
		return nil, err
	}
	why = "every node's docker uses the mirror as registry mirror and insecure registry (docker_cache_host)"
	if opts.Registry != nil {
		why = "every image names the registry, so the docker cache step leaves the nodes' daemon.json alone (enable_docker_cache: false)"
	}
	r.add(path, old, out, why)

	// the device plugin start script
	path = filepath.Join(paiDir, filepath.FromSlash(pai.DevicePluginFile))
	if old, err = os.ReadFile(path); err != nil {
		return nil, fmt.Errorf("reading device plugin script: %w", err)
	}
	dp := &devicePlugin{
		name:     pai.DevicePluginFile,
		base:     scheme + "://" + opts.Mirror,
		hasPath:  opts.HasPath,
		manifest: manifest,
		used:     parsed.Devices(),
		registry: opts.Registry,
	}
	out = dp.patch(old)
	r.Warnings = append(r.Warnings, dp.warnings...)
	why = "the device plugin manifests come from the mirror instead of svn (GitHub ended Subversion access)"
	if opts.Registry != nil {
		why += ", their images from the registry (sed)"
	}
	r.add(path, old, out, why)

	// the dev-box container's entrypoint
	path = filepath.Join(paiDir, filepath.FromSlash(pai.ServiceBootFile))
	if old, err = os.ReadFile(path); err != nil {
		return nil, fmt.Errorf("reading the service boot script: %w", err)
	}
	out, warnings = patchServiceBoot(pai.ServiceBootFile, old)
	r.Warnings = append(r.Warnings, warnings...)
	why = "the dev-box container starts bash directly, not its entrypoint's git fetch and GitHub API call"
	if opts.Registry != nil {
		out, warnings = patchDevBoxImage(pai.ServiceBootFile, out, opts.Registry)
		r.Warnings = append(r.Warnings, warnings...)
		why = "the dev-box container comes from the registry and starts bash directly, not its entrypoint's git fetch and GitHub API call"
	}
	r.add(path, old, out, why)

	// environment.sh: kubespray's tree and the Python packages
	path = filepath.Join(paiDir, filepath.FromSlash(pai.EnvironmentFile))
	if old, err = os.ReadFile(path); err != nil {
		return nil, fmt.Errorf("reading the dev box's environment script: %w", err)
	}
	ep := envPatch{}
	for _, f := range manifest.Files {
		if strings.Contains(f.URL, "/kubernetes-sigs/kubespray/archive/") {
			mp := f.MirrorPaths()[0]
			if opts.HasPath != nil && !opts.HasPath(mp) {
				r.Warnings = append(r.Warnings, fmt.Sprintf("%s: the mirror does not serve kubespray's source (%s); the dev box will clone it from GitHub (build with the devbox-sources group)", pai.EnvironmentFile, mp))
				break
			}
			ep.kubesprayURL = scheme + "://" + opts.Mirror + mp
			break
		}
	}
	if opts.PipIndex != "" {
		ep.pipIndex = scheme + "://" + opts.Mirror + opts.PipIndex
		if scheme == "http" {
			ep.trustedHost = pipTrustedHost(opts.Mirror)
		} else {
			// pip trusts its own certifi bundle, not the system's, to which
			// prepare adds the mirror's CA.
			ep.cert = SystemCABundle
		}
	}
	out, warnings = patchEnvironment(pai.EnvironmentFile, old, ep)
	r.Warnings = append(r.Warnings, warnings...)
	r.add(path, old, out, "the dev box takes kubespray's tree and its Python packages from the mirror")

	// pai's requirement check: nslookup of internet registries
	for _, rf := range pai.RequirementFiles {
		path = filepath.Join(paiDir, filepath.FromSlash(rf))
		if old, err = os.ReadFile(path); errors.Is(err, fs.ErrNotExist) {
			continue // a tree without this check has nothing to patch
		} else if err != nil {
			return nil, fmt.Errorf("reading a requirement check: %w", err)
		}
		out, _ = patchRequirement(old, scheme+"://"+opts.Mirror)
		r.add(path, old, out, "pai's requirement check asks the mirror instead of looking up docker.io, gcr.io and quay.io in DNS, which fails offline")
	}

	// pai's services: their literal images from the registry.
	if opts.Registry != nil {
		if err := r.patchDeployFiles(paiDir, opts.Registry); err != nil {
			return nil, err
		}
	}

	// The files kubespray will download must be on the mirror.
	if opts.HasPath != nil {
		for _, v := range vars {
			if !strings.HasSuffix(v.Name, "_download_url") {
				continue
			}
			u, err := url.Parse(manifests.ExpandKubesprayVar(v.Value))
			if err != nil {
				continue
			}
			if !opts.HasPath(u.Path) {
				r.Warnings = append(r.Warnings, fmt.Sprintf("%s: the mirror does not serve %s (%s): kubespray's download will fail", displayName(paiDir, configPath), u.Path, v.Name))
			}
		}
	}

	overlay := map[string][]byte{}
	for _, c := range r.Changes {
		if rel, ok := relPath(paiDir, c.Path); ok {
			overlay[rel] = c.New
		}
	}
	// A device plugin block for a device type the cluster does not have
	// never renders.
	off := map[int]string{}
	for line, dev := range dp.unused {
		off[line] = "renders only when layout.yaml's workers have " + dev
	}
	sopts := ScanOptions{Mirror: opts.Mirror, AptPackages: opts.AptPackages, DevBoxDocker: opts.DevBoxDocker, Targets: opts.Targets,
		offLines: map[string]map[int]string{pai.DevicePluginFile: off}}
	if opts.Registry != nil {
		sopts.Registry = opts.Registry.Prefix
	}
	if r.Findings, err = scanTree(paiDir, overlay, sopts); err != nil {
		return nil, err
	}
	return r, nil
}

// patchDeployFiles adds the changes that point the literal images of
// pai's service deploy files (src/*/deploy/**) at reg, in path order,
// and their warnings. A file already changed is patched further.
func (r *Result) patchDeployFiles(paiDir string, reg *Registry) error {
	deploys, err := filepath.Glob(filepath.Join(paiDir, "src", "*", "deploy"))
	if err != nil {
		return fmt.Errorf("listing the services' deploy files: %w", err)
	}
	slices.Sort(deploys)
	for _, d := range deploys {
		err := filepath.WalkDir(d, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, ok := relPath(paiDir, p)
			if e.IsDir() || !e.Type().IsRegular() || !ok || !isDeployFile(rel) {
				return nil
			}
			if i := slices.IndexFunc(r.Changes, func(c Change) bool { return c.Path == p }); i >= 0 {
				out, warnings := patchDeployImages(rel, r.Changes[i].New, reg)
				r.Changes[i].New = out
				r.Warnings = append(r.Warnings, warnings...)
				return nil
			}
			info, err := e.Info()
			if err != nil || info.Size() > maxScanSize {
				return err
			}
			old, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out, warnings := patchDeployImages(rel, old, reg)
			r.Warnings = append(r.Warnings, warnings...)
			r.add(p, old, out, "the service pulls its images from the registry")
			return nil
		})
		if err != nil {
			return fmt.Errorf("patching the services' images: %w", err)
		}
	}
	return nil
}

// add records a change when new differs from old.
func (r *Result) add(path string, old, new []byte, why string) {
	if !bytes.Equal(old, new) {
		r.Changes = append(r.Changes, Change{Path: path, Old: old, New: new, Why: why})
	}
}

// Diff returns the changes as one unified diff, naming files inside the
// pai checkout by their path there under a/ and b/ (apply with patch -p1
// in the checkout) and others by their full path; it is empty when there
// are no changes. It is for showing: the value of every line whose key
// names a password, secret or token reads ******** (Apply writes the real
// bytes).
func (r *Result) Diff() string {
	var b strings.Builder
	for _, c := range r.Changes {
		oldName, newName := filepath.ToSlash(c.Path), filepath.ToSlash(c.Path)
		if rel, ok := relPath(r.PaiDir, c.Path); ok {
			oldName, newName = "a/"+rel, "b/"+rel
		}
		b.Write(diff.Diff(oldName, maskSecrets(c.Old), newName, maskSecrets(c.New)))
	}
	return b.String()
}

// CheckMirror checks a mirror address: HOST or HOST:PORT, no scheme, and a
// host docker recognizes as a registry in an image reference (one with a
// dot, a port or "localhost").
func CheckMirror(m string) error { return checkHost("mirror", m) }

// checkHost checks the address of a registry (what names it in errors)
// as CheckMirror describes.
func checkHost(what, m string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: %s %q: %s", ErrInvalidOptions, what, m, why)
	}
	switch {
	case m == "":
		return bad("is required (HOST:PORT as the nodes reach it)")
	case strings.Contains(m, "://"):
		return bad("give HOST:PORT without a scheme (set the scheme separately)")
	case strings.ContainsAny(m, "/\"'\\#{}% \t\r\n"):
		return bad("want HOST:PORT")
	}
	host, port := m, ""
	if strings.Contains(m, ":") {
		h, p, err := net.SplitHostPort(m)
		if err != nil {
			return bad("want HOST:PORT")
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return bad("the port is not a number from 1 to 65535")
		}
		host, port = h, p
	}
	if ip := net.ParseIP(host); ip != nil {
		if ip.To4() == nil && port == "" {
			return bad("an IPv6 address needs brackets and a port: [ADDR]:PORT")
		}
		return nil
	}
	for _, label := range strings.Split(host, ".") {
		if label == "" || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") || strings.Trim(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != "" {
			return bad("the host is not a valid host name")
		}
	}
	if port == "" && !strings.Contains(host, ".") && host != "localhost" {
		return bad("docker would read this host as a Docker Hub user in image names: add the port")
	}
	return nil
}

// checkPaiDir checks that dir looks like a pai checkout.
func checkPaiDir(dir string) error {
	info, err := os.Stat(filepath.Join(dir, filepath.FromSlash(pai.KubesprayDir)))
	if err != nil || !info.IsDir() {
		return fmt.Errorf("%s: %w (no contrib/kubespray)", dir, ErrNotPaiTree)
	}
	return nil
}

// relPath returns path relative to dir, slash-separated, when it is inside.
func relPath(dir, path string) (string, bool) {
	rel, err := filepath.Rel(dir, path)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

// displayName names a file for messages and diffs: relative to the pai
// checkout when inside it, else as given.
func displayName(dir, path string) string {
	if rel, ok := relPath(dir, path); ok {
		return rel
	}
	return filepath.ToSlash(path)
}
