package pypi

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// Group is one pip install command: requirements installed together, after
// the groups before it.
type Group struct {
	// Name labels the group in results and errors ("paramiko",
	// "kubespray requirements.txt").
	Name string
	// Requirements are the command's requirements.
	Requirements []Requirement
}

// ResolveOptions configures Resolve. The zero value works.
type ResolveOptions struct {
	// Logger receives a debug record per choice; default: discard.
	Logger *slog.Logger
	// NoBuildRequires leaves out the build environments of pyproject.toml
	// sdists; default false: they are resolved, since pip 20.3 installs
	// them from the same index before it builds such an sdist.
	NoBuildRequires bool
}

// Constraint is one requirement's version constraint on a project and who
// made it.
type Constraint struct {
	// Specifier is the version clause as written in normal form; "" for
	// any version.
	Specifier string
	// By names the requirer: `group "paramiko"` or "paramiko 2.7.2".
	By   string
	spec SpecifierSet
}

// Package is one project a group installs.
type Package struct {
	// Project is the normalised project name.
	Project string
	// Version is the chosen release.
	Version string
	// File is the file pip installs it from.
	File File
	// Extras are the extras requested of it.
	Extras []string
	// RequiredBy names each requirer, in the order they were met.
	RequiredBy []string
	// Requires are its dependencies that apply on the target (markers
	// evaluated with its extras).
	Requires []string
	// DependencySource says where Requires came from (Metadata.Source).
	DependencySource string
	// Installed is true when an earlier group installed this version and
	// pip keeps it; its file is that group's.
	Installed bool
}

// GroupResolution is what one group installs.
type GroupResolution struct {
	// Name is the group's name.
	Name string
	// Requirements are the group's requirements in normal form.
	Requirements []string
	// BuildFor names the sdists ("pyyaml 5.4.1") whose isolated build
	// environment this group is; empty for an input group.
	BuildFor []string
	// Packages are the projects installed, in the order first required.
	Packages []Package
}

// Resolution is the result of Resolve: every group's installs for one
// target.
type Resolution struct {
	Target Target
	// Groups are the input groups in order, each followed by the build
	// environments its sdists need.
	Groups []GroupResolution
}

// Files returns every file the resolution needs, each once (by sha256), in
// the order first needed: what a bundle must store for this target.
func (r *Resolution) Files() []File {
	return MergeFiles(r)
}

// MergeFiles returns the files of several resolutions (one per target,
// say), each once, in order.
func MergeFiles(rs ...*Resolution) []File {
	seen := map[string]bool{}
	var out []File
	for _, r := range rs {
		for _, g := range r.Groups {
			for _, p := range g.Packages {
				if p.Installed || seen[p.File.SHA256] {
					continue
				}
				seen[p.File.SHA256] = true
				out = append(out, p.File)
			}
		}
	}
	return out
}

// maxRounds bounds how often a group's resolution restarts with what it
// learnt from a collision.
const maxRounds = 100

// maxSkipped bounds the reasons a NoFileError lists.
const maxSkipped = 12

// maxBuildDepth bounds build environments of build environments.
const maxBuildDepth = 3

