package sbom

import (
	"fmt"
	"net"
	"path"
	"slices"
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"
)

// purl is a package URL (https://github.com/package-url/purl-spec) in
// parts; String gives its canonical form.
type purl struct {
	typ       string
	namespace string // "/"-separated segments, or ""
	name      string
	version   string
	// qualifiers are key/value pairs; String sorts them by key and leaves
	// out empty values.
	qualifiers [][2]string
}

// String is the canonical form: "pkg:" type, namespace segments, name,
// "@version", "?" qualifiers sorted by key. Segments, name and version are
// percent-encoded but for the unreserved characters (so the ":" of
// "sha256:..." and of a Debian epoch becomes "%3A", as the purl spec's
// examples write it); qualifier values also keep ":" and "/" (a URL or
// "sha256:<hex>" reads as itself).
func (p purl) String() string {
	var b strings.Builder
	b.WriteString("pkg:" + p.typ + "/")
	if p.namespace != "" {
		for _, seg := range strings.Split(p.namespace, "/") {
			b.WriteString(escape(seg, "") + "/")
		}
	}
	b.WriteString(escape(p.name, ""))
	if p.version != "" {
		b.WriteString("@" + escape(p.version, ""))
	}
	qs := slices.Clone(p.qualifiers)
	slices.SortStableFunc(qs, func(a, b [2]string) int { return strings.Compare(a[0], b[0]) })
	sep := "?"
	for _, q := range qs {
		if q[1] == "" {
			continue
		}
		b.WriteString(sep + q[0] + "=" + escape(q[1], ":/"))
		sep = "&"
	}
	return b.String()
}

// escape percent-encodes every byte of s but ASCII letters, digits,
// "-._~" and the bytes of keep.
func escape(s, keep string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("-._~"+keep, c) >= 0 {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// imageRef is an image reference taken apart.
type imageRef struct {
	domain string // "docker.io"
	path   string // "openpai/rest-server"
	tag    string // "" when the reference has none
}

func parseImageRef(ref string) (imageRef, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return imageRef{}, fmt.Errorf("image %q: %w", ref, err)
	}
	r := imageRef{domain: reference.Domain(named), path: reference.Path(named)}
	if t, ok := named.(reference.Tagged); ok {
		r.tag = t.Tag()
	}
	return r, nil
}

// repository is "domain/path": "docker.io/library/busybox".
func (r imageRef) repository() string { return r.domain + "/" + r.path }

// manifestURL is the registry API URL of the image manifest with the
// digest: where a client fetches it (Docker Hub's API host for docker.io).
func (r imageRef) manifestURL(d digest.Digest) string {
	host := r.domain
	if host == "docker.io" {
		host = "registry-1.docker.io"
	}
	return "https://" + host + "/v2/" + r.path + "/manifests/" + string(d)
}

// ociPURL is pkg:oci/<last path segment, lower case>@<digest>
// ?arch=<architecture>&repository_url=<domain/path>&tag=<tag>.
func ociPURL(r imageRef, d digest.Digest, platform string) purl {
	arch := ""
	if parts := strings.Split(platform, "/"); len(parts) >= 2 {
		arch = parts[1]
	}
	return purl{typ: "oci", name: strings.ToLower(path.Base(r.path)), version: string(d),
		qualifiers: [][2]string{{"arch", arch}, {"repository_url", r.repository()}, {"tag", r.tag}}}
}

// pypiPURL is pkg:pypi/<name>@<version>?file_name=<file>: the name in the
// purl spec's normal form (lower case, "_" as "-"; the lock's names are
// PEP 503 normalised already) and the distribution file named, since one
// release has several.
func pypiPURL(project, version, filename string) purl {
	name := strings.ReplaceAll(strings.ToLower(project), "_", "-")
	return purl{typ: "pypi", name: name, version: version, qualifiers: [][2]string{{"file_name", filename}}}
}

// debPURL is pkg:deb/<namespace>/<name>@<version>?arch=<arch>, with the
// namespace from debNamespace.
func debPURL(repoURL, name, version, arch string) purl {
	return purl{typ: "deb", namespace: debNamespace(repoURL), name: name, version: version,
		qualifiers: [][2]string{{"arch", arch}}}
}

// debNamespace names the vendor of an apt repository from its URL (the
// manifest's, before any --mirror), for the deb purl's namespace:
//
//	*.ubuntu.com, *.launchpadcontent.net, *.launchpad.net  ubuntu
//	*.debian.org                                          debian
//	download.docker.com                                   docker
//	nvidia.github.io, *.nvidia.com                        nvidia
//	a path segment "ubuntu" or "debian" (a mirror)        that segment
//	any other host name                                   the label before its last ("apt.example.com": example)
//	an IP address                                         the address
//
// Docker's and NVIDIA's packages are Debian packages all the same (type
// deb); the namespace says who publishes them.
func debNamespace(repoURL string) string {
	host, p := repoURL, ""
	if i := strings.Index(host, "://"); i >= 0 {
		host = host[i+3:]
	}
	if i := strings.IndexByte(host, '/'); i >= 0 {
		host, p = host[:i], host[i:]
	}
	host = strings.ToLower(host)
	if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
		host = host[:i]
	}
	under := func(domain string) bool { return host == domain || strings.HasSuffix(host, "."+domain) }
	switch {
	case under("ubuntu.com") || under("launchpadcontent.net") || under("launchpad.net"):
		return "ubuntu"
	case under("debian.org"):
		return "debian"
	case host == "download.docker.com":
		return "docker"
	case host == "nvidia.github.io" || under("nvidia.com"):
		return "nvidia"
	}
	for _, seg := range strings.Split(strings.ToLower(p), "/") {
		if seg == "ubuntu" || seg == "debian" {
			return seg
		}
	}
	labels := strings.Split(host, ".")
	if len(labels) >= 2 && net.ParseIP(host) == nil {
		return labels[len(labels)-2]
	}
	return host
}

// genericPURL is pkg:generic/<name>?checksum=sha256:<hex>&download_url=<url>:
// a plain download has no package type; the purl spec's generic type
// names it by its download URL and checksum (no version: the lock has
// none for a file).
func genericPURL(name, sha256Hex, url string) purl {
	return purl{typ: "generic", name: name,
		qualifiers: [][2]string{{"checksum", "sha256:" + sha256Hex}, {"download_url", url}}}
}
