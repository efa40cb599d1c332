package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/paimirror/paimirror/bundle"
)

type inspectOptions struct {
	*globalOptions
	format string
}

func newInspectCmd(g *globalOptions) *cobra.Command {
	o := &inspectOptions{globalOptions: g}
	cmd := &cobra.Command{
		Use:   "inspect BUNDLE [PART...]",
		Short: "Show what a bundle holds",
		Args:  minArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.format != "text" && o.format != "json" {
				return usageError{fmt.Errorf("-o %q: want text or json", o.format)}
			}
			b, err := bundle.Open(args...)
			if err != nil {
				return err
			}
			defer b.Close()
			return renderSummary(o, b.Summary())
		},
	}
	cmd.Flags().StringVarP(&o.format, "output", "o", "text", "output format: text or json")
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
