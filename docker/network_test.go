package docker_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/docker"
	"github.com/clauderon/clauderon/internal/fakeprovider"
)

// TestEnsureNetwork checks the network is created once, reused after, and
// that its gateway is an address of this host the daemon can listen on.
func TestEnsureNetwork(t *testing.T) {
	t.Parallel()
	mustBackend(t) // skips or fails when there is no engine
	name := "clauderon-" + uniqueName(t)
	b, err := docker.New(testContext(t), docker.Options{Network: name})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.RemoveNetwork(context.Background(), name); err != nil {
			t.Errorf("remove network %s: %v", name, err)
		}
		b.Close()
	})
	ctx := testContext(t)
	gw, err := b.EnsureNetwork(ctx)
	if err != nil {
		t.Fatal(err)
	}
	again, err := b.EnsureNetwork(ctx)
	if err != nil || again != gw {
		t.Fatalf("second EnsureNetwork: %v, %v; want %v", again, err, gw)
	}
	if !hostHasAddr(t, gw) {
		t.Fatalf("gateway %v is not an address of this host", gw)
	}
	ln, err := net.Listen("tcp", netip.AddrPortFrom(gw, 0).String())
	if err != nil {
		t.Fatalf("listen on the gateway: %v", err)
	}
	ln.Close()

	internal, err := docker.New(ctx, docker.Options{Network: name, InternalNetwork: true})
	if err != nil {
		t.Fatal(err)
	}
	defer internal.Close()
	// An older clauderon's non-internal network that no container uses is
	// recreated as internal, with traffic between containers off.
	if _, err := internal.EnsureNetwork(ctx); err != nil {
		t.Fatalf("migrate to internal: %v", err)
	}
	info, found, err := internal.LookupNetworkInfo(ctx)
	if err != nil || !found || !info.Internal {
		t.Fatalf("after migration: %+v found=%v err=%v; want an internal network", info, found, err)
	}
	if !strings.HasPrefix(info.Bridge, "br-") || !info.Subnet.Contains(info.Gateway) {
		t.Fatalf("network info %+v: want a br- bridge and the gateway in the subnet", info)
	}
}

// TestEnsureNetworkSettlesDuplicates recreates what two daemons racing to
// create the network leave on a 20.10 engine: two networks of one name.
// EnsureNetwork keeps the older and removes the younger.
func TestEnsureNetworkSettlesDuplicates(t *testing.T) {
	t.Parallel()
	mustBackend(t)
	name := "clauderon-" + uniqueName(t)
	ctx := testContext(t)
	b, err := docker.New(ctx, docker.Options{Network: name})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	first, err := b.CreateNetworkUnchecked(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.RemoveNetwork(context.Background(), first) })
	second, err := b.CreateNetworkUnchecked(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.RemoveNetwork(context.Background(), second) })
	if ids, _ := b.NetworkIDs(ctx, name); len(ids) != 2 {
		t.Skipf("this engine refuses a second network named %s (API 1.44+): nothing to settle", name)
	}
	if _, err := b.EnsureNetwork(ctx); err != nil {
		t.Fatal(err)
	}
	ids, err := b.NetworkIDs(ctx, name)
	if err != nil || len(ids) != 1 || ids[0] != first {
		t.Fatalf("networks named %s after EnsureNetwork: %v, %v; want only %s", name, ids, err, first)
	}
}

func hostHasAddr(t *testing.T, a netip.Addr) bool {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, ia := range addrs {
		if p, err := netip.ParsePrefix(ia.String()); err == nil && p.Addr() == a {
			return true
		}
	}
	return false
}

// TestProxyHostReachesGateway runs the agent against a TLS server listening
// on the network's gateway, the way the daemon's proxy does: the container
// resolves ProxyHost to the gateway, trusts the CA placed in it, and sends
// its placeholder credential.
func TestProxyHostReachesGateway(t *testing.T) {
	t.Parallel()
	b := mustBackend(t)
	ctx := testContext(t)
	gw, err := b.EnsureNetwork(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const proxyHost = "proxy.clauderon.internal"
	p := fakeprovider.MustStart(t, fakeprovider.Config{
		Addr:  netip.AddrPortFrom(gw, 0).String(),
		Hosts: []string{proxyHost},
	})
	_, port, _ := net.SplitHostPort(p.Addr())
	spec := baseSpec(t, b, "claude", "--dangerously-skip-permissions", "--print", "--verbose", "hello from the container")
	spec.ProxyHost = proxyHost
	spec.Env = []string{
		"CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-clauderon-proxy-placeholder",
		"ANTHROPIC_BASE_URL=https://" + proxyHost + ":" + port,
		"SSL_CERT_FILE=" + clauderon.ContainerCAPath,
	}
	spec.Files = []clauderon.SpecFile{{Path: clauderon.ContainerCAPath, Data: p.CAPEM(), Mode: 0o644}}
	code, out := runToExit(t, b, spec)
	if code != 0 || out != "fake-provider says: hello from the container\n" {
		t.Fatalf("exit %d, output %q", code, out)
	}
	reqs := p.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	r := reqs[0]
	if r.Authorization != "Bearer sk-ant-oat01-clauderon-proxy-placeholder" || r.SNI != proxyHost || !strings.HasPrefix(r.Host, proxyHost+":") {
		t.Fatalf("provider saw %+v", r)
	}
}
