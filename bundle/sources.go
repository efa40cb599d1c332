package bundle

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// Mirror redirects a source: a registry host (From "gcr.io") to another
// registry host with an optional path prefix (To "registry.example.cn/gcr"),
// or a URL prefix (From "https://github.com") to another URL prefix. A To
// starting with http:// is reached over plain HTTP.
type Mirror struct {
	From string
	To   string
}

// ParseMirror parses "FROM=TO".
func ParseMirror(s string) (Mirror, error) {
	from, to, ok := strings.Cut(s, "=")
	from, to = strings.TrimSpace(from), strings.TrimSpace(to)
	if !ok || from == "" || to == "" {
		return Mirror{}, fmt.Errorf("mirror %q: want FROM=TO, e.g. docker.io=registry.example.cn or https://github.com=http://files.lan/github", s)
	}
	fromURL := strings.Contains(from, "://")
	toURL := strings.HasPrefix(to, "http://") || strings.HasPrefix(to, "https://")
	if fromURL && !toURL {
		return Mirror{}, fmt.Errorf("mirror %q: a URL prefix must map to a URL prefix (http:// or https://)", s)
	}
	if !fromURL {
		from = normalizeRegistry(from)
		host, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(to, "http://"), "https://"), "/")
		if _, err := name.NewRegistry(host); err != nil {
			return Mirror{}, fmt.Errorf("mirror %q: %q is not a registry host: %v", s, host, err)
		}
	}
	return Mirror{From: from, To: strings.TrimRight(to, "/")}, nil
}

func (m Mirror) isURL() bool { return strings.Contains(m.From, "://") }

func normalizeRegistry(host string) string {
	switch host {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return "docker.io"
	}
	return host
}

// imageSource is one place an image can be pulled from.
type imageSource struct {
	repo name.Repository
}

func (s imageSource) String() string { return s.repo.Name() }

// imageSources returns the mirrors for an upstream registry and repository,
// in order, then the origin.
func imageSources(mirrors []Mirror, registry, repository string) ([]imageSource, error) {
	var out []imageSource
	for _, m := range mirrors {
		if m.isURL() || m.From != registry {
			continue
		}
		to := m.To
		var opts []name.Option
		if rest, ok := strings.CutPrefix(to, "http://"); ok {
			to = rest
			opts = append(opts, name.Insecure)
		}
		to = strings.TrimPrefix(to, "https://")
		repo, err := name.NewRepository(to+"/"+repository, opts...)
		if err != nil {
			return nil, fmt.Errorf("mirror %s=%s: %w", m.From, m.To, err)
		}
		out = append(out, imageSource{repo: repo})
	}
	host := registry
	if host == "docker.io" {
		host = name.DefaultRegistry
	}
	repo, err := name.NewRepository(host + "/" + repository)
	if err != nil {
		return nil, err
	}
	return append(out, imageSource{repo: repo}), nil
}

// fileSources expands a file's URLs with the mirrors that match them: for
// each URL, its mirrors in order, then the URL itself.
func fileSources(mirrors []Mirror, urls []string) []string {
	var out []string
	for _, u := range urls {
		for _, m := range mirrors {
			if !m.isURL() {
				continue
			}
			from := strings.TrimRight(m.From, "/")
			if rest, ok := strings.CutPrefix(u, from); ok && (rest == "" || rest[0] == '/') {
				out = append(out, m.To+rest)
			}
		}
		out = append(out, u)
	}
	return out
}