// Resolve chooses, for target, the release and file of every project the
// groups install, group by group, as pip 20.3 would on a machine where
// the earlier groups are installed: a project an earlier group installed
// is kept when it satisfies every requirement on it in the new group, and
// replaced otherwise (both files are then needed). Within a group it takes
// the newest release that satisfies every requirement seen so far and has
// a file the target accepts: the most specific compatible wheel, else an
// sdist. Yanked files are skipped unless a requirement pins their version
// (PEP 592); files whose Requires-Python excludes the target are skipped.
// When a later requirement rules out a release already chosen, the group is
// resolved again knowing it; when no release satisfies both, the error is
// a *ConflictError naming both requirers. There is no other backtracking.
func Resolve(ctx context.Context, idx Index, groups []Group, target Target, opts ResolveOptions) (*Resolution, error) {
	ranks, err := target.tagRanks()
	if err != nil {
		return nil, err
	}
	full := target.PythonFull
	if full == "" {
		full = target.Python + ".0"
	}
	py, err := ParseVersion(full)
	if err != nil {
		return nil, fmt.Errorf("target %s: python version %q: %w", target, full, ErrUnsupported)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	rs := &resolver{idx: idx, target: target, env: target.Env(), ranks: ranks, python: py, log: log, opts: opts}
	res := &Resolution{Target: target}
	installed := map[string]*state{}
	builds := map[string]int{} // build requirements → index in res.Groups
	for _, g := range groups {
		gr, picks, err := rs.group(ctx, g, installed)
		if err != nil {
			return nil, err
		}
		res.Groups = append(res.Groups, *gr)
		for _, st := range picks {
			installed[st.project] = st
		}
		if err := rs.buildEnvs(ctx, res, picks, builds, 0); err != nil {
			return nil, err
		}
	}
	return res, nil
}

type resolver struct {
	idx    Index
	target Target
	env    map[string]string
	ranks  map[string]int
	python Version
	log    *slog.Logger
	opts   ResolveOptions
}

// state is a project chosen within a group.
type state struct {
	project     string
	version     Version
	file        File
	meta        *Metadata
	installed   bool
	extras      []string
	constraints []Constraint
	requiredBy  []string
}

func (st *state) label() string { return st.project + " " + st.version.String() }

type item struct {
	req Requirement
	by  string
}

// group resolves one group, restarting with what each collision taught.
func (rs *resolver) group(ctx context.Context, g Group, installed map[string]*state) (*GroupResolution, []*state, error) {
	hints := map[string][]Constraint{}
	var lastErr error
	for range maxRounds {
		gr, picks, hint, err := rs.attempt(ctx, g, installed, hints)
		if err != nil {
			return nil, nil, fmt.Errorf("group %q for %s: %w", g.Name, rs.target, err)
		}
		if hint == nil {
			return gr, picks, nil
		}
		if slices.ContainsFunc(hints[hint.project], func(c Constraint) bool { return c.Specifier == hint.c.Specifier }) {
			lastErr = fmt.Errorf("group %q for %s: %s: requirements keep colliding", g.Name, rs.target, hint.project)
			break
		}
		rs.log.Debug("restarting group", "group", g.Name, "project", hint.project, "constraint", hint.c.Specifier, "by", hint.c.By)
		hints[hint.project] = append(hints[hint.project], hint.c)
	}
	if lastErr == nil {
		lastErr = fmt.Errorf("group %q for %s: no stable choice after %d rounds", g.Name, rs.target, maxRounds)
	}
	return nil, nil, lastErr
}

type hint struct {
	project string
	c       Constraint
}

func (rs *resolver) attempt(ctx context.Context, g Group, installed map[string]*state, hints map[string][]Constraint) (*GroupResolution, []*state, *hint, error) {
	gr := &GroupResolution{Name: g.Name}
	var queue []item
	for _, r := range g.Requirements {
		gr.Requirements = append(gr.Requirements, r.String())
		if r.Marker.Evaluate(rs.envWith("")) {
			queue = append(queue, item{req: r, by: fmt.Sprintf("group %q", g.Name)})
		}
	}
	picks := map[string]*state{}
	var order []*state
	for len(queue) > 0 {
		if err := ctx.Err(); err != nil {
			return nil, nil, nil, err
		}
		it := queue[0]
		queue = queue[1:]
		r := it.req
		if r.URL != "" {
			return nil, nil, nil, fmt.Errorf("%s (required by %s): direct URL references are %w", r, it.by, ErrUnsupported)
		}
		p := r.Project()
		c := Constraint{Specifier: r.Specifier.String(), By: it.by, spec: r.Specifier}
		st := picks[p]
		if st == nil {
			st, err := rs.choose(ctx, p, []Constraint{c}, hints[p], installed[p])
			if err != nil {
				return nil, nil, nil, err
			}
			st.requiredBy = []string{it.by}
			picks[p] = st
			order = append(order, st)
			queue = append(queue, rs.deps(st, nil, r.Extras)...)
			st.extras = r.Extras
			continue
		}
		st.constraints = append(st.constraints, c)
		if !slices.Contains(st.requiredBy, it.by) {
			st.requiredBy = append(st.requiredBy, it.by)
		}
		if !satisfies(st.version, st.constraints) {
			// Could another release satisfy everyone? Then start again,
			// choosing it from the outset.
			if _, err := rs.choose(ctx, p, st.constraints, nil, nil); err == nil {
				return nil, nil, &hint{project: p, c: c}, nil
			} else if !errors.Is(err, ErrNoVersion) {
				return nil, nil, nil, err
			}
			return nil, nil, nil, rs.conflict(ctx, p, st.constraints[:len(st.constraints)-1], c)
		}
		var added []string
		for _, e := range r.Extras {
			if !slices.Contains(st.extras, e) {
				added = append(added, e)
			}
		}
		if len(added) > 0 {
			queue = append(queue, rs.deps(st, st.extras, added)...)
			st.extras = append(st.extras, added...)
			slices.Sort(st.extras)
		}
	}
	for _, st := range order {
		pkg := Package{
			Project: st.project, Version: st.version.Raw(), File: st.file, Extras: st.extras,
			RequiredBy: st.requiredBy, DependencySource: st.meta.Source, Installed: st.installed,
		}
		for _, d := range st.meta.RequiresDist {
			if rs.applies(d, st.extras) {
				d.Marker = Marker{}
				pkg.Requires = append(pkg.Requires, d.String())
			}
		}
		gr.Packages = append(gr.Packages, pkg)
		rs.log.Debug("chose", "group", g.Name, "target", rs.target.String(), "project", st.project, "version", st.version.String(), "file", st.file.Filename, "installed", st.installed)
	}
	return gr, order, nil, nil
}

// buildEnvs resolves the isolated build environment of every newly chosen
// pyproject.toml sdist, once per distinct set of build requirements.
func (rs *resolver) buildEnvs(ctx context.Context, res *Resolution, picks []*state, seen map[string]int, depth int) error {
	if rs.opts.NoBuildRequires {
		return nil
	}
	for _, st := range picks {
		if st.installed || st.file.IsWheel() || !st.meta.Pyproject {
			continue
		}
		var reqs []string
		for _, r := range st.meta.BuildRequires {
			reqs = append(reqs, r.String())
		}
		slices.Sort(reqs)
		key := strings.Join(reqs, "\n")
		if i, ok := seen[key]; ok {
			res.Groups[i].BuildFor = append(res.Groups[i].BuildFor, st.label())
			continue
		}
		if depth >= maxBuildDepth {
			return fmt.Errorf("building %s for %s: build environments nested more than %d deep", st.label(), rs.target, maxBuildDepth)
		}
		g := Group{Name: "build requirements of " + st.label(), Requirements: st.meta.BuildRequires}
		gr, sub, err := rs.group(ctx, g, map[string]*state{})
		if err != nil {
			return err
		}
		gr.BuildFor = []string{st.label()}
		res.Groups = append(res.Groups, *gr)
		seen[key] = len(res.Groups) - 1
		if err := rs.buildEnvs(ctx, res, sub, seen, depth+1); err != nil {
			return err
		}
	}
	return nil
}

func (rs *resolver) envWith(extra string) map[string]string {
	env := make(map[string]string, len(rs.env)+1)
	for k, v := range rs.env {
		env[k] = v
	}
	env["extra"] = extra
	return env
}

// applies reports whether dependency d holds on the target for the base
// install or any of extras.
func (rs *resolver) applies(d Requirement, extras []string) bool {
	for _, e := range append([]string{""}, extras...) {
		if d.Marker.Evaluate(rs.envWith(e)) {
			return true
		}
	}
	return false
}

// deps returns the dependencies of st that hold with the extras added but
// did not with had (nil had: the base install plus added).
func (rs *resolver) deps(st *state, had, added []string) []item {
	var out []item
	for _, d := range st.meta.RequiresDist {
		before := had != nil && rs.applies(d, had)
		now := rs.applies(d, append(slices.Clone(had), added...))
		if now && !before {
			d.Marker = Marker{}
			out = append(out, item{req: d, by: st.label()})
		}
	}
	return out
}

func satisfies(v Version, cs []Constraint) bool {
	for _, c := range cs {
		for _, s := range c.spec {
			if !s.Contains(v) {
				return false
			}
		}
	}
	return true
}

func joinSpecs(cs []Constraint) SpecifierSet {
	var out SpecifierSet
	for _, c := range cs {
		out = append(out, c.spec...)
	}
	return out
}

func bys(cs []Constraint) []string {
	var out []string
	for _, c := range cs {
		if !slices.Contains(out, c.By) {
			out = append(out, c.By)
		}
	}
	return out
}

// release is one version of a project with its files.
type release struct {
	version Version
	files   []File
}

// releases groups a project's files by version, newest first; files whose
// version is not PEP 440 are left out.
func (rs *resolver) releases(ctx context.Context, project string, by []string) ([]release, error) {
	files, err := rs.idx.Files(ctx, project)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("%s (required by %s): %w", project, strings.Join(by, ", "), err)
		}
		return nil, err
	}
	byVersion := map[string]*release{}
	var out []*release
	for _, f := range files {
		v, err := ParseVersion(f.Version)
		if err != nil {
			rs.log.Debug("skipping a file with a non-PEP 440 version", "file", f.Filename, "version", f.Version)
			continue
		}
		key := v.String()
		r := byVersion[key]
		if r == nil {
			r = &release{version: v}
			byVersion[key] = r
			out = append(out, r)
		}
		r.files = append(r.files, f)
	}
	slices.SortFunc(out, func(a, b *release) int { return b.version.Compare(a.version) })
	rels := make([]release, len(out))
	for i, r := range out {
		rels[i] = *r
	}
	return rels, nil
}

