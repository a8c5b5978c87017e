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
// (cloud metadata endpoints) and unspecified or multicast addresses.
var errForbiddenAddr = errors.New("destination address not allowed")

// newTransport builds the one upstream transport every intercepted and plain
// request shares, so connections (HTTP/2 included) are reused across
// sessions. It never consults proxy environment variables, and it does not
// ask for compression, so the leak guard sees bodies as sent.
func (p *Proxy) newTransport() *http.Transport {
	return &http.Transport{
		DialContext: p.dial,
		TLSClientConfig: &tls.Config{
			RootCAs:    p.cfg.UpstreamRoots,
			MinVersion: tls.VersionTLS12,
		},
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           4 * MaxIdleConnsPerHost,
		MaxIdleConnsPerHost:    MaxIdleConnsPerHost,
		IdleConnTimeout:        UpstreamIdleTimeout,
		TLSHandshakeTimeout:    HandshakeTimeout,
		ExpectContinueTimeout:  time.Second,
		DisableCompression:     true,
		MaxResponseHeaderBytes: MaxHeaderBytes,
	}
}

var (
	// checkedDialer refuses forbidden addresses after DNS resolution, at
	// connect time, so a name that resolves to 127.0.0.1 is caught too.
	checkedDialer = &net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second, Control: checkAddr}
	// resolvedDialer dials addresses the operator named in Config.Resolve.
	resolvedDialer = &net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}
)

// dial connects to addr ("host:port"), honouring Config.Resolve.
func (p *Proxy) dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if to, ok := p.cfg.Resolve[addr]; ok {
		return resolvedDialer.DialContext(ctx, network, to)
	}
	return checkedDialer.DialContext(ctx, network, addr)
}

func checkAddr(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return errForbiddenAddr
	}
	a := ap.Addr().Unmap()
	if a.IsLoopback() || a.IsUnspecified() || a.IsLinkLocalUnicast() ||
		a.IsLinkLocalMulticast() || a.IsInterfaceLocalMulticast() || a.IsMulticast() {
		return errForbiddenAddr
	}
	return nil
}
