package apt

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// ResolveOptions configures Resolve. The zero value works.
type ResolveOptions struct {
	// Architecture is the target's dpkg architecture; packages of it and
	// of "all" are candidates, and relation architecture lists are judged
	// against it. Default "amd64".
	Architecture string
	// Recommends follows Recommends as well as Depends and Pre-Depends;
	// default false (apt's --no-install-recommends).
	Recommends bool
	// AssumeEssential treats every package that is "Essential: yes" or
	// "Priority: required" in the indexes as already installed on the
	// target, as on any Debian or Ubuntu system, at the lowest version the
	// indexes hold (a system installed from the release has at least the
	// release's version): a relation that version does not meet, such as
	// a package of -updates wanting a newer libc6, brings the package in.
	// Default false.
	AssumeEssential bool
	// Installed names packages already on the target, "name" (any version
	// counts) or "name=version"; default none.
	Installed []string
	// Status is the target's dpkg status file (ParseStatus): its packages,
	// with their versions and Provides, count as installed; default none.
	Status *Index
	// Logger receives a debug record per choice; default: discard.
	Logger *slog.Logger
}

// Resolution is the dependency closure Resolve chose.
type Resolution struct {
	// Packages are the chosen packages, one per name, sorted by name;
	// each carries its Filename, Size, SHA256 and Repository.
	Packages []*Package
	// RequiredBy gives, per chosen name, the chain of packages that led to
	// it, outermost first ("app 1.0", "libfoo 1.5"); empty for a package
	// asked for directly.
	RequiredBy map[string][]string
}

// Resolve returns the packages to download so that wanted can be
// installed on a target that has what opts says it has. wanted entries are
// "name", "name=version" or a relation ("name (>= 1.2)").
//
// It follows Pre-Depends and Depends (and Recommends if asked) breadth
// first, the way apt would satisfy them on an empty system:
//   - a relation whose architecture list excludes the target is skipped;
//   - an or-group already met by an installed or chosen package (by name
//     or through Provides) adds nothing; otherwise its alternatives are
//     tried in order and the first that can be met is taken;
//   - a real package gets the highest version, across all indexes, that
//     meets every constraint seen on it so far (like apt with equal pins;
//     on a tie the earlier index wins); a later constraint that the chosen
//     version fails replaces it with the highest version meeting all, and
//     the new version's dependencies are followed too (those of the
//     replaced one stay in the closure: the result may hold a package
//     more than needed, never one less);
//   - a name no real package meets is looked up among the providers:
//     an unversioned relation is met by any Provides of the name, a
//     versioned one only by a versioned Provides ("foo (= 2)") that meets
//     it; the first provider by index order, highest version, is taken;
//   - a candidate (a version, an alternative or a provider) that
//     Conflicts with or Breaks a package chosen already, or that one of
//     them Conflicts with or Breaks, is passed over for the next; when
//     none is left, the dependency is unmet and the error names the clash
//     (choices are not revisited: a later package that clashes with an
//     earlier choice is passed over, not the earlier one).
//
// Replaces is not considered. A dependency nothing meets is a
// *MissingError naming the package and the chain that needed it;
// constraints on one package that no version meets together are a
// *ConflictError.
func Resolve(indexes []*Index, wanted []string, opts ResolveOptions) (*Resolution, error) {
	r := &resolver{
		arch:      opts.Architecture,
		indexes:   indexes,
		opts:      opts,
		log:       opts.Logger,
		chosen:    map[string]*Package{},
		why:       map[string][]string{},
		cons:      map[string][]constraint{},
		installed: map[string]string{},
		negative:  map[*Package][]Relation{},
	}
	if r.arch == "" {
		r.arch = "amd64"
	}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	for _, s := range opts.Installed {
		name, ver, _ := strings.Cut(strings.TrimSpace(s), "=")
		r.installed[strings.ToLower(name)] = ver
	}
	if opts.AssumeEssential {
		for _, idx := range indexes {
			for _, p := range idx.Packages {
				if (p.Essential || strings.EqualFold(p.Priority, "required")) && r.archOK(p, "") {
					if v, ok := r.installed[p.Name]; !ok || (v != "" && CompareVersions(p.Version, v) < 0) {
						r.installed[p.Name] = p.Version
					}
				}
			}
		}
	}
	for _, w := range wanted {
		rel, err := parseWanted(w)
		if err != nil {
			return nil, err
		}
		r.queue = append(r.queue, item{dep: Dependency{rel}})
	}
	for len(r.queue) > 0 {
		it := r.queue[0]
		r.queue = r.queue[1:]
		if err := r.satisfy(it); err != nil {
			return nil, err
		}
		if r.err != nil {
			return nil, r.err
		}
	}
	res := &Resolution{RequiredBy: r.why}
	for _, p := range r.chosen {
		res.Packages = append(res.Packages, p)
	}
	slices.SortFunc(res.Packages, func(a, b *Package) int { return strings.Compare(a.Name, b.Name) })
	return res, nil
}

