package bundle

import (
	"cmp"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/paimirror/paimirror/manifests"
	"github.com/paimirror/paimirror/manifests/redact"
)

// Mirror redirects a source. There are two kinds:
//
//   - A registry mirror. From is a registry host, optionally followed by a
//     repository path prefix: "gcr.io", "gcr.io/google-containers",
//     "docker.io/library" (Docker Hub's official images; index.docker.io
//     and registry-1.docker.io mean docker.io). To is a registry host with
//     an optional path prefix: "registry.k8s.io",
//     "registry.example.cn/gcr"; "http://" before it means plain HTTP. An
//     image From/REST is pulled as To/REST: with
//     gcr.io/google-containers=registry.k8s.io,
//     gcr.io/google-containers/pause is pulled as registry.k8s.io/pause.
//   - A URL mirror. From is a URL prefix, "https://github.com", and To
//     another, "https://files.example.cn/github.com"; a URL From/REST is
//     fetched as To/REST.
//
// From matches whole path elements: gcr.io/google-containers does not
// match gcr.io/google-containersx/pause. When several mirrors match a
// source, the longest From comes first (the most specific), mirrors with
// one From in the order given, then the source itself.
type Mirror struct {
	// From is what is redirected, normalized by ParseMirror: a registry
	// host (lowercased) with an optional path, or a URL prefix (scheme and
	// host lowercased) without a trailing slash.
	From string
	// To is where it is redirected, without a trailing slash.
	To string
	// Preset names the list the mirror comes from: a built-in preset
	// ("cn", see Preset) or a mirrors file (see ParseMirrors). It is empty
	// for a mirror given on its own, which CheckMirrors requires to match
	// something; a list is written for many manifests, so its entries may
	// match nothing.
	Preset string
}

// pythonFileHost is where PyPI's JSON API says its files are.
const pythonFileHost = "https://files.pythonhosted.org"

