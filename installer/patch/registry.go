package patch

import (
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/paimirror/paimirror/installer/pai"
	"github.com/paimirror/paimirror/manifests"
	"github.com/paimirror/paimirror/manifests/shell"
	"go.yaml.in/yaml/v3"
)

// Registry is a lab registry (Harbor, distribution, ...) that holds the
// bundle's images, put there by paimirror push under Prefix/<mirror
// name>: harbor.lab/openpai/openpai/rest-server:v1.8.0,
// harbor.lab/openpai/library/busybox:1.31.1. With Options.Registry, every
// image of the install path is named there explicitly; files, apt and
// Python packages still come from the mirror.
type Registry struct {
	// Prefix is REGISTRY[/PREFIX] as docker names images, without a
	// scheme and without a trailing slash: "harbor.lab/openpai",
	// "10.0.0.5:5000". The host is one docker reads as a registry (a
	// dot, a port or "localhost"), neither Docker Hub nor an IPv6
	// address (see check); each path element follows the distribution
	// grammar (lowercase letters and digits, separated by '.', '_', '__'
	// or '-'). Required.
	Prefix string
	// Username and Password are an account that may pull from Prefix,
	// for a private project: pai's services then get the pull secret
	// pai-secret from them. Both or neither; printable ASCII only.
	// Default "": the project is public.
	Username, Password string
	// Images are the mirror names ("repository:tag", as
	// manifests.MirrorName gives them; the bundle lock's image names)
	// that the registry holds under Prefix. A literal image reference of
	// pai's services is rewritten only when its image is here; one that
	// is not is left, with a warning. Default nil: none, so every
	// literal reference is left and warned about.
	Images []string
}

// dockerHubHosts are the names of Docker Hub, which cannot hold nested
// repository names and so cannot be a registry with a prefix.
var dockerHubHosts = map[string]bool{"docker.io": true, "index.docker.io": true, "registry-1.docker.io": true}

// repoComponent is one element of a repository path, as the distribution
// reference grammar defines it.
var repoComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)

// maxRepoName is the longest repository name docker accepts.
const maxRepoName = 255

// check validates the registry. Errors wrap ErrInvalidOptions.
func (r *Registry) check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: registry: %s", ErrInvalidOptions, fmt.Sprintf(format, args...))
	}
	if r.Prefix == "" {
		return bad("Prefix is required (REGISTRY[/PREFIX] as docker names images, e.g. harbor.lab/openpai)")
	}
	if strings.Contains(r.Prefix, "://") {
		return bad("%q: give REGISTRY[/PREFIX] without a scheme, as docker names images", r.Prefix)
	}
	host, path, _ := strings.Cut(r.Prefix, "/")
	if err := checkHost("registry", host); err != nil {
		return err
	}
	if strings.HasPrefix(host, "[") {
		// pai writes docker_registry_domain unquoted into YAML and into
		// its docker login shell command, and names images with it: no
		// quoting keeps [ADDR] one literal word in all three.
		return bad("%q: an IPv6 address cannot be the registry's host: pai v1.8.0 writes it unquoted into services-configuration.yaml and its docker login command, and docker 18.09/19.03 cannot name images on it; give the registry's host name", r.Prefix)
	}
	if dockerHubHosts[strings.ToLower(host)] {
		return bad("%q is Docker Hub, which cannot hold the nested names paimirror push uses (openpai/openpai/rest-server): use a registry of your own", r.Prefix)
	}
	if path != "" {
		for _, c := range strings.Split(path, "/") {
			if !repoComponent.MatchString(c) {
				return bad("%q: path element %q is not valid (lowercase letters and digits, separated by '.', '_', '__' or '-'; no trailing slash)", r.Prefix, c)
			}
		}
	}
	if (r.Username == "") != (r.Password == "") {
		return bad("give both Username and Password (a private project) or neither (a public one): pai logs in only with both")
	}
	for what, v := range map[string]string{"username": r.Username, "password": r.Password} {
		for _, c := range v {
			if c < 0x20 || c > 0x7e {
				// Never show the value: it may be the password.
				return bad("the %s has a character other than printable ASCII (pai v1.8.0 logs in from Python 2, which cannot pass it on)", what)
			}
		}
	}
	for _, img := range r.Images {
		name, err := manifests.MirrorName(img)
		if err != nil {
			return bad("image %q: %v", img, err)
		}
		if name != img {
			return bad("image %q is not a mirror name: want %q (repository:tag as paimirror push names it)", img, name)
		}
		if repo, _ := manifests.RepoTag(name); len(path)+1+len(repo) > maxRepoName {
			return bad("image %q under %q is a repository name longer than %d characters", img, r.Prefix, maxRepoName)
		}
	}
	return nil
}

