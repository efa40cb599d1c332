package pypi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
)

// File is one distribution file of a release: a wheel or an sdist. It is
// also what a bundle stores for each file and what SimpleIndex serves.
type File struct {
	// Project is the normalised project name ("ruamel-yaml").
	Project string `json:"project"`
	// Version is the release version as the index gives it.
	Version string `json:"version"`
	// Filename is the file's name ("ruamel.yaml-0.15.96.tar.gz").
	Filename string `json:"filename"`
	// URL is where the index says the file is.
	URL string `json:"url"`
	// SHA256 is the lowercase hex sha256 the index gives.
	SHA256 string `json:"sha256"`
	// Size is the length in bytes; 0 when the index does not say.
	Size int64 `json:"size,omitempty"`
	// RequiresPython is the file's Requires-Python ("" for none): the
	// index's, or, in a Resolution, the file's own metadata's where the
	// index gave none.
	RequiresPython string `json:"requires_python,omitempty"`
	// Yanked is true for a file withdrawn under PEP 592.
	Yanked bool `json:"yanked,omitempty"`
	// CoreMetadata is true when the index serves the file's METADATA on
	// its own at URL+".metadata" (PEP 658); CoreMetadataSHA256 is its
	// sha256 when given.
	CoreMetadata       bool   `json:"core_metadata,omitempty"`
	CoreMetadataSHA256 string `json:"core_metadata_sha256,omitempty"`
}

// IsWheel reports whether f is a wheel.
func (f File) IsWheel() bool { return strings.HasSuffix(f.Filename, ".whl") }

// Index is a package index: where the resolver finds the files of a
// project and the dependencies of a release. Implementations must be safe
// for concurrent use.
type Index interface {
	// Files returns every file of every release of a project. A project
	// the index does not have is an error wrapping ErrNotFound.
	Files(ctx context.Context, project string) ([]File, error)
	// Metadata returns the dependency metadata of the release f belongs
	// to, as installing f would see it.
	Metadata(ctx context.Context, f File) (*Metadata, error)
}

// IndexOptions configures NewJSONAPI and NewSimpleAPI. The zero value
// works.
type IndexOptions struct {
	// Client makes the HTTP requests; default: a client over
	// http.DefaultTransport (which honours HTTP(S)_PROXY).
	Client *http.Client
	// URLs returns the URLs to try, in order, for a file URL the index
	// gave (to send files.pythonhosted.org to a mirror, say); default:
	// the URL alone.
	URLs func(url string) []string
	// TempDir holds files downloaded to read their metadata; default
	// os.TempDir(). They are removed once read.
	TempDir string
	// Download, when set, gets a file whose metadata must be read from the
	// file itself (the index gives no dependencies and no PEP 658
	// metadata), from urls in order: its bytes, checked against
	// f.SHA256, readable at least until the resolution ends. Default: one
	// GET per URL into TempDir, started over when cut (a caller with a
	// resumable downloader should set this).
	Download func(ctx context.Context, urls []string, f File) (io.ReaderAt, int64, error)
	// Logger receives debug records; default: discard.
	Logger *slog.Logger
}

// maxIndexPage bounds a project page or JSON document read into memory.
const maxIndexPage = 256 << 20

// client holds what both index kinds share: HTTP, file URL rewriting and
// a cache of metadata by file.
type client struct {
	opts  IndexOptions
	log   *slog.Logger
	files onceCache[[]File]
	meta  onceCache[*Metadata]
}

// onceCache runs a load once per key, however many callers ask at once,
// and keeps the result; a load cut short by its context is not kept.
type onceCache[T any] struct {
	mu    sync.Mutex
	calls map[string]*onceCall[T]
}

type onceCall[T any] struct {
	done chan struct{}
	v    T
	err  error
}

