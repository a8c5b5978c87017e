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

// CreateNetworkUnchecked creates a network the way a racing second daemon
// would on an engine before API 1.44: a name already taken gives a second
// network of that name. It returns the new network's id.
func (b *Backend) CreateNetworkUnchecked(ctx context.Context, name string) (string, error) {
	res, err := b.cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{Driver: "bridge"})
	return res.ID, err
}

// NetworkIDs lists the ids of the networks named exactly name.
func (b *Backend) NetworkIDs(ctx context.Context, name string) ([]string, error) {
	res, err := b.cli.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("name", name)})
	var ids []string
	for _, n := range res.Items {
		if n.Name == name {
			ids = append(ids, n.ID)
		}
	}
	return ids, err
}

// RemoveImage lets tests delete the images they build.
func (b *Backend) RemoveImage(ctx context.Context, ref string) error {
	_, err := b.cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{Force: true})
	return err
}
