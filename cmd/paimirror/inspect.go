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
}

func newInspectCmd(g *globalOptions) *cobra.Command {
	o := &inspectOptions{globalOptions: g}
	formats := strings.Join(inspectFormats(), ", ")
	cmd := &cobra.Command{
		Use:   "inspect BUNDLE [PART...]",
		Short: "Show what a bundle holds",
		Long: `Show what a bundle holds. Inspect reads the tar headers and the lock
(paimirror.json), never blob data, so it is instant whatever the bundle's
size (paimirror verify checks the content).

-o text (default) and -o json give the summary; -o spdx-json (SPDX 2.3) and
-o cyclonedx-json (CycloneDX 1.6) give a software bill of materials: every
image, file, Python package file and .deb with its package URL, sha256 and
where it came from. The same bundle gives the same bytes.`,
		Args: minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !slices.Contains(inspectFormats(), o.format) {
				return usageError{fmt.Errorf("-o %q: want one of %s", o.format, formats)}
			}
			b, err := bundle.Open(args...)
			if err != nil {
				return err
			}
			defer b.Close()
			if o.format == "text" || o.format == "json" {
				return renderSummary(o, b.Summary())
			}
			return sbom.Write(o.stdout, sbom.Format(o.format), b, sbom.Options{ToolVersion: toolVersion()})
		},
	}
	cmd.Flags().StringVarP(&o.format, "output", "o", "text", "output format: "+formats)
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
