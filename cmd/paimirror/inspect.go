package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/paimirror/paimirror/bundle"
	"github.com/paimirror/paimirror/bundle/sbom"
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
at hand.`,
		Example: `  paimirror inspect openpai-v1.8.0.tar
  paimirror inspect delta.tar
  paimirror inspect openpai-v1.8.0.tar delta.tar -o json
  paimirror inspect --lock openpai-v1.8.0.tar > openpai-v1.8.0.lock.json`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(inspectFormats(), o.format) {
				return usageError{fmt.Errorf("-o %q: want one of %s", o.format, formats)}
			}
			// A delta alone is described, not served: its lock is whole.
			b, err := bundle.OpenWith(bundle.OpenOptions{NoBase: true}, args...)
			if err != nil {
				return err
			}
			defer b.Close()
			if o.lock {
				_, err := o.stdout.Write(b.LockBytes())
				return err
			}
			if o.format == "text" || o.format == "json" {
				return renderSummary(o, b.Summary())
			}
			return sbom.Write(o.stdout, sbom.Format(o.format), b, sbom.Options{ToolVersion: toolVersion()})
		},
	}
	cmd.Flags().StringVarP(&o.format, "output", "o", "text", "output format: "+formats)
	cmd.Flags().BoolVar(&o.lock, "lock", false, "print the lock (paimirror.json) exactly as stored, for 'build --base'")
	return cmd
}

func renderSummary(o *inspectOptions, s bundle.Summary) error {
	if o.format == "json" {
		enc := json.NewEncoder(o.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	w := tabwriter.NewWriter(o.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "manifest:\t%s (%s)\n", s.Manifest.Name, s.Manifest.Source)
	fmt.Fprintf(w, "built:\t%s by paimirror %s\n", s.Created.Format(time.RFC3339), s.ToolVersion)
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
