package cli

import (
	"context"
	"io"
)

// Attach gives the session name the terminal behind stdin and stdout, as
// `clauderon attach` does (raw mode, resize, Ctrl-P Ctrl-Q to detach), until
// the user detaches or the session ends. The TUI uses it so that attaching
// from the list behaves exactly like the command.
func Attach(ctx context.Context, c Client, stdin io.Reader, stdout, stderr io.Writer, name string) error {
	return runAttach(ctx, c, &Env{Stdin: stdin, Stdout: stdout, Stderr: stderr}, name)
}
