package cli

import (
	"github.com/spf13/cobra"

	"github.com/clauderon/clauderon"
)

func listCmd(env *Env) *cobra.Command {
	var f clauderon.SessionFilter
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List sessions",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := env.Client()
			if err != nil {
				return err
			}
			ss, err := c.List(cmd.Context(), f)
			if err != nil {
				return err
			}
			if asJSON {
				if ss == nil {
					ss = []*clauderon.Session{}
				}
				return writeJSON(env.Stdout, ss)
			}
			return writeSessions(env.Stdout, ss, env.Now())
		},
	}
	cmd.Flags().BoolVar(&f.Archived, "archived", false, "include archived sessions")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
