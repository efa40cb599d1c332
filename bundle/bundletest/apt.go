package bundletest

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"

	"github.com/paimirror/paimirror/bundle/apt"
	"github.com/paimirror/paimirror/bundle/apt/apttest"
	"github.com/paimirror/paimirror/manifests"
)

// AptLibrary is the package every generated package of a fake apt
// repository depends on (see the package documentation).
const AptLibrary = "libpaimirror-demo"

// aptConfig is the virtual package AptLibrary depends on, and
// aptConfigImpl the package that provides it.
const (
	aptConfig     = "paimirror-demo-config"
	aptConfigImpl = "paimirror-demo-config-default"
)

// aptSuite gathers what one suite of one fake repository holds.
type aptSuite struct {
	name  string
	archs []string
	comps []apttest.Component
	have  map[string]bool // name version arch
}

func (s *aptSuite) component(name string) *apttest.Component {
	for i := range s.comps {
		if s.comps[i].Name == name {
			return &s.comps[i]
		}
	}
	s.comps = append(s.comps, apttest.Component{Name: name})
	return &s.comps[len(s.comps)-1]
}

func (s *aptSuite) add(comp string, p apttest.Package) {
	k := p.Name + " " + p.Version + " " + p.Architecture
	if s.have[k] {
		return
	}
	s.have[k] = true
	c := s.component(comp)
	c.Packages = append(c.Packages, p)
}

// startApt generates a signed repository for every repository URL of
// entries, serves it and the keys on mux, and returns entries with the
// fake keys' fingerprints. files are the packages' files by package name
// (Options.AptFiles); served holds the mux patterns taken so far.
func (u *Upstream) startApt(mux *http.ServeMux, entries []manifests.Apt, files map[string]map[string][]byte, served map[string]bool) ([]manifests.Apt, error) {
	// One signing key per key URL, as upstream publishes one key there.
	keys := map[string]*openpgp.Entity{}
	for _, e := range entries {
		if keys[e.Key.URL] == nil {
			ent, err := apttest.NewEntity("paimirror fake " + e.Name + " signing key")
			if err != nil {
				return nil, err
			}
			keys[e.Key.URL] = ent
		}
	}

	// One repository per URL, signed with its first entry's key.
	var urls []string
	for _, e := range entries {
		if base := strings.TrimRight(e.URL, "/"); !slices.Contains(urls, base) {
			urls = append(urls, base)
		}
	}
	for n, base := range urls {
		var suites []*aptSuite
		suite := func(name string) *aptSuite {
			for _, s := range suites {
				if s.name == name {
					return s
				}
			}
			s := &aptSuite{name: name, have: map[string]bool{}}
			suites = append(suites, s)
			return s
		}
		var signer *openpgp.Entity
		// The shared dependencies get a version of their own per
		// repository, so that where several repositories serve one
		// target, apt and paimirror both take the highest, never a tie.
		libVersion := fmt.Sprintf("1.0+r%d", n+1)
		var flat []apttest.Package // a flat repository's packages
		isFlat := false
		for _, e := range entries {
			if strings.TrimRight(e.URL, "/") != base {
				continue
			}
			if signer == nil {
				signer = keys[e.Key.URL]
			}
			pkgs, err := fakePackages(e, libVersion)
			if err != nil {
				return nil, err
			}
			for i := range pkgs {
				pkgs[i].Files = files[pkgs[i].Name]
			}
			if e.Flat {
				isFlat = true
				flat = append(flat, pkgs...)
				continue
			}
			for _, sn := range e.Suites {
				s := suite(sn)
				for _, a := range e.ArchitectureList() {
					if !slices.Contains(s.archs, a) {
						s.archs = append(s.archs, a)
					}
				}
				for _, c := range e.Components {
					s.component(c)
				}
				for _, p := range pkgs {
					s.add(e.Components[0], p)
				}
			}
		}
		pu, err := url.Parse(base)
		if err != nil {
			return nil, fmt.Errorf("apt repository %s: %w", base, err)
		}
		repo, err := apttest.New(apttest.Options{Origin: "paimirror fake " + pu.Host, Entity: signer, EpochInFilename: true})
		if err != nil {
			return nil, err
		}
		for _, s := range suites {
			if err := repo.AddSuite(apttest.Suite{Name: s.name, Codename: codename(s.name), Architectures: s.archs, Components: s.comps}); err != nil {
				return nil, fmt.Errorf("apt repository %s: %w", base, err)
			}
		}
		if isFlat {
			if err := repo.AddFlat(flat); err != nil {
				return nil, fmt.Errorf("apt repository %s: %w", base, err)
			}
		}
		prefix := "/" + pu.Host + strings.TrimRight(pu.Path, "/")
		pattern := "GET " + prefix + "/"
		if served[pattern] {
			return nil, fmt.Errorf("apt repository %s: %s is served twice", base, prefix)
		}
		served[pattern] = true
		mux.Handle(pattern, http.StripPrefix(prefix, repo.Handler()))
		u.Apt[base] = repo
	}

	// Each key URL serves its key and the key of every repository an
	// entry pinning that URL is signed with.
	out := slices.Clone(entries)
	rings := map[string][]*openpgp.Entity{}
	var keyURLs []string
	for i, e := range entries {
		repo := u.Apt[strings.TrimRight(e.URL, "/")]
		out[i].Key.Fingerprint = repo.Fingerprint()
		if _, ok := rings[e.Key.URL]; !ok {
			keyURLs = append(keyURLs, e.Key.URL)
			rings[e.Key.URL] = []*openpgp.Entity{keys[e.Key.URL]}
		}
		if !slices.Contains(rings[e.Key.URL], repo.Entity()) {
			rings[e.Key.URL] = append(rings[e.Key.URL], repo.Entity())
		}
	}
	for _, ku := range keyURLs {
		pu, err := url.Parse(ku)
		if err != nil {
			return nil, fmt.Errorf("apt key %s: %w", ku, err)
		}
		data, err := keyring(rings[ku], !strings.HasSuffix(pu.Path, ".gpg"))
		if err != nil {
			return nil, err
		}
		pattern := "GET /" + pu.Host + pu.Path
		if served[pattern] {
			return nil, fmt.Errorf("apt key %s: %s is served twice", ku, pu.Host+pu.Path)
		}
		served[pattern] = true
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
		})
		u.AptKeys[ku] = data
	}
	return out, nil
}