func parseWanted(w string) (Relation, error) {
	if name, ver, ok := strings.Cut(w, "="); ok && !strings.Contains(w, "(") {
		w = strings.TrimSpace(name) + " (= " + strings.TrimSpace(ver) + ")"
	}
	rel, err := ParseRelation(w)
	if err != nil {
		return rel, fmt.Errorf("wanted package: %w", err)
	}
	return rel, nil
}

type item struct {
	dep   Dependency
	chain []string
}

type constraint struct {
	rel Relation
	by  string
}

type resolver struct {
	arch      string
	indexes   []*Index
	opts      ResolveOptions
	log       *slog.Logger
	chosen    map[string]*Package
	why       map[string][]string
	cons      map[string][]constraint
	installed map[string]string
	queue     []item
	// err is a chosen package's relationship field that does not parse.
	err error
	// negative caches each package's parsed Conflicts and Breaks.
	negative map[*Package][]Relation
}

// negativeOf returns p's Conflicts and Breaks (none when they do not
// parse: that is reported if p is chosen).
func (r *resolver) negativeOf(p *Package) []Relation {
	if rels, ok := r.negative[p]; ok {
		return rels
	}
	rels, err := p.Negative()
	if err != nil {
		rels = nil
	}
	r.negative[p] = rels
	return rels
}

// hits reports whether one of rels (Conflicts or Breaks) names q: by
// name and version, or through what q provides.
func (r *resolver) hits(rels []Relation, q *Package) bool {
	for _, rel := range rels {
		if !rel.AppliesTo(r.arch) {
			continue
		}
		if rel.Name == q.Name && (rel.Op == "" || rel.SatisfiedBy(q.Version)) {
			return true
		}
		if rel.Name != q.Name && providesRel(q, rel) {
			return true
		}
	}
	return false
}

// clash says how p conflicts with (or breaks, or is broken by) a package
// chosen already, or "". Another version of p itself does not count: p
// would take its place.
func (r *resolver) clash(p *Package) string {
	names := make([]string, 0, len(r.chosen))
	for n := range r.chosen {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		q := r.chosen[n]
		if q.Name == p.Name {
			continue
		}
		if r.hits(r.negativeOf(p), q) {
			return fmt.Sprintf("%s %s conflicts with or breaks %s %s, chosen already", p.Name, p.Version, q.Name, q.Version)
		}
		if r.hits(r.negativeOf(q), p) {
			return fmt.Sprintf("%s %s, chosen already, conflicts with or breaks %s %s", q.Name, q.Version, p.Name, p.Version)
		}
	}
	return ""
}

// archOK reports whether p can be installed for the target (qualifier
// is a relation's ":arch", which may name another architecture).
func (r *resolver) archOK(p *Package, qualifier string) bool {
	switch qualifier {
	case "", "any", "native":
		return p.Architecture == r.arch || p.Architecture == "all"
	}
	return p.Architecture == qualifier || p.Architecture == "all"
}

// met reports whether rel is met by what is installed or chosen.
func (r *resolver) met(rel Relation) bool {
	if v, ok := r.installed[rel.Name]; ok && (v == "" || rel.SatisfiedBy(v)) {
		return true
	}
	if r.opts.Status != nil && providedBy(r.opts.Status.Lookup(rel.Name), r.opts.Status.Providers(rel.Name), rel) {
		return true
	}
	if p := r.chosen[rel.Name]; p != nil && rel.SatisfiedBy(p.Version) {
		return true
	}
	for _, p := range r.chosen {
		if providesRel(p, rel) {
			return true
		}
	}
	return false
}

func providedBy(real, providers []*Package, rel Relation) bool {
	for _, p := range real {
		if rel.SatisfiedBy(p.Version) {
			return true
		}
	}
	for _, p := range providers {
		if providesRel(p, rel) {
			return true
		}
	}
	return false
}

// providesRel reports whether p's Provides meets rel: by name for an
// unversioned rel, by a versioned provide meeting it otherwise.
func providesRel(p *Package, rel Relation) bool {
	for _, pr := range p.Provides {
		if pr.Name != rel.Name {
			continue
		}
		if rel.Op == "" || (pr.Op == "=" && rel.SatisfiedBy(pr.Version)) {
			return true
		}
	}
	return false
}

