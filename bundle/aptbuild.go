package bundle

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/opencontainers/go-digest"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/paimirror/paimirror/bundle/apt"
	"github.com/paimirror/paimirror/bundle/internal/fetch"
	"github.com/paimirror/paimirror/manifests"
	"github.com/paimirror/paimirror/manifests/redact"
)

// maxKeySize bounds a signing key download; real keyrings are a few KiB.
const maxKeySize = 1 << 20

// aptKey identifies the apt entries' resolution in the journal: a resumed
// build of the same entries reuses it (metadata included) instead of
// asking the repositories again.
func aptKey(entries []manifests.Apt) string {
	data, _ := json.Marshal(entries)
	return "apt " + sha256hex(data)
}

func aptFileKey(sha string) string { return "apt file " + sha }

// aptSuites returns the suites of e to fetch: its suites, or one unnamed
// for a flat repository.
func aptSuites(e manifests.Apt) []string {
	if e.Flat {
		return []string{""}
	}
	return e.Suites
}

// suiteMeta is one suite's verified metadata and the base URL it came
// from.
type suiteMeta struct {
	entry int
	suite string // "" for a flat repository
	md    *apt.Metadata
	base  string
}

// resolveApt downloads the signing keys and every suite's signed metadata
// of the selected apt entries (each verified against its pinned key, and
// stored), resolves each target's wanted packages over its entries'
// indexes, and returns the lock's apt record with the .deb files listed
// but not yet fetched. A resumed build takes it from the journal.
func (b *builder) resolveApt(ctx context.Context, m *manifests.Manifest) (*Apt, error) {
	entries := m.Apt
	key := aptKey(entries)
	if rec, ok := b.records[key]; ok {
		la := cloneApt(rec.Apt)
		b.log.Info("apt packages: resolution kept from the interrupted build", "repositories", len(la.Repositories))
		return la, nil
	}
	la := &Apt{Repositories: []AptRepository{}, Keys: []AptKey{}, Resolutions: []AptResolution{}}

	keys, err := b.aptKeys(ctx, m, la)
	if err != nil {
		return nil, err
	}

	// One metadata fetch per entry and suite, a few at a time.
	var metas []*suiteMeta
	for i, e := range entries {
		for _, suite := range aptSuites(e) {
			metas = append(metas, &suiteMeta{entry: i, suite: suite})
		}
		la.Repositories = append(la.Repositories, AptRepository{
			Name: e.Name, Target: e.Target, URL: e.URL,
			Suites: append([]string{}, e.Suites...), Components: append([]string{}, e.Components...), Architectures: slices.Clone(e.ArchitectureList()), Flat: e.Flat,
			KeyURL: e.Key.URL, Fingerprint: keys[i].Fingerprint, Sources: e.Sources, Wanted: append([]string{}, e.Packages...), Prefix: e.MirrorPrefix(),
			Files: []AptFile{},
		})
	}
	errs := make([]error, len(metas))
	sem := make(chan struct{}, b.opts.Jobs)
	var wg sync.WaitGroup
	for slot, sm := range metas {
		e := entries[sm.entry]
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				errs[slot] = ctx.Err()
				return
			}
			defer func() { <-sem }()
			src := apt.Source{Suite: sm.suite, Components: e.Components, Architectures: e.ArchitectureList(), Key: keys[sm.entry], Flat: e.Flat}
			md, base, err := b.aptMetadata(ctx, e, src)
			if err != nil {
				item := fmt.Sprintf("apt repository %s suite %s (%s)", e.Name, sm.suite, where(m, e.Line))
				if e.Flat {
					item = fmt.Sprintf("apt repository %s (flat, %s)", e.Name, where(m, e.Line))
				}
				errs[slot] = &ItemError{Item: item, Err: err}
				return
			}
			sm.md, sm.base = md, base
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	// Record the metadata (stored verbatim as it was verified); know each
	// suite's entry by the repository name the resolver gives its packages.
	byRepo := map[string]int{} // apt.Source.Name() -> entry
	for _, sm := range metas {
		r := &la.Repositories[sm.entry]
		for _, f := range sm.md.Files { // stored as they were verified
			r.Files = append(r.Files, AptFile{Path: f.Path, Source: redact.URL(strings.TrimRight(sm.base, "/") + "/" + f.Path), SHA256: f.SHA256, Size: f.Size})
		}
		byRepo[sm.md.Source.Name()] = sm.entry
	}

	// Resolve each target and architecture over its entries' indexes.
	var targets []string
	for _, e := range entries {
		if !slices.Contains(targets, e.Target) {
			targets = append(targets, e.Target)
		}
	}
	for _, target := range targets {
		var archs []string
		for _, e := range entries {
			if e.Target != target {
				continue
			}
			for _, a := range e.ArchitectureList() {
				if !slices.Contains(archs, a) {
					archs = append(archs, a)
				}
			}
		}
		for _, arch := range archs {
			ar, err := b.resolveAptTarget(la, entries, metas, byRepo, target, arch)
			if err != nil {
				return nil, err
			}
			la.Resolutions = append(la.Resolutions, *ar)
			b.log.Info("apt packages resolved", "target", target, "arch", arch, "wanted", len(ar.Wanted), "packages", len(ar.Packages))
		}
	}
	if err := b.w.record(journalRecord{Key: key, Apt: la}); err != nil {
		return nil, err
	}
	return cloneApt(la), nil
}

