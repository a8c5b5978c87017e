package docker

import (
	"context"
	"io"

	"github.com/clauderon/clauderon"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
)

// Logs streams the container's output from its start. With follow it goes on
// until the container stops or ctx ends. A TTY container's output is the raw
// terminal stream; otherwise stdout and stderr arrive interleaved as one
// stream, in the order the engine recorded them.
func (b *Backend) Logs(ctx context.Context, id string, follow bool) (clauderon.LogStream, error) {
	c, err := b.inspect(ctx, id)
	if err != nil {
		return nil, err
	}
	rc, err := b.cli.ContainerLogs(ctx, id, client.ContainerLogsOptions{
		ShowStdout: true,
		ShowStderr: true,
		Follow:     follow,
	})
	if err != nil {
		return nil, b.wrapContainer(err, "read logs of container", id)
	}
	if c.Config != nil && c.Config.Tty {
		return rc, nil
	}
	return demux(rc), nil
}

// demux turns Docker's multiplexed stdout/stderr framing into plain bytes.
// Closing the result closes src, which ends the copying goroutine.
func demux(src io.ReadCloser) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		_, err := stdcopy.StdCopy(pw, pw, src)
		pw.CloseWithError(err) // nil err: readers see io.EOF
	}()
	return &demuxed{PipeReader: pr, src: src}
}

type demuxed struct {
	*io.PipeReader
	src io.Closer
}

func (d *demuxed) Close() error {
	err := d.src.Close()
	d.PipeReader.Close()
	return err
}
