// Package cli is clauderon's command line for people and scripts: one file per
// subcommand, each a thin layer over the daemon's API. It never touches Docker,
// the store or the proxy itself; cmd/clauderon adds the commands that run
// those (daemon, proxy) and hands this package a client for the rest.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/clauderon/clauderon"
)

// Client is what the CLI needs from the daemon.
type Client interface {
	clauderon.SessionService
	Audit(ctx context.Context, f clauderon.AuditFilter) ([]clauderon.AuditEvent, error)
	FollowAudit(ctx context.Context, f clauderon.AuditFilter, fn func(clauderon.AuditEvent) error) error
}

// Env is the outside world of a command: streams and the daemon client, so
// tests can run commands in-process.
type Env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Client connects to the daemon; it is called only by commands that need it.
	Client func() (Client, error)
	Now    func() time.Time
}

// ExitError asks main to exit with Code without printing anything more (the
// agent's own exit code in print mode).
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// AddCommands adds the daemon-client commands to root.
func AddCommands(root *cobra.Command, env *Env) {
	if env.Now == nil {
		env.Now = time.Now
	}
	root.AddCommand(
		createCmd(env), listCmd(env), attachCmd(env), logsCmd(env), statusCmd(env),
		startCmd(env), stopCmd(env), archiveCmd(env), unarchiveCmd(env), deleteCmd(env),
		reconcileCmd(env), proxyEnvCmd(env), setAccessModeCmd(env), pullCmd(env),
	)
}

// PrintError writes err the way users should see it: the message alone for an
// application error, which already says what to do.
func PrintError(w io.Writer, err error) int {
	var exit *ExitError
	if errors.As(err, &exit) {
		return exit.Code
	}
	fmt.Fprintf(w, "clauderon: %s\n", message(err))
	return 1
}

func message(err error) string {
	var e *clauderon.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// sessionArg is the argument check for commands taking one session name.
func sessionArg(cmd *cobra.Command, args []string) error {
	if len(args) != 1 {
		return clauderon.Errorf(clauderon.EINVALID, "%s needs exactly one session name: clauderon %s NAME", cmd.Name(), cmd.Name())
	}
	return nil
}

// completeSessions offers session names for shell completion.
func completeSessions(env *Env) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, _ string) ([]string, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		c, err := env.Client()
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		ss, err := c.List(cmd.Context(), clauderon.SessionFilter{Archived: true})
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		names := make([]string, 0, len(ss))
		for _, s := range ss {
			names = append(names, s.Name)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	}
}

// fdOf returns the file descriptor behind r, when r is a file.
func fdOf(r io.Reader) (int, bool) {
	f, ok := r.(*os.File)
	if !ok {
		return 0, false
	}
	return int(f.Fd()), true
}