// resolveAptTarget resolves the wanted packages of target's entries for
// arch, the way the machines' apt meets them: the packages of entries in
// the sources (installed before kubespray adds its own repository) over
// the indexes of those entries only, and the packages of the others
// (Docker's) over every entry of the target. It adds each chosen .deb to
// its repository's files in la and returns the resolution, whose packages
// are the union of both.
func (b *builder) resolveAptTarget(la *Apt, entries []manifests.Apt, metas []*suiteMeta, byRepo map[string]int, target, arch string) (*AptResolution, error) {
	ar := &AptResolution{Target: target, Architecture: arch, Wanted: []string{}, Packages: []AptPackage{}}
	for _, pass := range []struct{ wantSources, overAll bool }{{true, false}, {false, true}} {
		var indexes []*apt.Index
		var wanted []string
		for i, e := range entries {
			if e.Target != target || !slices.Contains(e.ArchitectureList(), arch) {
				continue
			}
			if e.Sources == pass.wantSources {
				wanted = append(wanted, e.Packages...)
			}
			if !e.Sources && !pass.overAll {
				continue
			}
			for _, m := range metas {
				if m.entry != i {
					continue
				}
				for _, idx := range m.md.Indexes {
					// A flat repository's one index holds every
					// architecture; the resolver picks.
					if strings.Contains(idx.Path, "/binary-"+arch+"/") || !strings.Contains(idx.Path, "/binary-") {
						indexes = append(indexes, idx)
					}
				}
			}
		}
		if len(wanted) == 0 {
			continue
		}
		ar.Wanted = append(ar.Wanted, wanted...)
		res, err := apt.Resolve(indexes, wanted, apt.ResolveOptions{Architecture: arch, AssumeEssential: true, Logger: b.log})
		if err != nil {
			return nil, &ItemError{Item: fmt.Sprintf("apt target %s (%s)", target, arch), Err: err}
		}
		for _, p := range res.Packages {
			ei, ok := byRepo[p.Repository]
			if !ok {
				return nil, fmt.Errorf("apt target %s: package %s came from an unknown repository %q", target, p, p.Repository)
			}
			if !hexSHA256.MatchString(p.SHA256) || !cleanAptPath(p.Filename) || !strings.HasSuffix(p.Filename, ".deb") {
				return nil, &ItemError{Item: "apt package " + p.String(), Err: fmt.Errorf("the index of %s gives an unusable Filename (%q) or SHA256 (%q)", p.Repository, p.Filename, p.SHA256)}
			}
			r := &la.Repositories[ei]
			if !slices.ContainsFunc(ar.Packages, func(q AptPackage) bool { return q.Name == p.Name && q.Version == p.Version && q.Repository == r.Name }) {
				ar.Packages = append(ar.Packages, AptPackage{Name: p.Name, Version: p.Version, Architecture: p.Architecture,
					Repository: r.Name, Filename: p.Filename, RequiredBy: res.RequiredBy[p.Name]})
			}
			if !slices.ContainsFunc(r.Files, func(f AptFile) bool { return f.Path == p.Filename }) {
				r.Files = append(r.Files, AptFile{Path: p.Filename, SHA256: p.SHA256, Size: p.Size, Package: p.Name + "=" + p.Version})
			}
		}
	}
	slices.SortStableFunc(ar.Packages, func(a, b AptPackage) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), apt.CompareVersions(a.Version, b.Version))
	})
	return ar, nil
}

