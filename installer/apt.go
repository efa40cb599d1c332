package installer

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/installer/nodes"
	"github.com/paimirror/paimirror/installer/patch"
	"github.com/paimirror/paimirror/installer/steps"
	"github.com/paimirror/paimirror/manifests"
)

// dockerAptURL is Docker's apt repository for Ubuntu, which kubespray 2.11
// adds itself (docker_ubuntu_repo_base_url).
const dockerAptURL = "https://download.docker.com/linux/ubuntu"

var (
	aptPath   = regexp.MustCompile(`^(?:/[A-Za-z0-9_~+-][A-Za-z0-9._~+-]*)+$`)
	aptPin    = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]*=[A-Za-z0-9.+~:-]+$`)
	aptWanted = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]*(?:[ =(:].*)?$`)
)

// checkAptLock checks that every name, path and package of the lock's
// apt record is of the form a build writes (manifests' rules for apt
// entries), since install puts them into root shell scripts and apt's
// sources.
func checkAptLock(l *bundle.Lock) error {
	if l.Apt == nil {
		return nil
	}
	bad := func(what, v string) error { return fmt.Errorf("apt %s %q is not a plain name or path", what, v) }
	for _, r := range l.Apt.Repositories {
		if !manifests.ValidAptName(r.Name) {
			return bad("repository name", r.Name)
		}
		if !manifests.ValidAptTarget(r.Target) {
			return bad("target", r.Target)
		}
		if !plainPath(r.Prefix) {
			return bad("prefix", r.Prefix)
		}
		for _, list := range [][]string{r.Suites, r.Components} {
			for _, w := range list {
				if !manifests.ValidAptWord(w) {
					return bad("suite or component", w)
				}
			}
		}
		for _, a := range r.Architectures {
			if !manifests.ValidAptArchitecture(a) {
				return bad("architecture", a)
			}
		}
		for _, f := range r.Files {
			if f.Package != "" && !aptPin.MatchString(f.Package) {
				return bad("package", f.Package)
			}
		}
	}
	for _, k := range l.Apt.Keys {
		if !plainPath(k.Path) {
			return bad("key path", k.Path)
		}
	}
	for _, res := range l.Apt.Resolutions {
		if !manifests.ValidAptTarget(res.Target) {
			return bad("target", res.Target)
		}
		for _, w := range res.Wanted {
			if !aptWanted.MatchString(w) || strings.ContainsAny(w, "'\"`$\\;|&<>\n") {
				return bad("wanted package", w)
			}
		}
	}
	return nil
}

// plainPath reports whether p is an absolute mirror path of plain words,
// with no ".." element.
func plainPath(p string) bool {
	return aptPath.MatchString(p) && !slices.Contains(strings.Split(p, "/"), "..")
}

// aptOf returns what the bundle serves to apt, or nil when it carries no
// apt repository.
func aptOf(l *bundle.Lock) *nodes.Apt {
	if l == nil || l.Apt == nil || len(l.Apt.Repositories) == 0 {
		return nil
	}
	a := &nodes.Apt{Wanted: map[string][]string{}}
	for _, r := range l.Apt.Repositories {
		nr := nodes.AptRepository{
			Name: r.Name, Target: r.Target, Prefix: r.Prefix,
			Suites: r.Suites, Components: r.Components, Architectures: r.Architectures,
			Sources: r.Sources,
		}
		if r.Flat {
			nr.Suites, nr.Components = []string{nodes.FlatSuite}, nil
		}
		for _, f := range r.Files {
			if f.Package != "" {
				nr.Packages = append(nr.Packages, f.Package)
			}
		}
		for _, k := range l.Apt.Keys {
			if k.URL == r.KeyURL {
				nr.KeyPath = k.Path
			}
		}
		a.Repositories = append(a.Repositories, nr)
	}
	for _, res := range l.Apt.Resolutions {
		for _, w := range res.Wanted {
			if !slices.Contains(a.Wanted[res.Target], w) {
				a.Wanted[res.Target] = append(a.Wanted[res.Target], w)
			}
		}
	}
	return a
}

// dockerAptOf returns where the mirror serves Docker's apt repository for
// Ubuntu and its key, or nil when the bundle does not carry it.
func dockerAptOf(l *bundle.Lock) *patch.DockerApt {
	if l == nil || l.Apt == nil {
		return nil
	}
	for _, r := range l.Apt.Repositories {
		if strings.TrimRight(r.URL, "/") != dockerAptURL || r.Prefix == "" {
			continue
		}
		for _, k := range l.Apt.Keys {
			if k.URL == r.KeyURL && k.Path != "" {
				return &patch.DockerApt{Path: r.Prefix, KeyPath: k.Path}
			}
		}
	}
	return nil
}

// aptPackages returns the names of every package the bundle's apt
// repositories carry for the install: what each resolution chose and
// what it was asked for.
func aptPackages(l *bundle.Lock) []string {
	if l == nil || l.Apt == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	add := func(name string) {
		if name != "" && !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	for _, res := range l.Apt.Resolutions {
		for _, w := range res.Wanted {
			add(nodes.PackageName(w))
		}
		for _, p := range res.Packages {
			add(p.Name)
		}
	}
	return out
}

// aptFingerprint is the part of the bundle's apt record that patch and
// prepare depend on; "" without apt, so that fingerprints recorded before
// bundles had apt stay valid.
func aptFingerprint(l *bundle.Lock) string {
	a := aptOf(l)
	if a == nil {
		return ""
	}
	var b strings.Builder
	for _, r := range a.Repositories {
		fmt.Fprintf(&b, "%s|%s|%s|%v|%v|%v|%v\n", r.Name, r.Target, r.Prefix, r.Suites, r.Components, r.Architectures, r.Sources)

	}
	if d := dockerAptOf(l); d != nil {
		fmt.Fprintf(&b, "docker|%s|%s\n", d.Path, d.KeyPath)
	}
	return b.String()
}

// StepRestoreApt names RestoreApt's one step in its events.
const StepRestoreApt = "restore-apt"

// RestoreApt undoes what prepare did to apt on every machine of
// layout.yaml and on the dev box (unless Options.DevBox is "-"): the
// original sources come back from their backup and paimirror's files go
// (see nodes.RestoreApt). It needs the same Options as the install
// (config.yaml, layout.yaml, the state directory's known_hosts), but not
// the mirror to be running. A machine with nothing to restore is
// reported, not an error; a second run changes nothing. It reports its
// one step, StepRestoreApt, as steps.Started and then steps.Done or
// steps.Failed with the machines' []nodes.RestoreAptResult as Result; the
// events have no N and Total, and Text says what happens.
func RestoreApt(ctx context.Context, opts Options) error {
	in, err := newInstall(opts, false)
	if err != nil {
		return err
	}
	if in.bundledPai {
		if err := in.ensurePaiTree(ctx, in.opts.PaiDir); err != nil {
			return err
		}
	}
	ns, auth, keys, err := in.cluster()
	if err != nil {
		return err
	}
	if in.opts.DevBox != "-" {
		ns = append(ns, in.devBox())
	}
	in.report(steps.Event{Step: StepRestoreApt, Kind: steps.Started, Text: "restoring apt's original sources"})
	results, err := nodes.RestoreApt(ctx, ns, auth, keys, nodes.RestoreAptOptions{Logger: in.log})
	if err != nil {
		in.report(steps.Event{Step: StepRestoreApt, Kind: steps.Failed, Err: err, Result: results})
		return err
	}
	in.report(steps.Event{Step: StepRestoreApt, Kind: steps.Done, Text: "apt's original sources are back", Result: results})
	return nil
}
