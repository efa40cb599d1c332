package manifests

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// DefaultPlatform is the platform an image keeps when its manifest entry
// names none.
const DefaultPlatform = "linux/amd64"

// dockerHub is the registry name Upstream reports for Docker Hub images.
const dockerHub = "docker.io"

// dockerHubHosts are the host names that all mean Docker Hub.
var dockerHubHosts = map[string]bool{
	"docker.io":            true,
	"index.docker.io":      true,
	"registry-1.docker.io": true,
}

var (
	// pathComponent is one element of a repository name, as the
	// distribution reference grammar defines it.
	pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)
	// tagPattern is the distribution reference grammar for tags.
	tagPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// maxRepoLen is the longest repository name distribution accepts.
const maxRepoLen = 255

// imageRef is a parsed, normalized image reference.
type imageRef struct {
	hub  bool   // Docker Hub
	host string // lowercased registry host ("docker.io" for Docker Hub)
	repo string // repository path on host ("library/x" for official images)
	tag  string
}

// mirrorRepo is the repository the image is served under by the mirror:
// the Docker Hub path for Docker Hub, else the host (with a port's ':'
// turned into '_', since ':' cannot appear in a repository name) followed
// by the path.
func (r imageRef) mirrorRepo() string {
	if r.hub {
		return r.repo
	}
	return strings.ReplaceAll(r.host, ":", "_") + "/" + r.repo
}

// hasExplicitTag reports whether ref ends in ":TAG" (a ':' after the last
// '/', so a registry port does not count).
func hasExplicitTag(ref string) bool {
	_, tag := RepoTag(ref)
	return tag != ""
}

// parseRef parses an image reference the way docker pull reads it, insisting
// on an explicit tag and no digest, and checks that it yields a valid mirror
// name.
func parseRef(ref string) (imageRef, error) {
	if ref == "" {
		return imageRef{}, errors.New("is empty")
	}
	if strings.Contains(ref, "@") {
		return imageRef{}, fmt.Errorf("%q holds a digest: put the tag in the reference and the digest in the digest field", ref)
	}
	if strings.TrimSpace(ref) != ref {
		return imageRef{}, fmt.Errorf("%q has leading or trailing space", ref)
	}
	if !hasExplicitTag(ref) {
		return imageRef{}, fmt.Errorf("%q has no tag: give one explicitly (e.g. %s:latest); it is never implied", ref, ref)
	}
	t, err := name.NewTag(ref, name.WeakValidation)
	if err != nil {
		return imageRef{}, fmt.Errorf("%q is not a valid image reference: %w", ref, err)
	}
	r := imageRef{
		host: strings.ToLower(t.RegistryStr()),
		repo: t.RepositoryStr(),
		tag:  t.TagStr(),
	}
	if dockerHubHosts[r.host] {
		r.hub = true
		r.host = dockerHub
		if !strings.Contains(r.repo, "/") {
			r.repo = "library/" + r.repo
		}
	}
	if !tagPattern.MatchString(r.tag) {
		return imageRef{}, fmt.Errorf("%q: tag %q is not a valid tag", ref, r.tag)
	}
	if err := checkRepo(r.repo); err != nil {
		return imageRef{}, fmt.Errorf("%q: %w", ref, err)
	}
	if !r.hub {
		mr := r.mirrorRepo()
		if err := checkRepo(mr); err != nil {
			return imageRef{}, fmt.Errorf("%q: registry host %q cannot be part of a mirror repository name: %w", ref, r.host, err)
		}
	}
	return r, nil
}

// checkRepo checks a repository path against the distribution grammar.
func checkRepo(repo string) error {
	if len(repo) > maxRepoLen {
		return fmt.Errorf("repository name is longer than %d characters", maxRepoLen)
	}
	for _, c := range strings.Split(repo, "/") {
		if !pathComponent.MatchString(c) {
			return fmt.Errorf("repository path element %q is not valid (lowercase letters and digits, separated by '.', '_', '__' or '-')", c)
		}
	}
	return nil
}

// MirrorName returns the name ("repository:tag", no host) under which the
// mirror serves the image ref. Docker Hub images keep their Docker Hub path,
// with "library/" for official images:
//
//	docker.io/nginx:1.15             -> library/nginx:1.15
//	busybox:1.31.1                   -> library/busybox:1.31.1
//	calico/node:v3.7.3               -> calico/node:v3.7.3
//
// ("index.docker.io" and "registry-1.docker.io" are Docker Hub too). Every
// other registry's images keep their host as the first path element:
//
//	quay.io/coreos/etcd:v3.3.10      -> quay.io/coreos/etcd:v3.3.10
//
// A registry port's ':' becomes '_' ("127.0.0.1:5000/x:1" ->
// "127.0.0.1_5000/x:1") and the host is lowercased. The reference must
// carry an explicit tag and no digest. MirrorName is idempotent: the mirror
// name of a mirror name is itself.
func MirrorName(ref string) (string, error) {
	r, err := parseRef(ref)
	if err != nil {
		return "", fmt.Errorf("image reference %w", err)
	}
	return r.mirrorRepo() + ":" + r.tag, nil
}