// aptKeys downloads each distinct key URL once (through the mirrors),
// stores it, and returns the key each entry pins, in entry order.
func (b *builder) aptKeys(ctx context.Context, m *manifests.Manifest, la *Apt) ([]*apt.Key, error) {
	keys := make([]*apt.Key, len(m.Apt))
	byURL := map[string]int{} // key URL -> index in la.Keys
	var data [][]byte
	var errs []error
	for i, e := range m.Apt {
		k, seen := byURL[e.Key.URL]
		if !seen {
			body, source, err := b.getSmall(ctx, e.Key.URL, maxKeySize)
			if err != nil {
				errs = append(errs, &ItemError{Item: fmt.Sprintf("apt repository %s: signing key (%s)", e.Name, where(m, e.Line)), Err: err})
				continue
			}
			sum := sha256hex(body)
			if err := b.w.add(sha256Digest(sum), int64(len(body)), bytes.NewReader(body)); err != nil {
				return nil, err
			}
			k = len(la.Keys)
			byURL[e.Key.URL] = k
			data = append(data, body)
			la.Keys = append(la.Keys, AptKey{URL: e.Key.URL, Source: source, Fingerprints: []string{}, SHA256: sum, Size: int64(len(body)), Path: e.Key.KeyPath()})
		}
		key, err := apt.NewKey(data[k], e.Key.Fingerprint)
		if err != nil {
			errs = append(errs, &ItemError{Item: fmt.Sprintf("apt repository %s: signing key %s (%s)", e.Name, e.Key.URL, where(m, e.Line)), Err: err})
			continue
		}
		if !slices.Contains(la.Keys[k].Fingerprints, key.Fingerprint) {
			la.Keys[k].Fingerprints = append(la.Keys[k].Fingerprints, key.Fingerprint)
		}
		keys[i] = key
	}
	return keys, errors.Join(errs...)
}

