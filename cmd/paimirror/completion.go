package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/paimirror/paimirror/manifests"
)

// addCompletions teaches `paimirror completion` (cobra's) what the values
// of cmd and every command under it are: the embedded manifests' names for
// `manifest NAME`, the groups of the manifest a command reads (-f FILE,
// else the embedded default) for --include and --exclude, the formats an -o
// names in its usage, the common platforms for --platform, and YAML files
// for -f. Completing reads at most one manifest; nothing touches the
// network.
func addCompletions(cmd *cobra.Command) {
	if cmd.Name() == "manifest" {
		cmd.ValidArgsFunction = func(_ *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
			var out []cobra.Completion
			for _, n := range manifests.EmbeddedNames() {
				if len(args) == 0 && strings.HasPrefix(n, toComplete) {
					out = append(out, n)
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		}
	}
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		switch {
		case f.Name == "include" || f.Name == "exclude":
			cmd.RegisterFlagCompletionFunc(f.Name, completeGroups)
		case f.Name == "output" && strings.HasPrefix(f.Usage, outputFormatUsage):
			cmd.RegisterFlagCompletionFunc(f.Name, cobra.FixedCompletions(usageFormats(f.Usage), cobra.ShellCompDirectiveNoFileComp))
		case f.Value.Type() == platformFlag{}.Type():
			cmd.RegisterFlagCompletionFunc(f.Name, cobra.FixedCompletions(commonPlatforms, cobra.ShellCompDirectiveNoFileComp))
		case f.Name == "file" && f.Shorthand == "f" && strings.Contains(f.Usage, "manifest"):
			cmd.MarkFlagFilename(f.Name, "yaml", "yml")
		}
	})
	for _, c := range cmd.Commands() {
		addCompletions(c)
	}
}

// completeGroups offers the groups of the manifest the command would read
// (its -f, else the embedded default) that start with what is typed, each
// with its description; groups
// off by default say so. A manifest that cannot be read offers nothing.
func completeGroups(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
	path := ""
	if f := cmd.Flags().Lookup("file"); f != nil {
		path = f.Value.String()
	}
	m, err := loadManifest(path)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []cobra.Completion
	for _, g := range m.Groups {
		if !strings.HasPrefix(g.Name, toComplete) {
			continue
		}
		desc := g.Description
		if !g.Default {
			desc = strings.TrimSpace("(off by default) " + desc)
		}
		out = append(out, cobra.CompletionWithDesc(g.Name, oneLineDesc(desc)))
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// oneLineDesc keeps a description on one line: a shell's completion menu
// shows one line per candidate.
func oneLineDesc(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// outputFormatUsage starts the usage of every -o that takes a format:
// "output format: text or json", "output format: text, json, spdx-json".
const outputFormatUsage = "output format:"

// usageFormats returns the formats an -o's usage names, so completion
// offers what the command accepts.
func usageFormats(usage string) []cobra.Completion {
	var out []cobra.Completion
	for _, w := range strings.FieldsFunc(strings.TrimPrefix(usage, outputFormatUsage), func(r rune) bool { return r == ',' || r == ' ' }) {
		if w != "or" {
			out = append(out, w)
		}
	}
	return out
}