// candidates returns the real packages named name the target can take,
// highest version first, earlier index first among equals.
func (r *resolver) candidates(rel Relation) []*Package {
	var out []*Package
	for _, idx := range r.indexes {
		for _, p := range idx.Lookup(rel.Name) {
			if r.archOK(p, rel.ArchQualifier) {
				out = append(out, p)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b *Package) int { return CompareVersions(b.Version, a.Version) })
	return out
}

func (r *resolver) satisfy(it item) error {
	var alts Dependency
	for _, rel := range it.dep {
		if rel.AppliesTo(r.arch) {
			alts = append(alts, rel)
		}
	}
	if len(alts) == 0 {
		return nil
	}
	for _, rel := range alts {
		if r.met(rel) {
			if p := r.chosen[rel.Name]; p != nil && rel.Op != "" && rel.SatisfiedBy(p.Version) {
				// Keep the constraint, so a later re-pick honours it.
				r.cons[rel.Name] = append(r.cons[rel.Name], constraint{rel: rel, by: lastOr(it.chain, "request")})
			}
			return nil
		}
	}
	var firstErr error
	for _, rel := range alts {
		ok, err := r.try(rel, it.chain)
		if ok {
			return nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	var conflict *ConflictError
	if errors.As(firstErr, &conflict) && len(alts) == 1 {
		return conflict
	}
	reason := "no such package"
	if firstErr != nil {
		reason = firstErr.Error()
	}
	return &MissingError{Package: alts[0].Name, Relation: it.dep.String(), Chain: slices.Clone(it.chain), Reason: reason}
}

// try meets rel by choosing a package; it reports whether it could and,
// when not, why.
func (r *resolver) try(rel Relation, chain []string) (bool, error) {
	by := lastOr(chain, "request")
	cands := r.candidates(rel)
	if len(cands) > 0 {
		cons := append(slices.Clone(r.cons[rel.Name]), constraint{rel: rel, by: by})
		var clashes []string
		for _, p := range cands {
			if all(cons, p.Version) {
				if c := r.clash(p); c != "" {
					clashes = append(clashes, c)
					continue
				}
				r.cons[rel.Name] = cons
				r.choose(p, chain)
				return true, nil
			}
		}
		if len(clashes) > 0 {
			if p := r.provider(rel); p != nil {
				r.choose(p, chain)
				return true, nil
			}
			return false, fmt.Errorf("%w: %s", ErrConflict, clashes[0])
		}
		if prev := r.chosen[rel.Name]; prev != nil {
			return false, conflictError(rel.Name, cons, cands)
		}
		// No version of the real package; a provider may still do.
		if p := r.provider(rel); p != nil {
			r.choose(p, chain)
			return true, nil
		}
		if len(cons) > 1 {
			return false, conflictError(rel.Name, cons, cands)
		}
		vs := make([]string, len(cands))
		for i, c := range cands {
			vs[i] = c.Version
		}
		return false, fmt.Errorf("no version matches; available: %s", strings.Join(vs, ", "))
	}
	if p := r.provider(rel); p != nil {
		r.choose(p, chain)
		return true, nil
	}
	if len(r.providersAny(rel.Name)) > 0 {
		return false, errors.New("virtual package with no provider of a matching version")
	}
	return false, errors.New("no such package")
}

func all(cons []constraint, version string) bool {
	for _, c := range cons {
		if !c.rel.SatisfiedBy(version) {
			return false
		}
	}
	return true
}

func conflictError(name string, cons []constraint, cands []*Package) error {
	e := &ConflictError{Package: name}
	for _, c := range cons {
		op := "any version"
		if c.rel.Op != "" {
			op = "(" + c.rel.Op + " " + c.rel.Version + ")"
		}
		e.Constraints = append(e.Constraints, op+" by "+c.by)
	}
	for _, c := range cands {
		if !slices.Contains(e.Versions, c.Version) {
			e.Versions = append(e.Versions, c.Version)
		}
	}
	return e
}

func (r *resolver) providersAny(name string) []*Package {
	var out []*Package
	for _, idx := range r.indexes {
		for _, p := range idx.Providers(name) {
			if r.archOK(p, "") {
				out = append(out, p)
			}
		}
	}
	return out
}

// provider picks a package providing rel: a chosen one first, then the
// first by index order, at the highest version of that name.
func (r *resolver) provider(rel Relation) *Package {
	var best *Package
	for _, p := range r.providersAny(rel.Name) {
		if !providesRel(p, rel) {
			continue
		}
		if c := r.chosen[p.Name]; c != nil && c != p {
			continue // another version of it is chosen already
		}
		if r.chosen[p.Name] == nil && r.clash(p) != "" {
			continue
		}
		if best == nil {
			best = p
			continue
		}
		if p.Name == best.Name && CompareVersions(p.Version, best.Version) > 0 {
			best = p
		}
	}
	return best
}

func (r *resolver) choose(p *Package, chain []string) {
	if prev := r.chosen[p.Name]; prev == p {
		return
	} else if prev != nil {
		r.log.Debug("replacing a chosen version", "package", p.Name, "old", prev.Version, "new", p.Version)
	}
	r.log.Debug("chose", "package", p.Name, "version", p.Version, "repository", p.Repository)
	r.chosen[p.Name] = p
	r.why[p.Name] = slices.Clone(chain)
	next := append(slices.Clone(chain), p.Name+" "+p.Version)
	deps, err := p.Dependencies(r.opts.Recommends)
	if err != nil && r.err == nil {
		r.err = err
	}
	for _, d := range deps {
		r.queue = append(r.queue, item{dep: d, chain: next})
	}
}

func lastOr(s []string, def string) string {
	if len(s) == 0 {
		return def
	}
	return s[len(s)-1]
}
