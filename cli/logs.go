package cli

import (
	"io"

	"github.com/spf13/cobra"
)

func logsCmd(env *Env) *cobra.Command {
	var follow bool
	cmd := &cobra.Command{
		Use:               "logs NAME",
		Short:             "Print a session's output",
		Args:              sessionArg,
		ValidArgsFunction: completeSessions(env),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := env.Client()
			if err != nil {
				return err
			}
			r, err := c.Logs(cmd.Context(), args[0], follow)
			if err != nil {
				return err
			}
			defer r.Close()
			_, err = io.Copy(env.Stdout, r)
			if cmd.Context().Err() != nil {
				return nil // interrupted while following
			}
			return err
		},
	}
	cmd.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new output until the session stops")
	return cmd
}
