package cli

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/clauderon/clauderon"
)

// stateCmd builds the commands that change one session's state and print it.
func stateCmd(env *Env, use, short, done string, do func(Client, context.Context, string) (*clauderon.Session, error)) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:               use + " NAME",
		Short:             short,
		Args:              sessionArg,
		ValidArgsFunction: completeSessions(env),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := env.Client()
			if err != nil {
				return err
			}
			s, err := do(c, cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(env.Stdout, s)
			}
			fmt.Fprintf(env.Stdout, "session %s %s (%s)\n", s.Name, done, statusText(s))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the session as JSON")
	return cmd
}

func startCmd(env *Env) *cobra.Command {
	return stateCmd(env, "start", "Start a stopped session again", "started", Client.Start)
}

func stopCmd(env *Env) *cobra.Command {
	return stateCmd(env, "stop", "Stop a session's container (its worktree stays)", "stopped", Client.Stop)
}

func archiveCmd(env *Env) *cobra.Command {
	return stateCmd(env, "archive", "Stop a session and hide it from 'list'", "archived", Client.Archive)
}

func unarchiveCmd(env *Env) *cobra.Command {
	return stateCmd(env, "unarchive", "Bring an archived session back", "unarchived", Client.Unarchive)
}

func deleteCmd(env *Env) *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:               "delete NAME",
		Aliases:           []string{"rm"},
		Short:             "Delete a session: its container, worktree and proxy token",
		Long:              "Delete a session. Commits stay on its branch; uncommitted changes in its worktree are kept unless --force.",
		Args:              sessionArg,
		ValidArgsFunction: completeSessions(env),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := env.Client()
			if err != nil {
				return err
			}
			if err := c.Delete(cmd.Context(), args[0], force); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "session %s deleted\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "also drop uncommitted changes in the worktree")
	return cmd
}

func reconcileCmd(env *Env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "reconcile",
		Short: "Bring session states in line with their containers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := env.Client()
			if err != nil {
				return err
			}
			changed, err := c.Reconcile(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				if changed == nil {
					changed = []*clauderon.Session{}
				}
				return writeJSON(env.Stdout, changed)
			}
			if len(changed) == 0 {
				fmt.Fprintln(env.Stdout, "all sessions match their containers")
				return nil
			}
			return writeSessions(env.Stdout, changed, env.Now())
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the changed sessions as JSON")
	return cmd
}

func setAccessModeCmd(env *Env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:               "set-access-mode NAME read-only|read-write",
		Short:             "Change what a session may do on credentialed hosts, at once",
		ValidArgsFunction: completeSessions(env),
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return clauderon.Errorf(clauderon.EINVALID, "usage: clauderon set-access-mode NAME read-only|read-write")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := env.Client()
			if err != nil {
				return err
			}
			s, err := c.SetAccessMode(cmd.Context(), args[0], clauderon.AccessMode(args[1]))
			if err != nil {
				return err
			}
			if asJSON {
				return writeJSON(env.Stdout, s)
			}
			fmt.Fprintf(env.Stdout, "session %s is now %s\n", s.Name, s.AccessMode)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the session as JSON")
	return cmd
}
