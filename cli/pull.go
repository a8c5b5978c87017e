package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/clauderon/clauderon"
)

// puller is the client side of `clauderon pull`.
type puller interface {
	Pull(ctx context.Context, name string) (*clauderon.PullResult, error)
}

func pullCmd(env *Env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "pull NAME",
		Short: "Bring a session's commits back into your repository (Kubernetes sessions)",
		Long: "Fast-forwards the session's branch (clauderon/NAME) in your repository to the commits the agent made.\n" +
			"Kubernetes sessions work in a volume in the cluster, so their commits come back only this way;\n" +
			"Docker sessions work in a worktree of your repository, so there is nothing to pull.",
		Args:              sessionArg,
		ValidArgsFunction: completeSessions(env),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := env.Client()
			if err != nil {
				return err
			}
			p, ok := c.(puller)
			if !ok {
				return clauderon.Errorf(clauderon.EINVALID, "this client cannot pull")
			}
			res, err := p.Pull(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(env.Stdout, res)
			}
			fmt.Fprintln(env.Stdout, res.Message)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}
