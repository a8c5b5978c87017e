package main

import (
	"context"
	"io"

	"github.com/spf13/cobra"

	"github.com/clauderon/clauderon/cli"
	"github.com/clauderon/clauderon/httpapi"
	"github.com/clauderon/clauderon/tui"
)

// tuiCmd is `clauderon tui`: the terminal interface, over the daemon's API.
func tuiCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "tui",
		Short: "Watch and drive sessions in a terminal interface (? for help)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sock, err := g.SocketPath()
			if err != nil {
				return err
			}
			c := httpapi.NewClient(sock)
			if _, err := c.Health(cmd.Context()); err != nil {
				return err // say "start the daemon" before taking the screen
			}
			return tui.Run(cmd.Context(), tui.Config{
				Client: c,
				Attach: func(ctx context.Context, name string, stdin io.Reader, stdout, stderr io.Writer) error {
					return cli.Attach(ctx, c, stdin, stdout, stderr, name)
				},
			})
		},
	}
}