// getSmall downloads u (trying its mirrors first) whole, up to limit
// bytes, and returns it with the URL that answered.
func (b *builder) getSmall(ctx context.Context, u string, limit int64) ([]byte, string, error) {
	var data []byte
	res, err := b.eng.Fetch(ctx, fetch.Request{
		Item: u, Size: -1, Limit: limit, Sources: urlSources(fileSources(b.opts.Mirrors, []string{u})),
		Commit: func(f *os.File, _ digest.Digest, size int64) error {
			var err error
			data, err = io.ReadAll(io.LimitReader(f, size))
			return err
		},
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		return nil, "", sourcesError(hostOf(u), []error{err})
	}
	return data, res.Source, nil
}

// aptMetadata fetches one suite's metadata from the first of the entry's
// mirrors, then its URL, that gives metadata signed by the pinned key.
func (b *builder) aptMetadata(ctx context.Context, e manifests.Apt, src apt.Source) (*apt.Metadata, string, error) {
	var errs []error
	for _, base := range fileSources(b.opts.Mirrors, []string{strings.TrimRight(e.URL, "/")}) {
		src.URL = base
		// Each file is stored verbatim as soon as it is verified, not held
		// until the whole suite is (a file from a source that later fails
		// stays in the partial bundle, unreferenced, as any blob may).
		md, err := apt.FetchMetadata(ctx, src, apt.FetchOptions{Client: b.client, Logger: b.log, Download: b.aptDownload, Store: func(f apt.MetaFile) error {
			return b.w.add(sha256Digest(f.SHA256), f.Size, bytes.NewReader(f.Data))
		}})
		if err == nil {
			return md, base, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
	}
	return nil, "", sourcesError(hostOf(e.URL), errs)
}

// aptDownload is apt.FetchOptions.Download through the engine: indexes
// (listed with their size and sha256 in the Release) resume like any
// blob; the engine's errors become the apt package's.
func (b *builder) aptDownload(ctx context.Context, u, name string, want apt.FileSum, limit int64, w io.Writer) error {
	r := fetch.Request{Item: u, Size: want.Size, Sources: []fetch.Source{{URL: u}},
		Commit: func(f *os.File, _ digest.Digest, size int64) error {
			_, err := io.Copy(w, io.LimitReader(f, size))
			return err
		}}
	if want.SHA256 != "" {
		r.Digest = digest.NewDigestFromEncoded(digest.SHA256, want.SHA256)
	}
	if want.Size < 0 {
		r.Limit = limit
	}
	_, err := b.eng.Fetch(ctx, r)
	var se *fetch.SourceError
	var de *fetch.DigestError
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fetch.ErrTooLarge):
		return fmt.Errorf("GET %s: more than %d bytes (the limit): %w", redact.URL(u), limit, apt.ErrTooLarge)
	case errors.As(err, &de):
		return &apt.ChecksumError{Path: name, Source: redact.URL(u), WantSHA256: want.SHA256, GotSHA256: de.Got.Encoded(), WantSize: want.Size, GotSize: want.Size}
	case errors.As(err, &se) && se.Status != 0:
		return &apt.HTTPError{URL: redact.URL(u), Status: se.Status}
	}
	return err
}

// pullApt stores every .deb of la, each verified against the sha256 of
// the index that listed it, and fills in where each came from.
func (b *builder) pullApt(ctx context.Context, la *Apt) error {
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for ri := range la.Repositories {
		r := &la.Repositories[ri]
		for fi := range r.Files {
			f := &r.Files[fi]
			if f.Package == "" {
				continue // metadata, stored by resolveApt
			}
			if rec, ok := b.records[aptFileKey(f.SHA256)]; ok {
				b.emit(Event{Kind: EventItemDone, Item: "apt package " + f.Package})
				f.Source = rec.AptFile.Source
				continue
			}
			wg.Go(func() {
				u := strings.TrimRight(r.URL, "/") + "/" + escapeAptPath(f.Path)
				srcs := urlSources(fileSources(b.opts.Mirrors, []string{u}))
				size := f.Size
				if size <= 0 {
					size = -1
				}
				item := "apt package " + f.Package
				st, err := b.fetchBlob(ctx, item, f.Digest(), size, srcs)
				if err == nil {
					f.Source = st.source
					if f.Source == "" {
						f.Source = redact.URL(u) // already stored by another item or run
					}
					f.Size = st.size
					rec := *f
					if err = b.w.record(journalRecord{Key: aptFileKey(f.SHA256), AptFile: &rec}); err == nil {
						b.emit(Event{Kind: EventItemDone, Item: item})
					}
				} else {
					err = &ItemError{Item: item + " (" + r.Name + ")", Err: sourcesError(hostOf(u), []error{err})}
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	return errors.Join(errs...)
}

// escapeAptPath escapes each element of a repository path for a URL: a
// Filename such as "docker-ce_5%3a18.09.7~3-0~ubuntu-bionic_amd64.deb"
// holds a literal '%'.
func escapeAptPath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// cleanAptPath reports whether p is a clean relative slash path that can
// be served under a repository's prefix.
func cleanAptPath(p string) bool {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\?#") {
		return false
	}
	for _, e := range strings.Split(p, "/") {
		if e == "" || e == "." || e == ".." {
			return false
		}
		for _, c := range e {
			if c < 0x20 || c == 0x7f {
				return false
			}
		}
	}
	return true
}

// cloneApt returns a deep copy of la.
func cloneApt(la *Apt) *Apt {
	data, _ := json.Marshal(la)
	var out Apt
	_ = json.Unmarshal(data, &out)
	return &out
}
