package docker

import (
	"cmp"
	"context"
	"net/netip"
	"slices"
	"strconv"

	"github.com/clauderon/clauderon"
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
	n, err := b.ensureNetwork(ctx)
	if err != nil {
		return netip.Addr{}, err
	}
	return gateway(n)
}

// ensureNetwork finds or creates the network and returns it. Engines before
// API 1.44 (Debian's 20.10) create a second network with a taken name when
// two creates race, after which the name is ambiguous. So every caller looks
// the network up by listing, settles on the oldest one of that name and
// removes the younger ones, and containers join it by id, never by name.
func (b *Backend) ensureNetwork(ctx context.Context) (network.Network, error) {
	b.netMu.Lock() // one create at a time in this process
	defer b.netMu.Unlock()
	return b.ensureNetworkLocked(ctx, true)
}

// ensureNetworkLocked is ensureNetwork under netMu; migrate is false after a
// migration, so a network that keeps coming back wrong is an error instead
// of a loop.
func (b *Backend) ensureNetworkLocked(ctx context.Context, migrate bool) (network.Network, error) {
	name := b.opts.Network
	n, found, err := b.findNetwork(ctx)
	if err != nil {
		return n, err
	}
	if !found {
		res, err := b.cli.NetworkCreate(ctx, name, client.NetworkCreateOptions{
			Driver:   "bridge",
			Internal: b.opts.InternalNetwork,
			Labels:   map[string]string{clauderon.LabelManaged: "true"},
			Options:  b.bridgeOptions(),
		})
		if err != nil {
			return n, b.wrap(err, "create network "+name)
		}
		b.log.Info("created network", "network", name, "id", shortID(res.ID))
		if n, found, err = b.findNetwork(ctx); err != nil {
			return n, err
		}
		if !found {
			return n, clauderon.Errorf(clauderon.EUNAVAILABLE, "Docker network %q vanished right after it was created: is another program removing it?", name)
		}
	}
	if n.Driver != "bridge" {
		return n, clauderon.Errorf(clauderon.ECONFLICT, "Docker network %q uses the %s driver, clauderon needs a bridge: remove it with `docker network rm %s`", name, n.Driver, name)
	}
	if migrate && (n.Internal != b.opts.InternalNetwork || iccEnabled(n) != (b.bridgeOptions() == nil)) {
		if err := b.migrateNetwork(ctx, n); err != nil {
			return n, err
		}
		return b.ensureNetworkLocked(ctx, false)
	}
	if n.Internal != b.opts.InternalNetwork {
		return n, clauderon.Errorf(clauderon.ECONFLICT, "Docker network %q keeps internal=%t after it was recreated: is another program creating it? Remove it with `docker network rm %s`", name, n.Internal, name)
	}
	return n, nil
}

// iccKey is the bridge driver's option for traffic between containers on
// the same network.
const iccKey = "com.docker.network.bridge.enable_icc"

// bridgeOptions are the driver options of a new network: an internal
// network also keeps its containers from reaching each other (sessions are
// isolated from one another as from the outside).
func (b *Backend) bridgeOptions() map[string]string {
	if !b.opts.InternalNetwork {
		return nil
	}
	return map[string]string{iccKey: "false"}
}

func iccEnabled(n network.Network) bool { return n.Options[iccKey] != "false" }

// migrateNetwork removes a clauderon network created with other isolation
// settings (an older clauderon made it non-internal) so it can be created
// again. A network that containers still use is left alone: the error says
// how to free it.
func (b *Backend) migrateNetwork(ctx context.Context, n network.Network) error {
	name := b.opts.Network
	ins, err := b.cli.NetworkInspect(ctx, n.ID, client.NetworkInspectOptions{})
	if err != nil {
		return b.wrap(err, "inspect network "+name)
	}
	if c := len(ins.Network.Containers); c > 0 {
		return clauderon.Errorf(clauderon.ECONFLICT, "Docker network %q has internal=%t, clauderon wants internal=%t, and %d container(s) still use it: stop and delete those sessions (`clauderon list`) or disconnect them (`docker network inspect %s`), then start the daemon again, which recreates it", name, n.Internal, b.opts.InternalNetwork, c, name)
	}
	if _, err := b.cli.NetworkRemove(ctx, n.ID, client.NetworkRemoveOptions{}); err != nil {
		return b.wrap(err, "remove network "+name+" to recreate it with internal="+strconv.FormatBool(b.opts.InternalNetwork))
	}
	b.log.Info("recreating network with new isolation settings", "network", name, "internal", b.opts.InternalNetwork)
	return nil
}

// findNetwork returns the oldest network named exactly Options.Network and
// removes younger duplicates (best effort: one in use stays).
func (b *Backend) findNetwork(ctx context.Context) (network.Network, bool, error) {
	name := b.opts.Network
	res, err := b.cli.NetworkList(ctx, client.NetworkListOptions{Filters: make(client.Filters).Add("name", name)})
	if err != nil {
		return network.Network{}, false, b.wrap(err, "list networks")
	}
	var same []network.Network
	for _, s := range res.Items {
		if s.Name == name { // the filter also matches substrings
			same = append(same, s.Network)
		}
	}
	if len(same) == 0 {
		return network.Network{}, false, nil
	}
	slices.SortFunc(same, func(x, y network.Network) int {
		return cmp.Or(x.Created.Compare(y.Created), cmp.Compare(x.ID, y.ID))
	})
	for _, dup := range same[1:] {
		_, err := b.cli.NetworkRemove(ctx, dup.ID, client.NetworkRemoveOptions{})
		b.log.Warn("removed duplicate network", "network", name, "id", shortID(dup.ID), "err", err)
	}
	return same[0], true, nil
}

// gateway picks the network's IPv4 gateway. When IPAM left it out, Docker's
// bridge driver uses the subnet's first address, and so does this.
func gateway(n network.Network) (netip.Addr, error) {
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