func (c *onceCache[T]) get(ctx context.Context, key string, load func(context.Context) (T, error)) (T, error) {
	c.mu.Lock()
	if c.calls == nil {
		c.calls = map[string]*onceCall[T]{}
	}
	call, ok := c.calls[key]
	if !ok {
		call = &onceCall[T]{done: make(chan struct{})}
		c.calls[key] = call
		c.mu.Unlock()
		call.v, call.err = load(ctx)
		if call.err != nil && ctx.Err() != nil {
			c.mu.Lock()
			delete(c.calls, key) // do not cache a cancellation
			c.mu.Unlock()
		}
		close(call.done)
	} else {
		c.mu.Unlock()
	}
	select {
	case <-call.done:
		return call.v, call.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

func newClient(opts IndexOptions) *client {
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	if opts.URLs == nil {
		opts.URLs = func(u string) []string { return []string{u} }
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &client{opts: opts, log: log}
}

// cachedFiles runs load once per project, however many callers ask.
func (c *client) cachedFiles(ctx context.Context, project string, load func(context.Context) ([]File, error)) ([]File, error) {
	return c.files.get(ctx, project, load)
}

func (c *client) cachedMeta(ctx context.Context, f File, load func(context.Context) (*Metadata, error)) (*Metadata, error) {
	return c.meta.get(ctx, f.SHA256+" "+f.Filename, load)
}

// get fetches u, at most max bytes. A 404 wraps ErrNotFound.
func (c *client) get(ctx context.Context, u, accept string, max int64) ([]byte, *http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.opts.Client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil, resp, fmt.Errorf("GET %s: %w", u, ErrNotFound)
	case resp.StatusCode != http.StatusOK:
		return nil, resp, &HTTPError{URL: u, Status: resp.StatusCode}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		return nil, resp, fmt.Errorf("GET %s: %w", u, err)
	}
	if int64(len(data)) > max {
		return nil, resp, fmt.Errorf("GET %s: answer larger than %d bytes", u, max)
	}
	return data, resp, nil
}

// fileMetadata reads f's metadata: from its PEP 658 metadata file when the
// index offers one and f is a wheel, else from the downloaded file itself.
func (c *client) fileMetadata(ctx context.Context, f File) (*Metadata, error) {
	if f.IsWheel() && f.CoreMetadata {
		m, err := c.pep658(ctx, f)
		if err == nil {
			return m, nil
		}
		c.log.Debug("PEP 658 metadata unusable; reading the wheel", "file", f.Filename, "err", err)
	}
	if c.opts.Download != nil {
		r, size, err := c.opts.Download(ctx, c.opts.URLs(f.URL), f)
		if err != nil {
			return nil, err
		}
		return distMetadata(r, size, f)
	}
	tmp, err := download(ctx, c.opts.Client, c.opts.URLs(f.URL), f, c.opts.TempDir)
	if err != nil {
		return nil, err
	}
	defer func() {
		tmp.Close()
		os.Remove(tmp.Name())
	}()
	st, err := tmp.Stat()
	if err != nil {
		return nil, err
	}
	return distMetadata(tmp, st.Size(), f)
}

// distMetadata reads the metadata of f's bytes, a wheel's or an sdist's.
func distMetadata(r io.ReaderAt, size int64, f File) (*Metadata, error) {
	if f.IsWheel() {
		return WheelMetadata(r, size, f.Filename)
	}
	return SdistMetadata(r, size, f.Filename)
}

func (c *client) pep658(ctx context.Context, f File) (*Metadata, error) {
	var errs []error
	for _, u := range c.opts.URLs(f.URL) {
		data, _, err := c.get(ctx, u+".metadata", "", maxMetadataSize)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if f.CoreMetadataSHA256 != "" {
			if got := sha256Hex(data); got != f.CoreMetadataSHA256 {
				errs = append(errs, &DigestError{Filename: f.Filename + ".metadata", Source: u + ".metadata", Want: f.CoreMetadataSHA256, Got: got})
				continue
			}
		}
		m, err := ParseMetadata(data)
		if err != nil {
			return nil, fmt.Errorf("%s.metadata: %w", f.Filename, err)
		}
		m.Source = "PEP 658 metadata"
		return m, nil
	}
	return nil, errors.Join(errs...)
}

// JSONAPI is PyPI's JSON API as an Index: GET {base}/pypi/{project}/json
// lists the files of every release, and GET
// {base}/pypi/{project}/{version}/json gives a release's requires_dist.
// When that is null (PyPI's answer both for "no dependencies" and for "not
// known", e.g. an sdist uploaded first) the dependencies are read from the
// file itself, as are an sdist's build requirements.
type JSONAPI struct {
	base string
	c    *client
}

// NewJSONAPI returns the JSON API of the index at base, e.g.
// "https://pypi.org" or a mirror that serves the same API.
func NewJSONAPI(base string, opts IndexOptions) *JSONAPI {
	return &JSONAPI{base: strings.TrimRight(base, "/"), c: newClient(opts)}
}

// String returns the base URL.
func (j *JSONAPI) String() string { return j.base + " (JSON API)" }

type jsonProject struct {
	Info struct {
		Name         string    `json:"name"`
		RequiresDist *[]string `json:"requires_dist"`
	} `json:"info"`
	Releases map[string][]struct {
		Filename       string            `json:"filename"`
		URL            string            `json:"url"`
		Digests        map[string]string `json:"digests"`
		Size           int64             `json:"size"`
		RequiresPython *string           `json:"requires_python"`
		Yanked         bool              `json:"yanked"`
	} `json:"releases"`
}

// Files implements Index.
func (j *JSONAPI) Files(ctx context.Context, project string) ([]File, error) {
	project = NormalizeName(project)
	return j.c.cachedFiles(ctx, project, func(ctx context.Context) ([]File, error) {
		u := j.base + "/pypi/" + url.PathEscape(project) + "/json"
		data, _, err := j.c.get(ctx, u, "application/json", maxIndexPage)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", project, err)
		}
		var p jsonProject
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("%s: reading %s: %w", project, u, err)
		}
		var out []File
		for version, files := range p.Releases {
			for _, f := range files {
				rp := ""
				if f.RequiresPython != nil {
					rp = *f.RequiresPython
				}
				out = append(out, File{
					Project: project, Version: version, Filename: f.Filename, URL: f.URL,
					SHA256: strings.ToLower(f.Digests["sha256"]), Size: f.Size, RequiresPython: rp, Yanked: f.Yanked,
				})
			}
		}
		return out, nil
	})
}

