package docker

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/clauderon/clauderon"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// msgUnavailable is what users see when the engine cannot be reached: it
// names the two ways to start it.
const msgUnavailable = "Docker is not running: start it with `sudo systemctl start docker` (or `make run`, which starts it)"

// unavailable reports whether err means the engine could not be reached at
// all (socket missing, connection refused, daemon gone mid-call).
func unavailable(err error) bool {
	return client.IsErrConnectionFailed(err) || cerrdefs.IsUnavailable(err)
}

// wrap turns an SDK error into one a user can act on. Engine-unreachable,
// not-found and conflict errors become *clauderon.Error; anything else is
// wrapped with what was being done, and reaches users as "internal error"
// with the detail in the daemon's log. Context errors pass through so callers
// can tell a cancellation.
func (b *Backend) wrap(err error, doing string) error {
	if err == nil {
		return nil
	}
	var ce *clauderon.Error
	switch {
	case errors.As(err, &ce):
		return err
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s: %w", doing, err)
	case errors.Is(err, os.ErrPermission):
		return clauderon.Errorf(clauderon.EUNAVAILABLE, "permission denied on the Docker socket: run clauderon as root or as a member of the docker group")
	case unavailable(err):
		b.log.Debug("engine unreachable", "doing", doing, "err", err)
		return &clauderon.Error{Code: clauderon.EUNAVAILABLE, Message: msgUnavailable}
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// wrapContainer is wrap for calls on one container: not found becomes
// ENOTFOUND naming it.
func (b *Backend) wrapContainer(err error, doing, id string) error {
	if err != nil && cerrdefs.IsNotFound(err) {
		return clauderon.Errorf(clauderon.ENOTFOUND, "container %s no longer exists: it was removed outside clauderon; run `clauderon reconcile`", shortID(id))
	}
	return b.wrap(err, doing+" "+shortID(id))
}

// shortID shortens a container id the way docker ps shows it; names pass
// through.
func shortID(id string) string {
	if len(id) == 64 {
		return id[:12]
	}
	return id
}
