package apttest

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"time"
)

// AddFlat writes a flat repository into the repository's root, as NVIDIA's
// nvidia.github.io repositories are laid out (sources line "deb URL ./"):
// the .debs, Packages in every compression of Options, Release,
// InRelease and Release.gpg side by side, no dists/, no components, and
// Filenames starting "./". A Repo holds either suites or one flat
// repository.
func (r *Repo) AddFlat(packages []Package) error {
	out := map[string][]byte{}
	var stanzas strings.Builder
	seen := map[string]bool{}
	for _, p := range packages {
		if k := p.Name + " " + p.Version + " " + p.arch(); seen[k] {
			continue
		} else {
			seen[k] = true
		}
		if err := p.check(); err != nil {
			return fmt.Errorf("apttest: flat: %w", err)
		}
		deb, err := Deb(p, r.opts.Date)
		if err != nil {
			return err
		}
		name := p.Name + "_" + upstreamVersionOrEpoch(p.Version, r.opts.EpochInFilename) + "_" + p.arch() + ".deb"
		out[name] = deb
		stanzas.WriteString(packagesStanza(p, "./"+name, deb))
	}
	text := []byte(stanzas.String())
	release := map[string][]byte{"Packages": text}
	listed := []string{"Packages"}
	if slices.Contains(r.opts.Compressions, "") {
		out["Packages"] = text
	}
	for _, c := range r.opts.Compressions {
		if c == "" {
			continue
		}
		data, err := compress(c, text)
		if err != nil {
			return err
		}
		release["Packages"+c] = data
		listed = append(listed, "Packages"+c)
		out["Packages"+c] = data
	}
	var rel strings.Builder
	writeStanza(&rel, []Field{{"Origin", r.opts.Origin}, {"Label", r.opts.Label}, {"Date", r.opts.Date.UTC().Format(time.RFC1123)}})
	rel.WriteString("SHA256:\n")
	for _, p := range listed {
		fmt.Fprintf(&rel, " %s %d %s\n", sha256Hex(release[p]), len(release[p]), p)
	}
	relText := []byte(rel.String())
	inRelease, sig, err := r.sign(relText)
	if err != nil {
		return fmt.Errorf("apttest: signing the flat repository: %w", err)
	}
	out["Release"], out["InRelease"], out["Release.gpg"] = relText, inRelease, sig

	r.mu.Lock()
	defer r.mu.Unlock()
	for name, data := range out {
		if prev, ok := r.files[name]; ok && !bytes.Equal(prev, data) {
			return fmt.Errorf("apttest: flat: %s already holds other bytes", name)
		}
	}
	for name, data := range out {
		r.files[name] = data
	}
	return nil
}

// upstreamVersionOrEpoch is the version as a .deb's file name carries it:
// without its epoch, or with it as "%3a" (as Docker's repository does).
func upstreamVersionOrEpoch(v string, epoch bool) string {
	if e, rest, ok := strings.Cut(v, ":"); ok {
		if epoch {
			return e + "%3a" + rest
		}
		return rest
	}
	return v
}
