package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/paimirror/paimirror/manifests"
)

func newManifestCmd(g *globalOptions) *cobra.Command {
	var list bool
	cmd := &cobra.Command{
		Use:   "manifest [NAME]",
		Short: "Print an embedded manifest, to start your own from",
		Long: `Manifest prints an embedded manifest exactly as shipped, comments included
(default: ` + manifests.DefaultName + `). Save it, edit it, and build it with
'paimirror build -f FILE'. --list names the embedded manifests.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError{fmt.Errorf("at most one manifest name, got %d", len(args))}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if list {
				for _, n := range manifests.EmbeddedNames() {
					fmt.Fprintln(g.stdout, n)
				}
				return nil
			}
			name := manifests.DefaultName
			if len(args) == 1 {
				name = args[0]
			}
			raw, err := manifests.EmbeddedRaw(name)
			if err != nil {
				return err
			}
			_, err = g.stdout.Write(raw)
			return err
		},
	}
	cmd.Flags().BoolVar(&list, "list", false, "list the embedded manifests")
	return cmd
}
