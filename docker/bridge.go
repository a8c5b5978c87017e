package docker

import (
	"context"
	"net/netip"

	"github.com/clauderon/clauderon"
	"github.com/moby/moby/api/types/network"
)

// NetworkInfo is what the host firewall needs to know about the sessions'
// network: the bridge interface on the host, the subnet and the gateway.
type NetworkInfo struct {
	ID       string
	Bridge   string // host interface, "br-" + the first 12 digits of ID unless the network names one
	Subnet   netip.Prefix
	Gateway  netip.Addr
	Internal bool
}

// EnsureNetworkInfo is EnsureNetwork, returning the whole NetworkInfo.
func (b *Backend) EnsureNetworkInfo(ctx context.Context) (NetworkInfo, error) {
	n, err := b.ensureNetwork(ctx)
	if err != nil {
		return NetworkInfo{}, err
	}
	return networkInfo(n)
}

// LookupNetworkInfo describes the network if it exists, without creating or
// changing it (for `clauderon doctor`).
func (b *Backend) LookupNetworkInfo(ctx context.Context) (NetworkInfo, bool, error) {
	n, found, err := b.findNetwork(ctx)
	if err != nil || !found {
		return NetworkInfo{}, found, err
	}
	info, err := networkInfo(n)
	return info, true, err
}

func networkInfo(n network.Network) (NetworkInfo, error) {
	gw, err := gateway(n)
	if err != nil {
		return NetworkInfo{}, err
	}
	info := NetworkInfo{ID: n.ID, Bridge: n.Options["com.docker.network.bridge.name"], Gateway: gw, Internal: n.Internal}
	if info.Bridge == "" && len(n.ID) >= 12 {
		info.Bridge = "br-" + n.ID[:12]
	}
	for _, c := range n.IPAM.Config {
		if c.Subnet.Addr().Is4() && c.Subnet.Contains(gw) {
			info.Subnet = c.Subnet.Masked()
		}
	}
	if !info.Subnet.IsValid() {
		return info, clauderon.Errorf(clauderon.EUNAVAILABLE, "Docker network %q has no IPv4 subnet holding its gateway %v: remove it with `docker network rm %s`", n.Name, gw, n.Name)
	}
	return info, nil
}
