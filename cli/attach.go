package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/clauderon/clauderon"
)

// detachKeys is the sequence that leaves a session running: Ctrl-P Ctrl-Q,
// as with docker attach, so muscle memory carries over.
var detachKeys = []byte{0x10, 0x11}

func attachCmd(env *Env) *cobra.Command {
	return &cobra.Command{
		Use:               "attach NAME",
		Short:             "Connect your terminal to an interactive session (detach: Ctrl-P Ctrl-Q)",
		Args:              sessionArg,
		ValidArgsFunction: completeSessions(env),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := env.Client()
			if err != nil {
				return err
			}
			return runAttach(cmd.Context(), c, env, args[0])
		},
	}
}

// runAttach gives the session the user's terminal, raw, until the session
// ends or the user presses the detach keys.
func runAttach(ctx context.Context, c Client, env *Env, name string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	t, err := c.Attach(ctx, name)
	if err != nil {
		return err
	}
	defer t.Close()

	if fd, ok := fdOf(env.Stdin); ok && term.IsTerminal(fd) {
		old, err := term.MakeRaw(fd)
		if err != nil {
			return fmt.Errorf("put the terminal in raw mode: %w", err)
		}
		defer term.Restore(fd, old)
		stopResize := forwardResize(ctx, t, fd)
		defer stopResize()
	}
	fmt.Fprintf(env.Stderr, "[attached to %s; detach with Ctrl-P Ctrl-Q]\r\n", name)

	out := make(chan error, 1)
	go func() {
		_, err := io.Copy(env.Stdout, t)
		out <- err
	}()
	in := make(chan error, 1)
	go func() { in <- copyUntilDetach(t, env.Stdin) }()

	select {
	case <-out: // the session's terminal closed: the agent exited
		fmt.Fprintf(env.Stderr, "\r\n[session %s ended]\r\n", name)
		return nil
	case err := <-in:
		if err == errDetached {
			fmt.Fprintf(env.Stderr, "\r\n[detached from %s: it keeps running; 'clauderon attach %s' to come back]\r\n", name, name)
			return nil
		}
		// Our stdin ended (a pipe): wait for the session to finish its output.
		select {
		case <-out:
		case <-ctx.Done():
		}
		return nil
	case <-ctx.Done():
		return nil
	}
}

var errDetached = clauderon.Errorf(clauderon.EINVALID, "detached")

// copyUntilDetach copies keystrokes to the session, holding back a possible
// start of the detach sequence until the next key shows whether it is one.
func copyUntilDetach(w io.Writer, r io.Reader) error {
	buf := make([]byte, 4096)
	var held []byte
	for {
		n, err := r.Read(buf)
		if n > 0 {
			data := append(held, buf[:n]...)
			held = nil
			if i := bytes.Index(data, detachKeys); i >= 0 {
				if i > 0 {
					if _, werr := w.Write(data[:i]); werr != nil {
						return werr
					}
				}
				return errDetached
			}
			if data[len(data)-1] == detachKeys[0] {
				held = []byte{detachKeys[0]}
				data = data[:len(data)-1]
			}
			if len(data) > 0 {
				if _, werr := w.Write(data); werr != nil {
					return werr
				}
			}
		}
		if err != nil {
			if len(held) > 0 {
				_, _ = w.Write(held)
			}
			return err
		}
	}
}

// forwardResize sends the terminal's size now and on every SIGWINCH.
func forwardResize(ctx context.Context, t clauderon.Terminal, fd int) func() {
	send := func() {
		if w, h, err := term.GetSize(fd); err == nil && w > 0 && h > 0 {
			_ = t.Resize(ctx, uint16(w), uint16(h))
		}
	}
	send()
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGWINCH)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-ch:
				send()
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() { signal.Stop(ch); close(done) }
}
