package cli

import "github.com/spf13/cobra"

func statusCmd(env *Env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:               "status NAME",
		Short:             "Show one session",
		Args:              sessionArg,
		ValidArgsFunction: completeSessions(env),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := env.Client()
			if err != nil {
				return err
			}
			s, err := c.Get(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(env.Stdout, s)
			}
			return writeSession(env.Stdout, s)
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
