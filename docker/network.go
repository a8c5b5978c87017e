package docker

import (
	"context"
	"net/netip"

	"github.com/clauderon/clauderon"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// EnsureNetwork creates the sessions' bridge network, or reuses it, and
// returns its gateway address on the host. The daemon listens its proxy on
// that address (and loopback): containers on the network reach it there, and
// nothing outside the host does, unlike listening on every interface.
//
// Docker's "host-gateway" would map to docker0's address instead, which is
// not on this network; Create maps SessionSpec.ProxyHost to this gateway.
func (b *Backend) EnsureNetwork(ctx context.Context) (netip.Addr, error) {
	name := b.opts.Network
	res, err := b.cli.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	if cerrdefs.IsNotFound(err) {
		_, err = b.cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{
			Driver:   "bridge",
			Internal: b.opts.InternalNetwork,
			Labels:   map[string]string{clauderon.LabelManaged: "true"},
		})
		// Another daemon call may have created it meanwhile: then it exists.
		if err != nil && !cerrdefs.IsConflict(err) {
			return netip.Addr{}, b.wrap(err, "create network "+name)
		}
		b.log.Info("created network", "network", name)
		res, err = b.cli.NetworkInspect(ctx, name, client.NetworkInspectOptions{})
	}
	if err != nil {
		return netip.Addr{}, b.wrap(err, "inspect network "+name)
	}
	n := res.Network
	if n.Driver != "bridge" {
		return netip.Addr{}, clauderon.Errorf(clauderon.ECONFLICT, "Docker network %q uses the %s driver, clauderon needs a bridge: remove it with `docker network rm %s`", name, n.Driver, name)
	}
	if n.Internal != b.opts.InternalNetwork {
		return netip.Addr{}, clauderon.Errorf(clauderon.ECONFLICT, "Docker network %q has internal=%t, clauderon wants internal=%t: stop its sessions and remove it with `docker network rm %s`", name, n.Internal, b.opts.InternalNetwork, name)
	}
	return gateway(n)
}

// gateway picks the network's IPv4 gateway. When IPAM left it out, Docker's
// bridge driver uses the subnet's first address, and so does this.
func gateway(n network.Inspect) (netip.Addr, error) {
	for _, c := range n.IPAM.Config {
		if c.Gateway.Is4() {
			return c.Gateway, nil
		}
	}
	for _, c := range n.IPAM.Config {
		if c.Subnet.Addr().Is4() {
			return c.Subnet.Masked().Addr().Next(), nil
		}
	}
	return netip.Addr{}, clauderon.Errorf(clauderon.EUNAVAILABLE, "Docker network %q has no IPv4 gateway: remove it with `docker network rm %s` and let clauderon recreate it", n.Name, n.Name)
}
