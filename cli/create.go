package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/clauderon/clauderon"
)

func createCmd(env *Env) *cobra.Command {
	var req clauderon.CreateRequest
	var access, allow string
	var attach, asJSON bool
	cmd := &cobra.Command{
		Use:   "create --name NAME --prompt PROMPT [flags]",
		Short: "Start an agent in a new session",
		Long: `Start a coding agent in its own container, with a git worktree of --repo
(or an empty workspace) and no real credentials: the proxy adds them.

Interactive (default): the agent waits in a terminal; 'clauderon attach NAME'.
Print (--print): the agent answers the prompt once; its output streams here and
clauderon exits with the agent's exit code, for scripts and CI.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if req.Name == "" {
				return clauderon.Errorf(clauderon.EINVALID, "create needs --name NAME")
			}
			req.AccessMode = clauderon.AccessMode(access)
			for _, h := range strings.Split(allow, ",") {
				if h = strings.TrimSpace(h); h != "" {
					req.Allow = append(req.Allow, h)
				}
			}
			if req.Repo != "" {
				// Absolute against the CLI's directory: the daemon has another.
				abs, err := filepath.Abs(req.Repo)
				if err != nil {
					return err
				}
				req.Repo = abs
			}
			c, err := env.Client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			s, err := c.Create(ctx, req)
			if err != nil {
				return err
			}
			if req.Print {
				return streamPrint(ctx, c, env, s.Name)
			}
			if asJSON {
				return writeJSON(env.Stdout, s)
			}
			if attach {
				return runAttach(ctx, c, env, s.Name)
			}
			fmt.Fprintf(env.Stdout, "session %s is running (%s in %s)\nattach: clauderon attach %s\n", s.Name, s.Agent, s.Image, s.Name)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Name, "name", "", "session name: lower-case letters, digits and dashes")
	f.StringVar(&req.Prompt, "prompt", "", "the agent's first prompt")
	f.StringVar(&req.Repo, "repo", "", "git repository to give the agent a worktree of (branch clauderon/NAME)")
	f.StringVar(&req.Agent, "agent", "", "agent: "+strings.Join(clauderon.AgentNames(), ", ")+" (default from config, else claude)")
	f.StringVar(&req.Image, "image", "", "container image with the agent (default from config)")
	f.StringVar(&req.Backend, "backend", "", "where to run: docker or kubernetes (default from config)")
	f.BoolVar(&req.Print, "print", false, "one-shot: print the agent's answer and exit with its exit code")
	f.Float64Var(&req.CPUs, "cpus", 0, "CPU limit, e.g. 2 or 0.5")
	f.StringVar(&req.Memory, "memory", "", "memory limit, e.g. 2g or 512m")
	f.StringVar(&access, "access-mode", "", "read-write (default) or read-only on credentialed hosts")
	f.StringVar(&allow, "allow", "", "extra hosts the session may reach, comma-separated")
	f.BoolVar(&attach, "attach", false, "attach to the session's terminal right away")
	f.BoolVar(&asJSON, "json", false, "print the created session as JSON")
	_ = cmd.RegisterFlagCompletionFunc("agent", cobra.FixedCompletions(clauderon.AgentNames(), cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.RegisterFlagCompletionFunc("access-mode", cobra.FixedCompletions([]string{"read-write", "read-only"}, cobra.ShellCompDirectiveNoFileComp))
	_ = cmd.MarkFlagDirname("repo")
	return cmd
}

// streamPrint copies a print session's output as it comes, then exits with
// the agent's exit code.
func streamPrint(ctx context.Context, c Client, env *Env, name string) error {
	logs, err := c.Logs(ctx, name, true)
	if err != nil {
		return err
	}
	_, copyErr := io.Copy(env.Stdout, logs)
	logs.Close()
	if copyErr != nil && ctx.Err() != nil {
		return ctx.Err()
	}
	s, err := c.Wait(ctx, name)
	if err != nil {
		return err
	}
	if s.ExitCode != nil && *s.ExitCode != 0 {
		return &ExitError{Code: *s.ExitCode}
	}
	return nil
}
