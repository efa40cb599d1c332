package main

import (
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/sbom"
	"github.com/paimirror/paimirror/bundle/sign"
)

// inspectFormats are the values of inspect's -o, in the order help shows
// them: the summary as text or JSON, and the SBOMs of bundle/sbom.
func inspectFormats() []string {
	out := []string{"text", "json"}
	for _, f := range sbom.Formats() {
		out = append(out, string(f))
	}
	return out
}

type inspectOptions struct {
	*globalOptions
	format string
	lock   bool
	key    string
}

func newInspectCmd(g *globalOptions) *cobra.Command {
	o := &inspectOptions{globalOptions: g}
	formats := strings.Join(inspectFormats(), ", ")
	cmd := &cobra.Command{
		Use:   "inspect BUNDLE [PART...] [DELTA...]",
		Short: "Show what a bundle holds",
		Long: `Show what a bundle holds. Inspect reads the tar headers and the lock
(paimirror.json), never blob data, so it is instant whatever the bundle's
size (paimirror verify checks the content).

-o text (default) and -o json give the summary; -o spdx-json (SPDX 2.3) and
-o cyclonedx-json (CycloneDX 1.6) give a software bill of materials: every
image, file, Python package file and .deb with its package URL, sha256 and
where it came from. The same bundle gives the same bytes.

A delta bundle (build --base) is shown with its base and what it brings:
given alone, the items it stores content for ("new"); after its base
(inspect BASE DELTA), what was added, changed and removed.

--lock prints the lock (paimirror.json) exactly as stored, for
'paimirror build --base LOCK' where only the lock of the lab's bundle is
at hand.

The summary says whether the lock is signed (see 'paimirror sign') and by
which key the bundle names, which proves nothing by itself. With --key PUB
(a cosign public key) the signature is checked, as 'verify --key' does, at
the cost of one ECDSA verification: a bundle with no signature, or one that
does not verify against PUB, exits with status 3 and prints nothing, in
every format and with --lock. Blobs are not read: 'paimirror verify --key
PUB' checks both.`,
		Example: `  paimirror inspect openpai-v1.8.0.tar
  paimirror inspect openpai-v1.8.0.tar --key lab.pub
  paimirror inspect delta.tar
  paimirror inspect openpai-v1.8.0.tar delta.tar -o json
  paimirror inspect --lock openpai-v1.8.0.tar > openpai-v1.8.0.lock.json`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runInspect(o, args) },
	}
	cmd.Flags().StringVarP(&o.format, "output", "o", "text", "output format: "+formats)
	cmd.Flags().BoolVar(&o.lock, "lock", false, "print the lock (paimirror.json) exactly as stored, for 'build --base'")
	cmd.Flags().StringVar(&o.key, "key", "", "check the lock's signature against this public key (cosign.pub); exit 3 if it does not verify")
	return cmd
}

func runInspect(o *inspectOptions, paths []string) error {
	if !slices.Contains(inspectFormats(), o.format) {
		return usageError{fmt.Errorf("-o %q: want one of %s", o.format, strings.Join(inspectFormats(), ", "))}
	}
	var pub *ecdsa.PublicKey
	if o.key != "" {
		var err error
		if pub, err = loadPublicKey("--key", o.key); err != nil {
			return err
		}
	}
	// A delta alone is described, not served: its lock is whole.
	b, err := bundle.OpenWith(bundle.OpenOptions{NoBase: true}, paths...)
	if err != nil {
		return err
	}
	defer b.Close()
	// The signature (a delta's, the last given) is checked before
	// anything is printed: nothing shown vouches for a bundle that fails.
	sig := inspectSignature(b)
	if pub != nil {
		if err := checkSignature(b, pub, b.Name()); err != nil {
			return err
		}
		sig.Verified, sig.Key, sig.keyFile = true, sign.Fingerprint(pub), o.key
	}
	if o.lock {
		_, err := o.stdout.Write(b.LockBytes())
		return err
	}
	if o.format == "text" || o.format == "json" {
		return renderSummary(o, b.Summary(), sig)
	}
	return sbom.Write(o.stdout, sbom.Format(o.format), b, sbom.Options{ToolVersion: toolVersion()})
}

// signatureInfo is the state of a bundle's signature, as inspect shows it
// (-o json's "signature").
type signatureInfo struct {
	// Signed reports whether the bundle holds a signature of its lock.
	Signed bool `json:"signed"`
	// Signer is the fingerprint ("sha256:<hex>") of the key the bundle
	// names as its signer: a hint that proves nothing by itself; "" when
	// unsigned or unknown.
	Signer string `json:"signer,omitempty"`
	// Verified reports whether the signature was checked against --key
	// and verifies (inspect exits with status 3 when it does not).
	Verified bool `json:"verified"`
	// Key is the fingerprint of --key, when given.
	Key string `json:"key,omitempty"`

	keyFile string // --key, for the text
}