// repoElement is one element of a repository path, as the distribution
// reference grammar defines it.
var repoElement = regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$`)

// ParseMirror parses "FROM=TO" (see Mirror). Its errors show s without
// the credentials a URL in it carries (redact.Text).
func ParseMirror(s string) (Mirror, error) {
	m, err := parseMirror(s)
	if err != nil {
		return Mirror{}, redact.Error(err)
	}
	return m, nil
}

func parseMirror(s string) (Mirror, error) {
	from, to, ok := strings.Cut(s, "=")
	from, to = strings.TrimSpace(from), strings.TrimSpace(to)
	if !ok || from == "" || to == "" {
		return Mirror{}, fmt.Errorf("mirror %q: want FROM=TO, e.g. docker.io=registry.example.cn, gcr.io/google-containers=registry.k8s.io or https://github.com=http://files.lan/github", s)
	}
	var err error
	if strings.Contains(from, "://") {
		if from, err = urlPrefix(from, true); err != nil {
			return Mirror{}, fmt.Errorf("mirror %q: %w", s, err)
		}
		if to, err = urlPrefix(to, false); err != nil {
			return Mirror{}, fmt.Errorf("mirror %q: a URL prefix maps to a URL prefix: %w", s, err)
		}
		return Mirror{From: from, To: to}, nil
	}
	if from, err = registryPrefix(from); err != nil {
		return Mirror{}, fmt.Errorf("mirror %q: %w", s, err)
	}
	to = strings.TrimRight(to, "/")
	rest := strings.TrimPrefix(strings.TrimPrefix(to, "http://"), "https://")
	if strings.Contains(rest, "://") {
		return Mirror{}, fmt.Errorf("mirror %q: a registry maps to a registry host, optionally after http:// or https://", s)
	}
	host, path, _ := strings.Cut(rest, "/")
	if _, err := name.NewRegistry(host); err != nil {
		return Mirror{}, fmt.Errorf("mirror %q: %q is not a registry host: %w", s, host, err)
	}
	if err := checkRepoPath(path); err != nil {
		return Mirror{}, fmt.Errorf("mirror %q: %w", s, err)
	}
	return Mirror{From: from, To: to}, nil
}

// urlPrefix checks an http or https URL prefix and returns it without a
// trailing slash, with its scheme and host lowercased when lower is set.
func urlPrefix(s string, lower bool) (string, error) {
	u, err := url.Parse(s)
	if err != nil {
		return "", err
	}
	if scheme := strings.ToLower(u.Scheme); scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("%q is not an http:// or https:// URL", s)
	}
	if u.Host == "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
		return "", fmt.Errorf("%q is not a URL prefix (scheme, host, optional path)", s)
	}
	origin, rest := splitOrigin(s)
	if lower {
		origin = strings.ToLower(origin)
	}
	return origin + strings.TrimRight(rest, "/"), nil
}

// registryPrefix normalizes a registry host with an optional repository
// path: the host lowercased and Docker Hub's spellings made docker.io.
func registryPrefix(s string) (string, error) {
	host, path, _ := strings.Cut(strings.TrimRight(s, "/"), "/")
	host = normalizeRegistry(strings.ToLower(host))
	if _, err := name.NewRegistry(host); err != nil {
		return "", fmt.Errorf("%q is not a registry host: %w", host, err)
	}
	if err := checkRepoPath(path); err != nil {
		return "", err
	}
	if path == "" {
		return host, nil
	}
	return host + "/" + path, nil
}

// checkRepoPath checks a repository path prefix ("" is none) against the
// distribution grammar.
func checkRepoPath(path string) error {
	if path == "" {
		return nil
	}
	for _, e := range strings.Split(path, "/") {
		if !repoElement.MatchString(e) {
			return fmt.Errorf("repository path element %q is not valid (lowercase letters and digits, separated by '.', '_', '__' or '-')", e)
		}
	}
	return nil
}

// Host returns the host (and port) the mirror sends requests to, To's
// host lowercased: "docker.m.daocloud.io" for
// docker.io=docker.m.daocloud.io, "files.m.daocloud.io" for
// https://github.com=https://files.m.daocloud.io/github.com.
func (m Mirror) Host() string {
	rest := m.To
	if _, r, ok := strings.Cut(rest, "://"); ok {
		rest = r
	}
	host, _, _ := strings.Cut(rest, "/")
	if i := strings.LastIndex(host, "@"); i >= 0 {
		host = host[i+1:]
	}
	return strings.ToLower(host)
}

func (m Mirror) isURL() bool { return strings.Contains(m.From, "://") }

func normalizeRegistry(host string) string {
	switch host {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return "docker.io"
	}
	return host
}

// ParseMirrors parses a mirror list, as a mirrors file or a preset holds
// it: one FROM=TO per line (see ParseMirror); blank lines, and text from a
// '#' to the end of its line, are ignored. Each mirror's Preset is set to
// preset (a list's entries need not match anything; see CheckMirrors).
// Errors name the line.
func ParseMirrors(data []byte, preset string) ([]Mirror, error) {
	var out []Mirror
	for i, line := range strings.Split(string(data), "\n") {
		line, _, _ = strings.Cut(line, "#")
		if line = strings.TrimSpace(line); line == "" {
			continue
		}
		m, err := ParseMirror(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		m.Preset = preset
		out = append(out, m)
	}
	return out, nil
}

// imageSource is one place an image can be pulled from.
type imageSource struct {
	repo name.Repository
	// mirror is the mirror that gave the source; the zero Mirror for the
	// origin.
	mirror Mirror
}

func (s imageSource) String() string { return s.repo.Name() }

// host returns the registry the source is pulled from
// ("index.docker.io" for Docker Hub), for a mirror and the origin alike.
func (s imageSource) host() string { return s.repo.RegistryStr() }

// imageSources returns where to pull an image from: the registry mirrors
// that match its upstream registry and repository (longest From first,
// then in the order given), then the origin. A mirror that gives a place
// already listed is left out.
func imageSources(mirrors []Mirror, registry, repository string) ([]imageSource, error) {
	registry = normalizeRegistry(strings.ToLower(registry))
	if registry == "docker.io" && !strings.Contains(repository, "/") {
		repository = "library/" + repository
	}
	host := registry
	if host == "docker.io" {
		host = name.DefaultRegistry
	}
	origin, err := name.NewRepository(host + "/" + repository)
	if err != nil {
		return nil, err
	}
	key := func(r name.Repository) string { return r.Scheme() + "://" + r.Name() }
	seen := map[string]bool{key(origin): true}
	var out []imageSource
	for _, m := range byLongestFrom(mirrors) {
		if m.isURL() {
			continue
		}
		rest, ok := underRegistry(m.From, registry, repository)
		if !ok {
			continue
		}
		repo, err := mirrorRepository(m.To, rest)
		if err != nil {
			return nil, fmt.Errorf("mirror %s=%s: %s/%s: %w", m.From, m.To, registry, repository, err)
		}
		if k := key(repo); !seen[k] {
			seen[k] = true
			out = append(out, imageSource{repo: repo, mirror: m})
		}
	}
	return append(out, imageSource{repo: origin}), nil
}

// byLongestFrom returns the mirrors ordered longest From first, mirrors
// with Froms of one length in the order given. All the Froms that match
// one source are prefixes of it, so longer means more specific.
func byLongestFrom(mirrors []Mirror) []Mirror {
	out := slices.Clone(mirrors)
	slices.SortStableFunc(out, func(a, b Mirror) int { return cmp.Compare(len(b.From), len(a.From)) })
	return out
}

// underRegistry reports whether the image registry/repository is under
// the registry mirror From from, and returns the rest of its repository
// path after from's path ("" when from names the repository itself).
func underRegistry(from, registry, repository string) (string, bool) {
	host, prefix, _ := strings.Cut(from, "/")
	if host != registry {
		return "", false
	}
	return underPath(repository, prefix)
}

// underPath reports whether path p is prefix or below it, on element
// boundaries, and returns what follows prefix and its '/'.
func underPath(p, prefix string) (string, bool) {
	switch {
	case prefix == "":
		return p, true
	case p == prefix:
		return "", true
	}
	rest, ok := strings.CutPrefix(p, prefix+"/")
	return rest, ok
}

// mirrorRepository returns the repository rest maps to under a registry
// mirror's To.
func mirrorRepository(to, rest string) (name.Repository, error) {
	var opts []name.Option
	if r, ok := strings.CutPrefix(to, "http://"); ok {
		to = r
		opts = append(opts, name.Insecure)
	}
	to = strings.TrimPrefix(to, "https://")
	host, path, _ := strings.Cut(to, "/")
	switch {
	case path == "":
		path = rest
	case rest != "":
		path += "/" + rest
	}
	if path == "" {
		return name.Repository{}, fmt.Errorf("maps to registry %s with no repository: give the repository after the host", host)
	}
	if len(path) > 255 {
		return name.Repository{}, fmt.Errorf("repository %s/%s is longer than 255 characters", host, path)
	}
	reg, err := name.NewRegistry(host, opts...)
	if err != nil {
		return name.Repository{}, err
	}
	return reg.Repo(path), nil
}

// fileSources expands a file's URLs with the URL mirrors that match them:
// for each URL, its mirrors (longest From first, then in the order given),
// then the URL itself. A URL already listed is left out.
func fileSources(mirrors []Mirror, urls []string) []string {
	ordered := byLongestFrom(mirrors)
	var out []string
	seen := map[string]bool{}
	add := func(u string) {
		if !seen[u] {
			seen[u] = true
			out = append(out, u)
		}
	}
	for _, u := range urls {
		for _, m := range ordered {
			if !m.isURL() {
				continue
			}
			if rest, ok := underURL(u, m.From); ok {
				add(m.To + rest)
			}
		}
		add(u)
	}
	return out
}

// underURL reports whether the URL u is under the URL prefix (whose scheme
// and host are lowercase), on path element boundaries, and returns what
// follows the prefix ("" or starting with '/', '?' or '#'). Scheme and
// host compare without case.
func underURL(u, prefix string) (string, bool) {
	uo, up := splitOrigin(u)
	po, pp := splitOrigin(prefix)
	if !strings.EqualFold(uo, po) || !strings.HasPrefix(up, pp) {
		return "", false
	}
	rest := up[len(pp):]
	if rest != "" && !strings.ContainsRune("/?#", rune(rest[0])) && !strings.HasSuffix(pp, "/") {
		return "", false
	}
	return rest, true
}

// splitOrigin splits a URL into scheme://host and the rest (path, query,
// fragment).
func splitOrigin(u string) (origin, rest string) {
	i := strings.Index(u, "://")
	if i < 0 {
		return "", u
	}
	j := strings.IndexAny(u[i+3:], "/?#")
	if j < 0 {
		return u, ""
	}
	return u[:i+3+j], u[i+3+j:]
}

// UnmatchedMirrorError reports mirrors given on their own (Preset empty)
// whose From matches nothing the manifest holds, most likely a typo. Its
// message names each and what the manifest's sources are.
type UnmatchedMirrorError struct {
	// Manifest is the manifest's name.
	Manifest string
	// Mirrors are the mirrors that match nothing, in the order given.
	Mirrors []Mirror
	// Registries are the registries the manifest's images come from,
	// sorted.
	Registries []string
	// Origins are the scheme://host of every URL the manifest holds
	// (files, the python section's index and files, apt repositories and
	// keys), sorted.
	Origins []string
	// hints[i], when not empty, says what the manifest holds near
	// Mirrors[i].
	hints []string
}

func (e *UnmatchedMirrorError) Error() string {
	// Each From once (a From may come with several Tos), with its hint.
	var names []string
	named := map[string]bool{}
	for i, m := range e.Mirrors {
		if named[m.From] {
			continue
		}
		named[m.From] = true
		if i < len(e.hints) && e.hints[i] != "" {
			names = append(names, m.From+" ("+e.hints[i]+")")
		} else {
			names = append(names, m.From)
		}
	}
	manifest := "the manifest"
	if e.Manifest != "" {
		manifest = "manifest " + e.Manifest
	}
	var b strings.Builder
	if len(names) == 1 {
		fmt.Fprintf(&b, "mirror %s matches nothing %s holds", names[0], manifest)
	} else {
		fmt.Fprintf(&b, "mirrors %s match nothing %s holds", strings.Join(names, ", "), manifest)
	}
	switch {
	case len(e.Registries) > 0 && len(e.Origins) > 0:
		fmt.Fprintf(&b, ": its images come from %s, its URLs are under %s", strings.Join(e.Registries, ", "), strings.Join(e.Origins, ", "))
	case len(e.Registries) > 0:
		fmt.Fprintf(&b, ": its images come from %s, and it has no URLs", strings.Join(e.Registries, ", "))
	case len(e.Origins) > 0:
		fmt.Fprintf(&b, ": it has no images, its URLs are under %s", strings.Join(e.Origins, ", "))
	default:
		b.WriteString(": it has no images and no URLs")
	}
	return redact.Text(b.String())
}

// CheckMirrors checks that every mirror given on its own (Preset empty)
// redirects something m holds, so that a typo in a From does not go
// unnoticed: a registry mirror must match an image's registry and
// repository (see Mirror), a URL mirror a URL of a file (or one of its
// alternates), an apt repository (or below it) or signing key, the
// python section's index or simple root, or, when there is a python
// section, https://files.pythonhosted.org (or below it). Mirrors from a
// list (a preset or a mirrors file) may match nothing. m is the manifest
// as built: the result of Select when groups are left out. The error is
// an *UnmatchedMirrorError.
func CheckMirrors(m *manifests.Manifest, mirrors []Mirror) error {
	t := newMirrorTargets(m)
	e := &UnmatchedMirrorError{Manifest: m.Name}
	for _, mi := range mirrors {
		if mi.Preset != "" || t.match(mi) {
			continue
		}
		e.Mirrors = append(e.Mirrors, mi)
		e.hints = append(e.hints, t.hint(mi))
	}
	if len(e.Mirrors) == 0 {
		return nil
	}
	e.Registries, e.Origins = t.registries(), t.origins()
	return e
}

// mirrorTargets are the sources of a manifest that mirrors can redirect.
type mirrorTargets struct {
	images [][2]string // registry, repository
	urls   []string    // fetched as they are: a From must be a prefix
	trees  []string    // fetched below too: a From may also lie inside
}

func newMirrorTargets(m *manifests.Manifest) *mirrorTargets {
	t := &mirrorTargets{}
	for _, img := range m.Images {
		if registry, repository, _ := img.Upstream(); registry != "" {
			t.images = append(t.images, [2]string{registry, repository})
		}
	}
	for _, f := range m.Files {
		t.urls = append(t.urls, f.Sources()...)
	}
	if py := m.Python; py != nil {
		index := py.Index
		if index == "" && py.Simple == "" {
			index = manifests.DefaultPythonIndex
		}
		// The index (or simple root) is redirected as a whole; the
		// files it lists are redirected one by one, below their host.
		for _, root := range []string{index, py.Simple} {
			if root == "" {
				continue
			}
			root = strings.TrimRight(root, "/")
			t.urls = append(t.urls, root)
			if o, _ := splitOrigin(root); o != "" && !strings.EqualFold(o, manifests.DefaultPythonIndex) {
				t.trees = append(t.trees, o)
			}
		}
		t.trees = append(t.trees, pythonFileHost)
	}
	for _, a := range m.Apt {
		t.trees = append(t.trees, strings.TrimRight(a.URL, "/"))
		t.urls = append(t.urls, a.Key.URL)
	}
	return t
}

// match reports whether the mirror redirects one of the targets.
func (t *mirrorTargets) match(m Mirror) bool {
	if !m.isURL() {
		for _, img := range t.images {
			if _, ok := underRegistry(m.From, img[0], img[1]); ok {
				return true
			}
		}
		return false
	}
	for _, u := range t.urls {
		if _, ok := underURL(u, m.From); ok {
			return true
		}
	}
	for _, root := range t.trees {
		if _, ok := underURL(root, m.From); ok {
			return true
		}
		if _, ok := underURL(m.From, root); ok {
			return true
		}
	}
	return false
}

// hint says what the targets hold near a mirror that matches none of
// them, or "".
func (t *mirrorTargets) hint(m Mirror) string {
	if !m.isURL() {
		host, prefix, _ := strings.Cut(m.From, "/")
		var repos []string
		for _, img := range t.images {
			if img[0] == host {
				repos = append(repos, img[1])
			}
		}
		if host == "docker.io" && prefix != "" && slices.Contains(repos, "library/"+prefix) {
			return "Docker Hub's official images are under docker.io/library: write docker.io/library/" + prefix
		}
		if len(repos) > 0 {
			return "the images under " + host + " are in " + near(repos, prefix)
		}
		for _, o := range t.origins() {
			if _, h, _ := strings.Cut(o, "://"); strings.EqualFold(h, host) {
				return host + " is not a registry here, but the manifest has URLs under " + o + ": name a URL prefix with its scheme"
			}
		}
		return ""
	}
	fo, fp := splitOrigin(m.From)
	_, fhost, _ := strings.Cut(fo, "://")
	if slices.Contains(t.registries(), fhost) {
		return fhost + " is a registry here: name it without a scheme"
	}
	var paths []string
	other := ""
	for _, u := range append(slices.Clone(t.urls), t.trees...) {
		o, p := splitOrigin(u)
		_, h, _ := strings.Cut(o, "://")
		switch {
		case strings.EqualFold(o, fo):
			if p, _, _ = strings.Cut(p, "?"); p != "" {
				paths = append(paths, strings.TrimPrefix(p, "/"))
			}
		case strings.EqualFold(h, fhost):
			other = strings.ToLower(o)
		}
	}
	switch {
	case len(paths) > 0:
		return "the URLs under " + fo + " are in " + near(paths, strings.TrimPrefix(fp, "/"))
	case other != "":
		return "the manifest has " + other + ", not " + fo
	}
	return ""
}

// near lists, for paths that do not lie under prefix, the distinct
// leading elements (as many as prefix has) to show instead, at most
// eight, each followed by "/…" when it has more below.
func near(paths []string, prefix string) string {
	n := 1
	if prefix != "" {
		n = strings.Count(prefix, "/") + 1
	}
	seen := map[string]bool{}
	var out []string
	for _, p := range paths {
		el := strings.Split(p, "/")
		s := strings.Join(el[:min(n, len(el))], "/")
		if len(el) > n {
			s += "/…"
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	slices.Sort(out)
	if len(out) > 8 {
		out = append(out[:8], "…")
	}
	return strings.Join(out, ", ")
}

// registries returns the images' registries, sorted, once each.
func (t *mirrorTargets) registries() []string {
	var out []string
	for _, img := range t.images {
		out = append(out, img[0])
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// origins returns the scheme://host of every URL, sorted, once each.
func (t *mirrorTargets) origins() []string {
	var out []string
	for _, u := range append(slices.Clone(t.urls), t.trees...) {
		if o, _ := splitOrigin(u); o != "" {
			out = append(out, strings.ToLower(o))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
