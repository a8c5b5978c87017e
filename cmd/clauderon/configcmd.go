package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func configCmd(g *globals, io stdio) *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Inspect clauderon's configuration"}
	cmd.AddCommand(&cobra.Command{
		Use:   "show",
		Short: "Print the effective configuration ($CLAUDERON_HOME/config.toml with defaults)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := g.Home()
			if err != nil {
				return err
			}
			cfg, err := loadConfig(home, nil)
			if err != nil {
				return err
			}
			fmt.Fprintf(io.out, "# home: %s\n", home)
			fmt.Fprint(io.out, cfg.TOML())
			return nil
		},
	})
	return cmd
}
