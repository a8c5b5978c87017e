package docker

import (
	"context"
	"sync"

	"github.com/clauderon/clauderon"
	"github.com/moby/moby/client"
)

// Attach connects to the terminal of an interactive (TTY) container: reads
// return what the agent draws, writes are its keyboard input. Output written
// before the attach is not replayed; a Resize makes full-screen agents
// redraw. Docker's default detach keys (ctrl-p ctrl-q) end the attachment
// without stopping the agent. ctx bounds the attaching, not the terminal,
// which lasts until Close or the container's end. A print-mode container has
// no terminal: EINVALID says to use logs.
func (b *Backend) Attach(ctx context.Context, id string) (clauderon.Terminal, error) {
	c, err := b.inspect(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Config == nil || !c.Config.Tty {
		return nil, clauderon.Errorf(clauderon.EINVALID, "container %s runs in print mode and has no terminal: read its output with `clauderon logs`", shortID(id))
	}
	res, err := b.cli.ContainerAttach(ctx, id, client.ContainerAttachOptions{
		Stream: true,
		Stdin:  true,
		Stdout: true,
		Stderr: true,
	})
	if err != nil {
		return nil, b.wrapContainer(err, "attach to container", id)
	}
	return &terminal{b: b, id: id, hijack: res.HijackedResponse}, nil
}

// terminal is an attached container TTY over the engine's hijacked HTTP
// connection. Read and Write may be used from different goroutines; Close
// unblocks a pending Read.
type terminal struct {
	b      *Backend
	id     string
	hijack client.HijackedResponse
	once   sync.Once
}

func (t *terminal) Read(p []byte) (int, error) { return t.hijack.Reader.Read(p) }

func (t *terminal) Write(p []byte) (int, error) { return t.hijack.Conn.Write(p) }

// Resize sets the terminal size the agent sees (SIGWINCH in the container).
func (t *terminal) Resize(ctx context.Context, cols, rows uint16) error {
	_, err := t.b.cli.ContainerResize(ctx, t.id, client.ContainerResizeOptions{Width: uint(cols), Height: uint(rows)})
	return t.b.wrapContainer(err, "resize terminal of container", t.id)
}

// Close detaches; the agent keeps running.
func (t *terminal) Close() error {
	t.once.Do(t.hijack.Close)
	return nil
}