// choose picks the release of project for constraints: the installed one
// when it satisfies them, else the newest with a usable file, preferring
// releases that also satisfy hints.
func (rs *resolver) choose(ctx context.Context, project string, constraints, hints []Constraint, inst *state) (*state, error) {
	by := bys(constraints)
	if inst != nil && satisfies(inst.version, constraints) && satisfies(inst.version, hints) {
		st := *inst
		st.installed, st.constraints, st.extras, st.requiredBy = true, slices.Clone(constraints), nil, nil
		return &st, nil
	}
	rels, err := rs.releases(ctx, project, by)
	if err != nil {
		return nil, err
	}
	versions := make([]Version, len(rels))
	for i, r := range rels {
		versions[i] = r.version
	}
	sets := []SpecifierSet{joinSpecs(constraints)}
	if len(hints) > 0 {
		sets = []SpecifierSet{joinSpecs(append(slices.Clone(constraints), hints...)), sets[0]}
	}
	var noFile *NoFileError
	for _, set := range sets {
		matching := set.Filter(versions)
		for _, v := range matching {
			rel := rels[slices.IndexFunc(rels, func(r release) bool { return r.version.Compare(v) == 0 })]
			f, skipped := rs.bestFile(rel.files, set.IsPin())
			if f != nil {
				meta, err := rs.idx.Metadata(ctx, *f)
				if err != nil {
					return nil, err
				}
				if meta.RequiresPython == "" || rs.pythonOK(meta.RequiresPython) {
					file := *f
					if file.RequiresPython == "" {
						// Served as data-requires-python, it spares pip on
						// other targets a download.
						file.RequiresPython = meta.RequiresPython
					}
					return &state{project: project, version: rel.version, file: file, meta: meta, constraints: slices.Clone(constraints)}, nil
				}
				skipped = []string{fmt.Sprintf("%s: its metadata requires Python %s", f.Filename, meta.RequiresPython)}
			}
			if noFile == nil {
				noFile = &NoFileError{Project: project, Version: rel.version.Raw(), Target: rs.describeTarget()}
			}
			for _, why := range skipped {
				switch {
				case len(noFile.Skipped) < maxSkipped:
					noFile.Skipped = append(noFile.Skipped, why)
				case len(noFile.Skipped) == maxSkipped:
					noFile.Skipped = append(noFile.Skipped, "...")
				}
			}
		}
	}
	if noFile != nil {
		return nil, noFile
	}
	var have []string
	for i, v := range versions {
		if i == 20 {
			have = append(have, "...")
			break
		}
		have = append(have, v.Raw())
	}
	return nil, &NoVersionError{Project: project, Specifier: joinSpecs(constraints).String(), RequiredBy: by, Target: rs.target.String(), Versions: have}
}

