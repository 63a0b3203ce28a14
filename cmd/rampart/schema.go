package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/rampart-gitops/rampart/generator/spec"
	"github.com/spf13/cobra"
)

func newSchemaCmd(opts *rootOptions) *cobra.Command {
	var write bool
	cmd := &cobra.Command{
		Use:   "schema [team|cluster|config]",
		Short: "Print or write the JSON Schemas of team.yaml, cluster.yaml and rampart.yaml",
		Long: `Print the JSON Schema of a document kind, generated from Rampart's Go types, or
write all of them into schemas/ with --write. Editors use them through a
yaml-language-server modeline at the top of each spec:

  # yaml-language-server: $schema=../schemas/team.schema.json`,
		Example: `  rampart schema team
  rampart schema --write`,
		Args:      cobra.MaximumNArgs(1),
		ValidArgs: []string{"team", "cluster", "config"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if write {
				for _, kind := range spec.SchemaKinds {
					b, err := spec.Schema(kind)
					if err != nil {
						return withCode(exitBadInput, err)
					}
					path := filepath.Join(opts.dir, "schemas", spec.SchemaFile(kind))
					if old, err := os.ReadFile(path); err == nil && string(old) == string(b) {
						continue
					}
					if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
						return withCode(exitBadInput, fmt.Errorf("writing schemas: %w", err))
					}
					if err := os.WriteFile(path, b, 0o644); err != nil {
						return withCode(exitBadInput, fmt.Errorf("writing schemas: %w", err))
					}
					fmt.Fprintln(opts.stdout, "wrote", filepath.ToSlash(path))
				}
				return nil
			}
			if len(args) == 0 {
				return withCode(exitBadInput, fmt.Errorf("name a kind (team, cluster or config), or use --write"))
			}
			kind := map[string]string{"team": spec.KindTeam, "cluster": spec.KindCluster, "config": spec.KindConfig}[args[0]]
			if kind == "" {
				return withCode(exitBadInput, fmt.Errorf("unknown kind %q; want team, cluster or config", args[0]))
			}
			b, err := spec.Schema(kind)
			if err != nil {
				return withCode(exitBadInput, err)
			}
			_, err = opts.stdout.Write(b)
			return err
		},
	}
	cmd.Flags().BoolVar(&write, "write", false, "write every schema into schemas/ under --dir")
	return cmd
}
