package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"syscall"
	"time"
)

// errForbiddenAddr is returned when a destination resolves to an address a
// container must not reach through the proxy: the host's own loopback (where
// the daemon's API and other local services listen), link-local addresses
// (cloud metadata endpoints), private networks (the LAN, other containers),
// and unspecified or multicast addresses.
var errForbiddenAddr = errors.New("destination address not allowed")

// newTransport builds the transport of plain-HTTP requests and protocol
// switches (intercepted requests have their own client, see upstream.go). It
// keeps no idle connection: one would be shared by every session, and a
// connection one session may open (to a private address its rules allow)
// must not serve another. It never consults proxy environment variables, and
// it does not ask for compression, so the leak guard sees bodies as sent.
func (p *Proxy) newTransport() *http.Transport {
	return &http.Transport{
		DialContext: p.dial,
		TLSClientConfig: &tls.Config{
			RootCAs:    p.cfg.UpstreamRoots,
			MinVersion: tls.VersionTLS12,
		},
		DisableKeepAlives:      true,
		TLSHandshakeTimeout:    HandshakeTimeout,
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: MaxHeaderBytes,
	}
}

// resolvedDialer dials addresses the operator named in Config.Resolve.
var resolvedDialer = &net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}

// dial connects to addr ("host:port"), honouring Config.Resolve. Every other
// address is checked after DNS resolution, at connect time (checkAddr), so a
// name that resolves to 127.0.0.1 or 10.0.0.1 is caught too (DNS rebinding).
func (p *Proxy) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if to, ok := p.cfg.Resolve[addr]; ok {
		return resolvedDialer.DialContext(ctx, network, to)
	}
	d := net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second,
		ControlContext: func(ctx context.Context, _, address string, _ syscall.RawConn) error {
			return p.checkAddr(ctx, address)
		}}
	return d.DialContext(ctx, network, addr)
}

// checkAddr refuses unspecified and multicast addresses always, and
// loopback, link-local, private (RFC 1918, RFC 4193 ULA), shared (RFC 6598)
// and NAT64-embedded private addresses unless Config.AllowAddr lets the
// exchange's session reach that address (a rule naming it explicitly).
func (p *Proxy) checkAddr(ctx context.Context, address string) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return errForbiddenAddr
	}
	a := ap.Addr().WithZone("").Unmap()
	if a.IsUnspecified() || a.IsMulticast() || a.IsInterfaceLocalMulticast() || a.IsLinkLocalMulticast() {
		return errForbiddenAddr
	}
	if !internalAddr(a) {
		return nil
	}
	if ex := exchangeFrom(ctx); ex != nil && p.cfg.AllowAddr != nil && p.cfg.AllowAddr(ex.id, a) {
		return nil
	}
	return errForbiddenAddr
}

var (
	sharedSpace = netip.MustParsePrefix("100.64.0.0/10") // RFC 6598 carrier-grade NAT
	thisNetwork = netip.MustParsePrefix("0.0.0.0/8")
	nat64       = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052: the low 32 bits are an IPv4 address
)

// internalAddr reports whether a belongs to the host or a private network
// rather than the internet.
func internalAddr(a netip.Addr) bool {
	if nat64.Contains(a) {
		b := a.As16()
		a = netip.AddrFrom4([4]byte(b[12:]))
	}
	return a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsPrivate() ||
		sharedSpace.Contains(a) || thisNetwork.Contains(a)
}
