package bundle

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/opencontainers/go-digest"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/paimirror/paimirror/bundle/pypi"
	"github.com/paimirror/paimirror/manifests"
	"github.com/paimirror/paimirror/manifests/redact"
)

// pythonKey identifies a python section's resolution in the journal: a
// resumed build of the same section reuses it instead of asking the index
// again.
func pythonKey(py *manifests.Python) string {
	data, _ := json.Marshal(py)
	return "python " + sha256hex(data)
}

func pythonFileKey(sha string) string { return "python file " + sha }

// where names a place in the manifest: "FILE:LINE", FILE, "line LINE" or
// "the manifest", as much as is known.
func where(m *manifests.Manifest, line int) string {
	switch {
	case line > 0 && m.Source != "":
		return m.Source + ":" + strconv.Itoa(line)
	case line > 0:
		return "line " + strconv.Itoa(line)
	case m.Source != "":
		return m.Source
	}
	return "the manifest"
}

// resolvePython resolves the manifest's python section (its parsed
// installs and targets) for every target
// (concurrently, sharing one index and its cache) and returns the lock's
// python record, its files not yet fetched. A resumed build takes the
// resolution from the journal.
func (b *builder) resolvePython(ctx context.Context, m *manifests.Manifest, groups []pypi.Group, targets []pypi.Target) (*Python, error) {
	py := m.Python
	key := pythonKey(py)
	if rec, ok := b.records[key]; ok {
		lp := *rec.Python
		lp.Files = append([]PythonFile(nil), rec.Python.Files...)
		b.log.Info("python packages: resolution kept from the interrupted build", "files", len(lp.Files))
		return &lp, nil
	}

	tmp := filepath.Join(b.w.tmpDir, "pypi")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, err
	}
	idx, origin := b.pythonIndex(py, pypi.IndexOptions{
		Client:   &http.Client{Transport: b.rt},
		URLs:     func(u string) []string { return fileSources(b.opts.Mirrors, []string{u}) },
		TempDir:  tmp,
		Logger:   b.log,
		Download: b.pythonDist,
	})
	b.log.Info("resolving python packages", "index", origin, "targets", len(targets), "installs", len(groups))

	res := make([]*pypi.Resolution, len(targets))
	errs := make([]error, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Go(func() {
			r, err := pypi.Resolve(ctx, idx, groups, t, pypi.ResolveOptions{Logger: b.log})
			if err != nil {
				item := fmt.Sprintf("python target %s (%s)", t.Name, where(m, py.Targets[i].Line))
				errs[i] = &ItemError{Item: item, Err: b.pythonError(origin, err)}
				return
			}
			res[i] = r
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	lp := &Python{Index: py.Index, Simple: py.Simple, Targets: []PythonTarget{}, Files: []PythonFile{}, Resolutions: []PythonResolution{}}
	if lp.Index == "" && lp.Simple == "" {
		lp.Index = manifests.DefaultPythonIndex
	}
	for _, t := range py.Targets {
		lp.Targets = append(lp.Targets, PythonTarget{Name: t.Name, Python: t.Python, PythonFull: t.PythonFull, Platform: t.Platform, Glibc: t.Glibc})
	}
	for _, f := range pypi.MergeFiles(res...) {
		if !hexSHA256.MatchString(f.SHA256) || !plainFilename(f.Filename) {
			return nil, &ItemError{Item: "python file " + strconv.Quote(f.Filename), Err: fmt.Errorf("the index gives an unusable name or sha256 (%q) for %s %s", f.SHA256, f.Project, f.Version)}
		}
		lp.Files = append(lp.Files, PythonFile{Project: f.Project, Version: f.Version, Filename: f.Filename, URL: f.URL,
			SHA256: f.SHA256, Size: f.Size, RequiresPython: f.RequiresPython})
	}
	for _, r := range res {
		pr := PythonResolution{Target: r.Target.String(), Groups: []PythonGroup{}}
		for _, g := range r.Groups {
			pg := PythonGroup{Name: g.Name, Requirements: append([]string{}, g.Requirements...), BuildFor: g.BuildFor, Packages: []PythonPackage{}}
			for _, p := range g.Packages {
				pg.Packages = append(pg.Packages, PythonPackage{Project: p.Project, Version: p.Version, Filename: p.File.Filename, Installed: p.Installed})
			}
			pr.Groups = append(pr.Groups, pg)
		}
		lp.Resolutions = append(lp.Resolutions, pr)
	}
	if err := b.w.record(journalRecord{Key: key, Python: lp}); err != nil {
		return nil, err
	}
	return lp, nil
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// plainFilename reports whether name can be served as one path segment.
func plainFilename(name string) bool {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return false
	}
	for _, c := range name {
		if c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}

// pythonInputs parses the section's requirements (PEP 508) and targets,
// naming the manifest entry of each problem.
func pythonInputs(m *manifests.Manifest) ([]pypi.Group, []pypi.Target, error) {
	py := m.Python
	var errs []error
	var groups []pypi.Group
	for i, in := range py.Installs {
		g := pypi.Group{Name: in.Name}
		for j, s := range in.Requirements {
			r, err := pypi.ParseRequirement(s)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: python.installs[%d].requirements[%d] (install %q): %w", where(m, in.Line), i, j, in.Name, err))
				continue
			}
			g.Requirements = append(g.Requirements, r)
		}
		groups = append(groups, g)
	}
	var targets []pypi.Target
	for i, t := range py.Targets {
		pt := pypi.Target{Name: t.Name, Python: t.Python, PythonFull: t.PythonFull, Platform: t.Platform, Glibc: t.Glibc}
		if err := pt.Validate(); err != nil {
			errs = append(errs, fmt.Errorf("%s: python.targets[%d]: %w", where(m, t.Line), i, err))
			continue
		}
		targets = append(targets, pt)
	}
	return groups, targets, errors.Join(errs...)
}

// pythonIndex returns the index the section names, reached through the
// build's mirrors: each mirror of its JSON API base, then the base itself,
// then (when the section names one) each mirror of its simple API root and
// the root. It also returns the origin to name in hints.
func (b *builder) pythonIndex(py *manifests.Python, opts pypi.IndexOptions) (pypi.Index, string) {
	index := py.Index
	if index == "" && py.Simple == "" {
		index = manifests.DefaultPythonIndex
	}
	var chain indexChain
	origin := py.Simple
	if index != "" {
		origin = index
		for _, u := range fileSources(b.opts.Mirrors, []string{strings.TrimRight(index, "/")}) {
			chain = append(chain, pypi.NewJSONAPI(u, opts))
		}
	}
	if py.Simple != "" {
		for _, u := range fileSources(b.opts.Mirrors, []string{strings.TrimRight(py.Simple, "/")}) {
			chain = append(chain, pypi.NewSimpleAPI(u, opts))
		}
	}
	if len(chain) == 1 {
		return chain[0], origin
	}
	return chain, origin
}

// indexChain is one index reached several ways (mirrors, then the
// origin): each is asked in turn until one answers.
type indexChain []pypi.Index

// Files implements pypi.Index.
func (c indexChain) Files(ctx context.Context, project string) ([]pypi.File, error) {
	var errs []error
	for _, idx := range c {
		files, err := idx.Files(ctx, project)
		if err == nil {
			return files, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// Metadata implements pypi.Index.
func (c indexChain) Metadata(ctx context.Context, f pypi.File) (*pypi.Metadata, error) {
	var errs []error
	for _, idx := range c {
		m, err := idx.Metadata(ctx, f)
		if err == nil {
			return m, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// pythonError adds the --mirror hint to a resolution error when a host
// could not be reached: the host of the first unreachable URL that is not
// a mirror's, else the index's origin.
func (b *builder) pythonError(origin string, err error) error {
	if !unreachable(err) {
		return err
	}
	if o := b.unreachableOrigin(err); o != "" {
		origin = o
	}
	return sourcesError(strings.TrimRight(origin, "/"), []error{err})
}

func (b *builder) unreachableOrigin(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) && unreachable(ue.Err) && !b.mirrored(ue.URL) {
		if u, perr := url.Parse(ue.URL); perr == nil && u.Host != "" {
			return u.Scheme + "://" + u.Host
		}
	}
	var children []error
	switch e := err.(type) {
	case interface{ Unwrap() []error }:
		children = e.Unwrap()
	case interface{ Unwrap() error }:
		children = []error{e.Unwrap()}
	}
	for _, c := range children {
		if c == nil {
			continue
		}
		if o := b.unreachableOrigin(c); o != "" {
			return o
		}
	}
	return ""
}

// mirrored reports whether u is under one of the build's URL mirrors.
func (b *builder) mirrored(u string) bool {
	for _, m := range b.opts.Mirrors {
		if m.isURL() && strings.HasPrefix(u, m.To) {
			return true
		}
	}
	return false
}

// pullPython stores every file of lp, each verified against the sha256 the
// index gave, and fills in where each came from and its size.
func (b *builder) pullPython(ctx context.Context, lp *Python) error {
	errs := make([]error, len(lp.Files))
	var wg sync.WaitGroup
	for i := range lp.Files {
		f := &lp.Files[i]
		if rec, ok := b.records[pythonFileKey(f.SHA256)]; ok {
			b.emit(Event{Kind: EventItemDone, Item: "python file " + f.Filename})
			f.Source, f.Size = rec.PythonFile.Source, rec.PythonFile.Size
			continue
		}
		wg.Go(func() {
			// A file the resolver read for its metadata is stored
			// already (pythonDist): fetchBlob finds it.
			srcs := urlSources(fileSources(b.opts.Mirrors, []string{f.URL}))
			size := f.Size
			if size <= 0 {
				size = -1 // the index did not say
			}
			item := "python file " + f.Filename
			st, err := b.fetchBlob(ctx, item, f.Digest(), size, srcs)
			if err != nil {
				errs[i] = &ItemError{Item: item, Err: sourcesError(hostOf(f.URL), []error{err})}
				return
			}
			f.Size, f.Source = st.size, st.source
			if src, ok := b.pySources.Load(f.Digest()); ok && f.Source == "" {
				f.Source = src.(string) // stored while resolving
			}
			if f.Source == "" {
				// Already stored, by another item or an earlier run that
				// stopped before journaling it: the URL stands for it.
				f.Source = redact.URL(f.URL)
			}
			rec := *f
			if errs[i] = b.w.record(journalRecord{Key: pythonFileKey(f.SHA256), PythonFile: &rec}); errs[i] == nil {
				b.emit(Event{Kind: EventItemDone, Item: item})
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// pythonDist is the resolver's Download (pypi.IndexOptions): a file whose
// metadata must be read from the file itself comes through the engine like
// every other (resumable, several sources, verified) and is stored in the
// bundle at once, so storing it later fetches nothing; the resolver reads
// it there, in place.
func (b *builder) pythonDist(ctx context.Context, urls []string, f pypi.File) (io.ReaderAt, int64, error) {
	if !hexSHA256.MatchString(f.SHA256) {
		return nil, 0, fmt.Errorf("%s: the index gives no usable sha256 (%q) to check it against", f.Filename, f.SHA256)
	}
	size := f.Size
	if size <= 0 {
		size = -1
	}
	d := digest.NewDigestFromEncoded(digest.SHA256, f.SHA256)
	if b.w.inBase(d) {
		// A delta's base holds it: read it, but do not store it.
		return b.pythonDistApart(ctx, urls, f, d, size)
	}
	st, err := b.fetchBlob(ctx, "python file "+f.Filename, d, size, urlSources(urls))
	if err != nil {
		return nil, 0, err
	}
	if st.source != "" {
		b.pySources.Store(d, st.source)
	}
	sr, err := b.w.blobSection(d, st.size)
	if err != nil {
		return nil, 0, err
	}
	return sr, st.size, nil
}

// pythonDistApart gets a python file a delta's base holds, for its
// metadata only, into a file in the build's temporary directory (removed
// with it; the descriptor stays open until the build ends), never into
// the delta.
func (b *builder) pythonDistApart(ctx context.Context, urls []string, f pypi.File, d digest.Digest, size int64) (io.ReaderAt, int64, error) {
	tmp, err := os.CreateTemp(filepath.Join(b.w.tmpDir, "pypi"), "base-*")
	if err != nil {
		return nil, 0, err
	}
	n, err := b.fetchApart(ctx, "python file "+f.Filename, d, size, urlSources(urls), tmp)
	if err != nil {
		tmp.Close()
		return nil, 0, err
	}
	return tmp, n, nil
}