// Metadata implements Index.
func (j *JSONAPI) Metadata(ctx context.Context, f File) (*Metadata, error) {
	return j.c.cachedMeta(ctx, f, func(ctx context.Context) (*Metadata, error) {
		var fromIndex *Metadata
		u := j.base + "/pypi/" + url.PathEscape(f.Project) + "/" + url.PathEscape(f.Version) + "/json"
		data, _, err := j.c.get(ctx, u, "application/json", maxIndexPage)
		switch {
		case err == nil:
			var p jsonProject
			if err := json.Unmarshal(data, &p); err != nil {
				return nil, fmt.Errorf("%s %s: reading %s: %w", f.Project, f.Version, u, err)
			}
			if p.Info.RequiresDist != nil {
				fromIndex = &Metadata{Name: p.Info.Name, Version: f.Version, Source: "index JSON"}
				for _, s := range *p.Info.RequiresDist {
					r, err := ParseRequirement(s)
					if err != nil {
						return nil, fmt.Errorf("%s %s: requires_dist: %w", f.Project, f.Version, err)
					}
					fromIndex.RequiresDist = append(fromIndex.RequiresDist, r)
				}
			}
		case errors.Is(err, ErrNotFound):
			// A mirror may lack per-release JSON: read the file.
			j.c.log.Debug("no release JSON; reading the file", "url", u)
		default:
			return nil, fmt.Errorf("%s %s: %w", f.Project, f.Version, err)
		}
		if fromIndex != nil && f.IsWheel() {
			return fromIndex, nil
		}
		m, err := j.c.fileMetadata(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("%s %s: metadata: %w", f.Project, f.Version, err)
		}
		if fromIndex != nil && m.Source == "sdist without dependency metadata" {
			m.RequiresDist, m.Source = fromIndex.RequiresDist, fromIndex.Source
		}
		return m, nil
	})
}

// SimpleAPI is a PEP 503 / PEP 691 simple repository as an Index: GET
// {root}/{project}/ lists the files (JSON when the server offers PEP 691,
// else HTML anchors carrying #sha256=, data-requires-python, data-yanked
// and data-core-metadata / data-dist-info-metadata). Dependencies come from
// PEP 658 metadata files where offered, else from the files themselves.
type SimpleAPI struct {
	root string
	c    *client
}

// NewSimpleAPI returns the simple API of the index at base: either the
// index root ("https://pypi.org", giving base+"/simple/") or the simple
// root itself, as pip's --index-url takes it
// ("https://pypi.tuna.tsinghua.edu.cn/simple").
func NewSimpleAPI(base string, opts IndexOptions) *SimpleAPI {
	root := strings.TrimRight(base, "/")
	if !strings.HasSuffix(root, "/simple") {
		root += "/simple"
	}
	return &SimpleAPI{root: root, c: newClient(opts)}
}

// String returns the simple root URL.
func (s *SimpleAPI) String() string { return s.root + "/" }

const (
	simpleJSONType = "application/vnd.pypi.simple.v1+json"
	simpleAccept   = simpleJSONType + ", application/vnd.pypi.simple.v1+html;q=0.2, text/html;q=0.01"
)

type simpleJSONPage struct {
	Files []struct {
		Filename       string            `json:"filename"`
		URL            string            `json:"url"`
		Hashes         map[string]string `json:"hashes"`
		RequiresPython string            `json:"requires-python"`
		Size           int64             `json:"size"`
		Yanked         any               `json:"yanked"`
		CoreMetadata   any               `json:"core-metadata"`
		DistInfoMeta   any               `json:"dist-info-metadata"`
	} `json:"files"`
}

