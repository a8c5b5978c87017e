package docker

import (
	"context"

	"github.com/moby/moby/client"
)

// RemoveNetwork lets tests delete the networks they create; the daemon never
// removes its network (sessions may still use it).
func (b *Backend) RemoveNetwork(ctx context.Context, name string) error {
	_, err := b.cli.NetworkRemove(ctx, name, client.NetworkRemoveOptions{})
	return err
}