// fakePackages returns the packages a fake repository holds for entry e:
// the shared library (at libVersion) and the provider of its virtual
// package, and each wanted package, for each architecture, depending on
// the library.
func fakePackages(e manifests.Apt, libVersion string) ([]apttest.Package, error) {
	pkgs := []apttest.Package{
		{Name: AptLibrary, Version: libVersion, Architecture: "all", Section: "libs",
			Depends: aptConfig, Description: "shared library of the fake apt repository\nEvery generated package depends on it."},
		{Name: aptConfigImpl, Version: libVersion, Architecture: "all", Provides: aptConfig, Description: "the provider of " + aptConfig},
	}
	for _, want := range e.Packages {
		name, version, err := aptWanted(want)
		if err != nil {
			return nil, fmt.Errorf("apt repository %s: package %q: %w", e.Name, want, err)
		}
		for _, a := range e.ArchitectureList() {
			pkgs = append(pkgs, apttest.Package{Name: name, Version: version, Architecture: a, Depends: AptLibrary + " (>= 1.0)"})
		}
	}
	return pkgs, nil
}

// codename returns the codename of a suite as Debian and Ubuntu name
// them: "bionic" for "bionic-updates" and "bookworm" for
// "bookworm/updates"; other suites are their own codename.
func codename(suite string) string {
	for _, pocket := range []string{"-updates", "-security", "-backports", "-proposed", "/updates"} {
		if name, ok := strings.CutSuffix(suite, pocket); ok && name != "" {
			return name
		}
	}
	return suite
}

// keyring returns the public keys of ents, armored or binary, as key
// URLs publish them (".gpg" files binary, others armored).
func keyring(ents []*openpgp.Entity, armored bool) ([]byte, error) {
	var bin bytes.Buffer
	for _, e := range ents {
		if err := e.Serialize(&bin); err != nil {
			return nil, err
		}
	}
	if !armored {
		return bin.Bytes(), nil
	}
	var buf bytes.Buffer
	w, err := armor.Encode(&buf, openpgp.PublicKeyType, nil)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(bin.Bytes()); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	buf.WriteString("\n")
	return buf.Bytes(), nil
}

// aptWanted returns the package name and the version to generate for an
// apt entry's package: the pinned version of "name=version", "1.0" for
// "name", and for "name (op version)" the lowest of "0.1", "1.0", the
// relation's version and that version with "+demo1" appended that the
// relation allows.
func aptWanted(s string) (name, version string, err error) {
	s = strings.TrimSpace(s)
	if n, v, ok := strings.Cut(s, "="); ok && !strings.Contains(s, "(") {
		name, version = strings.TrimSpace(n), strings.TrimSpace(v)
	} else {
		rel, err := apt.ParseRelation(s)
		if err != nil {
			return "", "", err
		}
		name, version = rel.Name, "1.0"
		if rel.Op != "" {
			cands := []string{"0.1", "1.0", rel.Version, rel.Version + "+demo1"}
			slices.SortFunc(cands, apt.CompareVersions)
			for _, c := range cands {
				if rel.SatisfiedBy(c) {
					version = c
					break
				}
			}
		}
	}
	name, _, _ = strings.Cut(name, ":") // an architecture qualifier
	if name == "" || version == "" {
		return "", "", errors.New("no package name or version")
	}
	return name, version, nil
}