func (rs *resolver) describeTarget() string {
	g := rs.target.Glibc
	if g == "" {
		g = "2.17"
	}
	return fmt.Sprintf("%s (CPython %s, %s, glibc %s)", rs.target, rs.target.Python, rs.target.Platform, g)
}

// conflict explains why no release satisfies the existing constraints and
// c: the first existing constraint that no release satisfies together
// with c.
func (rs *resolver) conflict(ctx context.Context, project string, existing []Constraint, c Constraint) error {
	rels, err := rs.releases(ctx, project, bys(append(slices.Clone(existing), c)))
	if err != nil {
		return err
	}
	versions := make([]Version, len(rels))
	for i, r := range rels {
		versions[i] = r.version
	}
	first := existing[0]
	for _, e := range existing {
		if len(SpecifierSet(append(slices.Clone(e.spec), c.spec...)).Filter(versions)) == 0 {
			first = e
			break
		}
	}
	return &ConflictError{Project: project, Target: rs.target.String(), First: first, Second: c}
}

func (rs *resolver) pythonOK(spec string) bool {
	ss, err := ParseSpecifierSet(spec)
	if err != nil {
		// pip ignores a Requires-Python it cannot parse.
		rs.log.Debug("ignoring an invalid Requires-Python", "value", spec)
		return true
	}
	return ss.Contains(rs.python, true)
}

