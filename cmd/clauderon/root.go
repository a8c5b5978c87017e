package main

import (
	"io"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/clauderon/clauderon/cli"
	"github.com/clauderon/clauderon/config"
	"github.com/clauderon/clauderon/httpapi"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type stdio struct {
	in       io.Reader
	out, err io.Writer
}

// globals are the flags every command shares.
type globals struct {
	home string
}

// Home returns $CLAUDERON_HOME (or --home), created 0700.
func (g *globals) Home() (string, error) {
	h := g.home
	if h == "" {
		var err error
		if h, err = config.Home(); err != nil {
			return "", err
		}
	}
	h, err := filepath.Abs(h)
	if err != nil {
		return "", err
	}
	return h, os.MkdirAll(h, 0o700)
}

// SocketPath is where the daemon's API listens.
func (g *globals) SocketPath() (string, error) {
	h, err := g.Home()
	if err != nil {
		return "", err
	}
	return filepath.Join(h, "clauderon.sock"), nil
}

func newRoot(io stdio) *cobra.Command {
	g := &globals{}
	root := &cobra.Command{
		Use:   "clauderon",
		Short: "Run coding agents in containers that hold zero real credentials",
		Long: `clauderon runs AI coding agents (Claude Code, Codex, Gemini CLI) in containers
that hold only placeholder credentials. A host-side proxy adds the real ones,
only on requests to the hosts that own them, and writes every request to an
audit log.

Start the daemon with 'clauderon daemon' (or 'make run'), then
'clauderon create --name NAME --prompt PROMPT'.`,
		Version:       version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(io.in)
	root.SetOut(io.out)
	root.SetErr(io.err)
	root.PersistentFlags().StringVar(&g.home, "home", "", "clauderon's state directory (default $CLAUDERON_HOME or ~/.clauderon)")
	env := &cli.Env{
		Stdin: io.in, Stdout: io.out, Stderr: io.err,
		Client: func() (cli.Client, error) {
			sock, err := g.SocketPath()
			if err != nil {
				return nil, err
			}
			return httpapi.NewClient(sock), nil
		},
	}
	cli.AddCommands(root, env)
	root.AddCommand(daemonCmd(g, io), proxyCmd(g, io), auditCmd(g, io), configCmd(g, io), webCmd(g, io), tuiCmd(g))
	root.AddCommand(doctorCmd(g, io), doctorProbeCmd(io))
	root.AddCommand(selftestCmd(g, io))
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return flagError{cmd: cmd, err: err}
	})
	return root
}

// flagError is a bad flag: the message plus where to find the right ones.
type flagError struct {
	cmd *cobra.Command
	err error
}

func (e flagError) Error() string {
	return e.err.Error() + " (see 'clauderon " + e.cmd.Name() + " --help')"
}