// inspectSignature reads b's signature state without checking it.
func inspectSignature(b *bundle.Bundle) signatureInfo {
	s, ok := b.Signature()
	return signatureInfo{Signed: ok, Signer: s.Signer}
}

// text is the summary's signature line.
func (s signatureInfo) text() string {
	switch {
	case !s.Signed:
		return "none; sign it with 'paimirror sign BUNDLE --key cosign.key'"
	case s.Verified:
		return fmt.Sprintf("verifies against %s (key %s)", s.keyFile, s.Key)
	case s.Signer == "":
		return "signed by a key the bundle does not name (not checked: inspect or verify --key PUBLIC-KEY checks it)"
	}
	return fmt.Sprintf("signed by key %s (as the bundle says; not checked: inspect or verify --key PUBLIC-KEY checks it)", s.Signer)
}

func renderSummary(o *inspectOptions, s bundle.Summary, sig signatureInfo) error {
	if o.format == "json" {
		enc := json.NewEncoder(o.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			bundle.Summary
			Signature signatureInfo `json:"signature"`
		}{s, sig})
	}
	w := tabwriter.NewWriter(o.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "manifest:\t%s (%s)\n", s.Manifest.Name, s.Manifest.Source)
	fmt.Fprintf(w, "built:\t%s by paimirror %s\n", s.Created.Format(time.RFC3339), s.ToolVersion)
	fmt.Fprintf(w, "signature:\t%s\n", sig.text())
	fmt.Fprintf(w, "size:\t%s, %d images, %d files, %d python files (%d packages), %d apt repositories (%d .debs), %d blobs, %s saved by shared blobs\n\n",
		bundle.HumanSize(s.Totals.BundleBytes), s.Totals.Images, s.Totals.Files, s.Totals.PythonFiles, s.Totals.PythonProjects,
		s.Totals.AptRepositories, s.Totals.AptPackages, s.Totals.Blobs, bundle.HumanSize(s.Totals.SharedBytes))
	if s.Base != nil {
		renderChanges(w, s.Base, s.Changes)
	}
	fmt.Fprintln(w, "IMAGE\tSIZE\tDIGEST\tMIRROR NAMES")
	for _, img := range s.Images {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", img.Ref, bundle.HumanSize(img.Size), img.Digest, strings.Join(img.Names, ", "))
	}
	fmt.Fprintln(w, "\nFILE\tSIZE\tSHA256\tPATHS")
	for _, f := range s.Files {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", f.Name, bundle.HumanSize(f.Size), f.SHA256, strings.Join(f.Paths, ", "))
	}
	if len(s.PythonFiles) > 0 {
		fmt.Fprintln(w, "\nPYTHON FILE\tSIZE\tSHA256\tTARGETS")
		for _, f := range s.PythonFiles {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", f.Filename, bundle.HumanSize(f.Size), f.SHA256, strings.Join(f.Targets, ", "))
		}
	}
	if len(s.Apt) > 0 {
		fmt.Fprintln(w, "\nAPT REPOSITORY\tTARGET\tSIZE\t.DEBS\tSERVED AT\tSUITES")
		for _, r := range s.Apt {
			fmt.Fprintf(w, "%s\t%s\t%s\t%d\t%s\t%s (%s)\n", r.Name, r.Target, bundle.HumanSize(r.Size), len(r.Packages), r.Prefix,
				strings.Join(r.Suites, " "), strings.Join(r.Components, " "))
		}
	}
	return w.Flush()
}

// renderChanges shows a delta's base and what the delta brings.
func renderChanges(w *tabwriter.Writer, base *bundle.BaseRef, c *bundle.Changes) {
	file := base.File
	if file == "" {
		file = "(built from its lock)"
	}
	fmt.Fprintf(w, "delta over:\t%s: manifest %s, built %s, lock sha256:%s\n", file, base.Manifest, base.Created.Format(time.RFC3339), base.LockSHA256)
	how := "added, changed and removed, against the base given"
	if !c.Exact {
		how = "items it stores content for (give the base first to see what was added, changed and removed)"
	}
	fmt.Fprintf(w, "it stores:\t%d blobs, %s: %s\n", c.Blobs, bundle.HumanSize(c.Bytes), how)
	for _, sec := range []struct {
		title string
		items []bundle.ItemChange
	}{{"IMAGE", c.Images}, {"FILE", c.Files}, {"PYTHON FILE", c.PythonFiles}, {"APT PACKAGE", c.AptPackages}} {
		if len(sec.items) == 0 {
			continue
		}
		fmt.Fprintf(w, "\nCHANGE\t%s\tSTORED\tDIGEST\n", sec.title)
		for _, ch := range sec.items {
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", ch.Change, ch.Name, bundle.HumanSize(ch.Bytes), ch.Digest)
		}
	}
	fmt.Fprintln(w)
}