// Files implements Index.
func (s *SimpleAPI) Files(ctx context.Context, project string) ([]File, error) {
	project = NormalizeName(project)
	return s.c.cachedFiles(ctx, project, func(ctx context.Context) ([]File, error) {
		u := s.root + "/" + url.PathEscape(project) + "/"
		data, resp, err := s.c.get(ctx, u, simpleAccept, maxIndexPage)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", project, err)
		}
		page := resp.Request.URL // after redirects: relative links resolve against it
		ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
		var raw []File
		if ct == simpleJSONType {
			var p simpleJSONPage
			if err := json.Unmarshal(data, &p); err != nil {
				return nil, fmt.Errorf("%s: reading %s: %w", project, u, err)
			}
			for _, f := range p.Files {
				cm := f.CoreMetadata
				if cm == nil {
					cm = f.DistInfoMeta
				}
				file := File{Filename: f.Filename, URL: f.URL, SHA256: strings.ToLower(f.Hashes["sha256"]),
					Size: f.Size, RequiresPython: f.RequiresPython, Yanked: truthy(f.Yanked)}
				switch v := cm.(type) {
				case bool:
					file.CoreMetadata = v
				case map[string]any:
					file.CoreMetadata = true
					if h, ok := v["sha256"].(string); ok {
						file.CoreMetadataSHA256 = strings.ToLower(h)
					}
				}
				raw = append(raw, file)
			}
		} else {
			for _, a := range ParseAnchors(string(data)) {
				href, frag, _ := strings.Cut(a.Attrs["href"], "#")
				file := File{Filename: strings.TrimSpace(a.Text), URL: href, RequiresPython: a.Attrs["data-requires-python"]}
				if h, ok := strings.CutPrefix(frag, "sha256="); ok {
					file.SHA256 = strings.ToLower(h)
				}
				if _, ok := a.Attrs["data-yanked"]; ok {
					file.Yanked = true
				}
				cm, ok := a.Attrs["data-core-metadata"]
				if !ok {
					cm, ok = a.Attrs["data-dist-info-metadata"]
				}
				if ok && cm != "false" {
					file.CoreMetadata = true
					if h, ok := strings.CutPrefix(cm, "sha256="); ok {
						file.CoreMetadataSHA256 = strings.ToLower(h)
					}
				}
				raw = append(raw, file)
			}
		}
		var out []File
		for _, f := range raw {
			ref, err := url.Parse(f.URL)
			if err != nil || f.Filename == "" {
				s.c.log.Debug("skipping a link", "project", project, "href", f.URL)
				continue
			}
			f.URL = page.ResolveReference(ref).String()
			f.Project = project
			f.Version = versionFromFilename(project, f.Filename)
			if f.Version == "" {
				s.c.log.Debug("skipping a file whose name gives no version", "project", project, "file", f.Filename)
				continue
			}
			out = append(out, f)
		}
		return out, nil
	})
}

// Metadata implements Index.
func (s *SimpleAPI) Metadata(ctx context.Context, f File) (*Metadata, error) {
	return s.c.cachedMeta(ctx, f, func(ctx context.Context) (*Metadata, error) {
		m, err := s.c.fileMetadata(ctx, f)
		if err != nil {
			return nil, fmt.Errorf("%s %s: metadata: %w", f.Project, f.Version, err)
		}
		return m, nil
	})
}

func truthy(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case string:
		return true // a reason string means yanked
	}
	return false
}

// versionFromFilename returns the version part of a wheel or sdist
// filename of project, or "" when the name is neither or belongs to
// another project.
func versionFromFilename(project, filename string) string {
	if strings.HasSuffix(filename, ".whl") {
		w, err := ParseWheelName(filename)
		if err != nil || NormalizeName(w.Name) != project {
			return ""
		}
		return w.Version
	}
	kind, _ := sdistKind(filename)
	if kind == "" {
		return ""
	}
	stem := filename[:len(filename)-len(kind)]
	// The name may itself hold "-": find the split whose left side is the
	// project.
	for i := 0; i < len(stem); i++ {
		if stem[i] == '-' && NormalizeName(stem[:i]) == project {
			return stem[i+1:]
		}
	}
	return ""
}

// Anchor is one <a> element of an HTML page.
type Anchor struct {
	// Attrs are the attributes, names lower-cased, values unescaped. An
	// attribute without a value maps to "".
	Attrs map[string]string
	// Text is the element's text, unescaped, tags removed.
	Text string
}
