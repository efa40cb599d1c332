package push

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/paimirror/paimirror/manifests/redact"
)

// Target is where a push goes: a registry and an optional repository path
// prefix (for Harbor, the project first).
type Target struct {
	// Registry is the registry host[:port].
	Registry name.Registry
	// Insecure allows plain HTTP; without it only HTTPS is spoken, even to
	// a private or loopback address.
	Insecure bool
	// Prefix is "" or path elements without leading or trailing slash,
	// e.g. "openpai" or "lab/openpai".
	Prefix string
}

// pathComponent is one element of a repository path as the distribution
// specification allows it.
var pathComponent = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*$`)

// ParseTarget parses REGISTRY[/PREFIX]: a host with an optional port and
// an optional path prefix, e.g. "harbor.lab:443/openpai". A leading
// "https://" is dropped; "http://" (or insecure) allows plain HTTP, which
// is otherwise refused. The prefix must be valid repository path elements
// (lower case, digits, separators), since every image is pushed below it.
// An address with credentials in it is refused; errors never repeat them.
func ParseTarget(in string, insecure bool) (Target, error) {
	s := shownAddress(in) // errors name this
	rest := in
	if r, ok := strings.CutPrefix(rest, "http://"); ok {
		rest, insecure = r, true
	} else {
		rest = strings.TrimPrefix(rest, "https://")
	}
	rest = strings.TrimSuffix(rest, "/")
	host, prefix, _ := strings.Cut(rest, "/")
	if host == "" {
		return Target{}, fmt.Errorf("registry %q: want HOST[:PORT][/PREFIX], e.g. harbor.lab/openpai", s)
	}
	if strings.Contains(host, "@") {
		return Target{}, fmt.Errorf("registry %q: credentials do not go in the registry's address: pass --username and the password on standard input with --password-stdin, or log in with `docker login`", s)
	}
	if strings.ContainsAny(host, "?#") {
		return Target{}, fmt.Errorf("registry %q: %q is not a host[:port]", s, redact.URL(host))
	}
	opts := []name.Option{name.StrictValidation}
	if insecure {
		opts = append(opts, name.Insecure)
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return Target{}, fmt.Errorf("registry %q: %v", s, err)
	}
	if prefix != "" {
		for _, el := range strings.Split(prefix, "/") {
			if !pathComponent.MatchString(el) {
				return Target{}, fmt.Errorf("registry %q: path prefix element %q is not a valid repository name part (lower case letters, digits, and . _ - between them)", s, redact.URL(el))
			}
		}
	}
	return Target{Registry: reg, Insecure: insecure, Prefix: prefix}, nil
}

// shownAddress is s as errors show it: without the credentials a user or
// a query can carry.
func shownAddress(s string) string {
	if strings.Contains(s, "://") {
		return redact.URL(s)
	}
	return strings.TrimPrefix(redact.URL("https://"+s), "https://")
}

// Repository returns the repository the mirror repository repo ("a/b")
// goes to: REGISTRY/PREFIX/a/b.
func (t Target) Repository(repo string) (name.Repository, error) {
	full := repo
	if t.Prefix != "" {
		full = t.Prefix + "/" + repo
	}
	opts := []name.Option{name.StrictValidation}
	if t.Insecure {
		opts = append(opts, name.Insecure)
	}
	r, err := name.NewRepository(t.Registry.RegistryStr()+"/"+full, opts...)
	if err != nil {
		return name.Repository{}, fmt.Errorf("repository %s below %s: %v", repo, t, err)
	}
	return r, nil
}

// String returns REGISTRY[/PREFIX].
func (t Target) String() string {
	if t.Prefix == "" {
		return t.Registry.RegistryStr()
	}
	return t.Registry.RegistryStr() + "/" + t.Prefix
}

// project returns the prefix's first element (Harbor's project), or "".
func (t Target) project() string {
	p, _, _ := strings.Cut(t.Prefix, "/")
	return p
}
