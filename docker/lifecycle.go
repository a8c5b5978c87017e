package docker

import (
	"context"
	"fmt"

	"github.com/clauderon/clauderon"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
)

// Start starts a stopped container; starting a running one is no error.
func (b *Backend) Start(ctx context.Context, id string) error {
	_, err := b.cli.ContainerStart(ctx, id, client.ContainerStartOptions{})
	return b.wrapContainer(err, "start container", id)
}

// Stop sends SIGTERM (through the init process, to the agent) and kills the
// container when it has not exited after Options.StopTimeout. Stopping a
// stopped container is no error.
func (b *Backend) Stop(ctx context.Context, id string) error {
	secs := int(b.opts.StopTimeout.Seconds())
	_, err := b.cli.ContainerStop(ctx, id, client.ContainerStopOptions{Timeout: &secs})
	return b.wrapContainer(err, "stop container", id)
}

// Remove deletes the container, running or not, with its anonymous volumes.
// A container that is already gone is no error.
func (b *Backend) Remove(ctx context.Context, id string) error {
	_, err := b.cli.ContainerRemove(ctx, id, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if cerrdefs.IsNotFound(err) {
		return nil
	}
	return b.wrapContainer(err, "remove container", id)
}

// Inspect returns the container's state; ENOTFOUND when it is gone.
func (b *Backend) Inspect(ctx context.Context, id string) (clauderon.BackendState, error) {
	c, err := b.inspect(ctx, id)
	if err != nil {
		return clauderon.BackendState{}, err
	}
	st := clauderon.BackendState{ID: c.ID}
	if c.State != nil {
		st.Running = c.State.Running || c.State.Restarting || c.State.Paused
		st.ExitCode = c.State.ExitCode
		st.Error = c.State.Error
		if c.State.OOMKilled && st.Error == "" {
			st.Error = "the agent ran out of memory: give the session more with --memory"
		}
	}
	return st, nil
}

func (b *Backend) inspect(ctx context.Context, id string) (container.InspectResponse, error) {
	res, err := b.cli.ContainerInspect(ctx, id, client.ContainerInspectOptions{})
	if err != nil {
		return container.InspectResponse{}, b.wrapContainer(err, "inspect container", id)
	}
	return res.Container, nil
}

// Wait blocks until the container is not running and returns its exit code.
// A container that already exited returns at once. ctx ends the wait, not
// the container.
func (b *Backend) Wait(ctx context.Context, id string) (int, error) {
	w := b.cli.ContainerWait(ctx, id, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-w.Result:
		if r.Error != nil && r.Error.Message != "" {
			return int(r.StatusCode), fmt.Errorf("wait for container %s: %s", shortID(id), r.Error.Message)
		}
		return int(r.StatusCode), nil
	case err := <-w.Error:
		return 0, b.wrapContainer(err, "wait for container", id)
	}
}
