package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/docker"
	"github.com/clauderon/clauderon/firewall"
	"github.com/clauderon/clauderon/policy"
)

// installFirewall adds the host rules that leave the proxy port on the
// gateway as the only thing session containers can reach, and removes them
// at shutdown. Without root (or iptables) the daemon runs on, and says how
// exposed the host is; `clauderon doctor` says it too.
func (m *Main) installFirewall(ctx context.Context, log *slog.Logger, n docker.NetworkInfo, port int) error {
	rules, err := firewall.Install(ctx, firewall.Spec{Bridge: n.Bridge, Subnet: n.Subnet, Gateway: n.Gateway, Port: port})
	if errors.Is(err, firewall.ErrNoPrivilege) {
		log.Warn("host firewall rules NOT installed: session containers can reach every port on this host's addresses; run the daemon as root (with iptables) to close them", "reason", err.Error())
		return nil
	}
	if err != nil {
		return fmt.Errorf("install host firewall rules for %s: %w", n.Bridge, err)
	}
	m.Firewall = true
	log.Info("host firewall installed", "bridge", n.Bridge, "allowed", netip.AddrPortFrom(n.Gateway, uint16(port)).String())
	m.onClose(rules.Remove)
	return nil
}

// egressDefaults is what every session may reach besides its agent's hosts
// and its own --allow: config.toml's allow list when it is set (it replaces
// the built-in list), else policy.DefaultAllow. Config validated the entries.
func egressDefaults(allow []string) ([]clauderon.HostPattern, []netip.Prefix) {
	if allow == nil {
		return policy.DefaultAllow(), nil
	}
	hosts, addrs, _ := clauderon.ParseAllow(allow)
	return hosts, addrs
}

// proxyListeners listens on the configured address and, so containers reach
// the proxy, on the Docker network's gateway with the same port. Listening on
// the gateway rather than every interface keeps the proxy off the LAN.
func proxyListeners(listen string, gateway netip.Addr) ([]net.Listener, int, error) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, 0, clauderon.Errorf(clauderon.EINVALID, "invalid proxy address %q: want HOST:PORT, like 127.0.0.1:18080", listen)
	}
	first, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, 0, clauderon.Errorf(clauderon.EUNAVAILABLE, "cannot listen on %s: %v (is another proxy running? pick another port with --listen)", listen, err)
	}
	port := first.Addr().(*net.TCPAddr).Port
	lns := []net.Listener{first}
	if ip := net.ParseIP(host); (ip != nil && ip.IsUnspecified()) || !gateway.IsValid() {
		return lns, port, nil // already reachable on the gateway, or no Docker network
	}
	gw, err := net.Listen("tcp", netip.AddrPortFrom(gateway, uint16(port)).String())
	if err != nil {
		first.Close()
		return nil, 0, clauderon.Errorf(clauderon.EUNAVAILABLE, "cannot listen on the Docker network gateway %s port %d: %v", gateway, port, err)
	}
	return append(lns, gw), port, nil
}