// aliasName checks an alias and returns its mirror name. An alias is a
// Docker Hub style "repository:tag" without a registry host; one with a
// single path element gets "library/", as Docker Hub names do.
func aliasName(alias string) (string, error) {
	if first, _, ok := strings.Cut(alias, "/"); ok && (first == "localhost" || strings.ContainsAny(first, ".:")) {
		return "", fmt.Errorf("%q names a registry host (%s): an alias is \"repository:tag\" on the mirror", alias, first)
	}
	r, err := parseRef(alias)
	if err != nil {
		return "", err
	}
	return r.mirrorRepo() + ":" + r.tag, nil
}

// RepoTag splits a mirror name (or any reference with a tag) at the last ':'
// after the last '/': "siaimes/pause:3.1" gives "siaimes/pause" and "3.1".
// Without such a ':' the tag is empty.
func RepoTag(mirrorName string) (repo, tag string) {
	slash := strings.LastIndex(mirrorName, "/")
	colon := strings.LastIndex(mirrorName[slash+1:], ":")
	if colon < 0 {
		return mirrorName, ""
	}
	colon += slash + 1
	return mirrorName[:colon], mirrorName[colon+1:]
}

// MirrorNames returns every name the mirror serves the image under: its
// MirrorName first, then its aliases (an alias with one path element gets
// "library/"), without duplicates. For an image that does not validate, the
// names that cannot be computed are returned as written.
func (i Image) MirrorNames() []string {
	primary, err := MirrorName(i.Ref)
	if err != nil {
		primary = i.Ref
	}
	names := []string{primary}
	seen := map[string]bool{primary: true}
	for _, a := range i.Aliases {
		n, err := aliasName(a)
		if err != nil {
			n = a
		}
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	return names
}

// PlatformList returns the platforms to keep: Platforms, or
// [DefaultPlatform] when it is empty. The result is a fresh slice.
func (i Image) PlatformList() []string {
	if len(i.Platforms) == 0 {
		return []string{DefaultPlatform}
	}
	return append([]string(nil), i.Platforms...)
}

// Upstream splits the image's reference into where to pull it from:
// registry is the lowercased host ("docker.io" for every Docker Hub
// spelling), repository the path on it ("library/nginx" for official
// images) and tag the tag. All three are empty when Ref does not validate.
func (i Image) Upstream() (registry, repository, tag string) {
	r, err := parseRef(i.Ref)
	if err != nil {
		return "", "", ""
	}
	return r.host, r.repo, r.tag
}

// upstreamPath returns the upstream-shaped mirror path of a file URL,
// "/<host>/<url path>", with the host lowercased and the path unescaped.
func upstreamPath(rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", err
	}
	if u.Host == "" {
		return "", errors.New("has no host")
	}
	return "/" + strings.ToLower(u.Host) + u.Path, nil
}

// MirrorPaths returns every path the mirror serves the file at: the
// upstream-shaped path "/<host>/<url path>" first (e.g.
// "/storage.googleapis.com/kubernetes-release/release/v1.15.11/bin/linux/amd64/kubeadm"),
// then Paths, without duplicates. For a file that does not validate, the
// upstream-shaped path is left out if it cannot be computed.
func (f File) MirrorPaths() []string {
	var paths []string
	seen := map[string]bool{}
	if p, err := upstreamPath(f.URL); err == nil {
		paths = append(paths, p)
		seen[p] = true
	}
	for _, p := range f.Paths {
		if !seen[p] {
			seen[p] = true
			paths = append(paths, p)
		}
	}
	return paths
}

// Sources returns the URLs to try, in order: URL, then Alternates.
func (f File) Sources() []string {
	return append([]string{f.URL}, f.Alternates...)
}

// DisplayName returns Name, or when it is empty the last element of the URL
// path ("kubeadm" for ".../bin/linux/amd64/kubeadm").
func (f File) DisplayName() string {
	if f.Name != "" {
		return f.Name
	}
	p := f.URL
	if u, err := url.Parse(f.URL); err == nil {
		p = u.Path
	}
	return path.Base(p)
}