// host returns the registry's host[:port].
func (r *Registry) host() string {
	h, _, _ := strings.Cut(r.Prefix, "/")
	return h
}

// namespace returns what pai's docker_registry_namespace must be for its
// images (openpai/NAME under pai's naming) to be PREFIX/openpai/NAME in
// the registry: "PATH/openpai", or "openpai" for a registry without a
// path.
func (r *Registry) namespace() string {
	if _, path, ok := strings.Cut(r.Prefix, "/"); ok {
		return path + "/openpai"
	}
	return "openpai"
}

// ref returns the reference of the registry's copy of the image with
// mirror name name.
func (r *Registry) ref(name string) string { return r.Prefix + "/" + name }

// has reports whether the registry holds the image with mirror name name.
func (r *Registry) has(name string) bool { return slices.Contains(r.Images, name) }

// names reports whether ref names an image in the registry (under
// Prefix), whatever its tag.
func (r *Registry) names(ref string) bool { return strings.HasPrefix(ref, r.Prefix+"/") }

// Keys of config.yaml that pai v1.8.0's quick-start turns into
// services-configuration.yaml's cluster.docker-registry: pai's images
// are DOMAIN/NAMESPACE/NAME:TAG, and with a username and password pai
// runs docker login and makes the pull secret pai-secret.
const (
	registryDomainKey    = "docker_registry_domain"
	registryNamespaceKey = "docker_registry_namespace"
	registryUsernameKey  = "docker_registry_username"
	registryPasswordKey  = "docker_registry_password"
)

// topVars returns the top-level config.yaml keys that point pai's own
// images at the registry, in the order config.yaml's comments list them.
func (r *Registry) topVars() []manifests.Var {
	vars := []manifests.Var{
		{Name: registryDomainKey, Value: r.host()},
		{Name: registryNamespaceKey, Value: r.namespace()},
	}
	if r.Username != "" {
		vars = append(vars,
			manifests.Var{Name: registryUsernameKey, Value: paiCredential(r.Username)},
			manifests.Var{Name: registryPasswordKey, Value: paiCredential(r.Password)})
	}
	return vars
}

// plainWord is a credential that passes through pai unchanged as it is:
// a plain YAML scalar (if PyYAML reads it as a string) and a shell word
// without special characters.
var plainWord = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.+=@/-]*$`)

// paiCredential returns the config.yaml value (the string PyYAML must
// read) that pai v1.8.0 hands to docker login as exactly s. The value
// takes two trips: services-configuration.yaml.template writes it
// unquoted (`password: {{ value }}`), which PyYAML reads back, and
// src/cluster/config/cluster.py runs
// "docker login -u {0} -p {1} {2}".format(...) with shell=True. A plain
// word (letters, digits, "_.+=@/-", not something YAML 1.1 reads as a
// number, boolean or null) is itself; anything else becomes s quoted for
// the shell (shell.Quote) inside a YAML double-quoted string, so that
// the template writes a quoted YAML string whose value is the shell
// word.
func paiCredential(s string) string {
	if plainWord.MatchString(s) && pai.PyType(&yaml.Node{Kind: yaml.ScalarNode, Value: s}) == "str" {
		return s
	}
	return yamlQuote(shell.Quote(s))
}

// yamlQuote renders s (printable ASCII) as a YAML double-quoted scalar.
func yamlQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// secretKey reports whether config.yaml's key holds a secret whose value
// must never be shown (in warnings or errors; Diff masks it with
// maskSecrets).
func secretKey(key string) bool {
	return secretLine.MatchString(key + ": x")
}

// kubesprayGroup is the manifest group of the images kubespray pulls.
const kubesprayGroup = "kubespray"

// kubesprayWarning returns a warning, about config.yaml (name), naming the
// images of the manifest's kubespray group that the registry does not
// hold, which kubespray, pointed at the registry, fails to pull; "" when
// it holds them all.
func (r *Registry) kubesprayWarning(name string, m *manifests.Manifest) string {
	var missing []string
	for _, img := range m.Images {
		if !slices.Contains(img.Groups, kubesprayGroup) {
			continue
		}
		if mn, err := manifests.MirrorName(img.Ref); err == nil && !r.has(mn) {
			missing = append(missing, mn)
		}
	}
	if len(missing) == 0 {
		return ""
	}
	return fmt.Sprintf("%s: the registry %s does not hold %s, which kubespray pulls from it: the install fails there (push a bundle with the %s group)",
		name, r.Prefix, strings.Join(missing, ", "), kubesprayGroup)
}
