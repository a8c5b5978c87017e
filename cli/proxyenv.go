package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

func proxyEnvCmd(env *Env) *cobra.Command {
	var name string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "proxy-env",
		Short: "Mint a proxy token for a container you start by hand",
		Long: `Mint a proxy token and print the docker run arguments that route a container
through clauderon's proxy: the proxy URL with the token, the placeholder
credentials and the CA certificate. For example:

  docker run -it --rm $(clauderon proxy-env --name try) my-claude-image claude

The token shows in 'clauderon list'; 'clauderon delete NAME' revokes it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := env.Client()
			if err != nil {
				return err
			}
			pe, err := c.ProxyEnv(cmd.Context(), name)
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(env.Stdout, pe)
			}
			fmt.Fprintln(env.Stdout, strings.Join(pe.Args, " "))
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "name for the token (default: manual-XXXXXX)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON with the token and the arguments")
	return cmd
}