// bestFile returns the file of a release the target installs, most
// specific wheel first, then sdists; and why each other file was skipped.
func (rs *resolver) bestFile(files []File, pinned bool) (*File, []string) {
	type cand struct {
		f     File
		rank  int
		build string
	}
	var cands []cand
	var skipped []string
	for _, f := range files {
		skip := func(why string) { skipped = append(skipped, f.Filename+": "+why) }
		switch {
		case f.Yanked && !pinned:
			skip("yanked")
			continue
		case len(f.SHA256) != 64 || strings.Trim(f.SHA256, "0123456789abcdef") != "":
			skip("the index gives no sha256")
			continue
		case f.RequiresPython != "" && !rs.pythonOK(f.RequiresPython):
			skip("requires Python " + f.RequiresPython)
			continue
		}
		rank := -1
		build := ""
		if f.IsWheel() {
			w, err := ParseWheelName(f.Filename)
			if err != nil {
				skip("bad wheel name")
				continue
			}
			for _, t := range w.Tags {
				if r, ok := rs.ranks[t]; ok && (rank < 0 || r < rank) {
					rank = r
				}
			}
			if rank < 0 {
				skip("wheel for another Python or platform")
				continue
			}
			build = w.Build
		} else if _, k := sdistKind(f.Filename); k >= 0 {
			rank = len(rs.ranks) + k
		} else {
			skip("neither a wheel nor an sdist")
			continue
		}
		if f.Yanked {
			rank += 1 << 20 // pinned: a yanked file only when nothing else
		}
		cands = append(cands, cand{f: f, rank: rank, build: build})
	}
	if len(cands) == 0 {
		return nil, skipped
	}
	slices.SortStableFunc(cands, func(a, b cand) int {
		if c := cmp.Compare(a.rank, b.rank); c != 0 {
			return c
		}
		// A higher build number wins.
		if c := cmpNum(normNum(leadingDigits(b.build)), normNum(leadingDigits(a.build))); c != 0 {
			return c
		}
		return strings.Compare(a.f.Filename, b.f.Filename)
	})
	return &cands[0].f, skipped
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}
