package proxy

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/clauderon/clauderon"
)

// Limits and timeouts. They bound what a hostile or broken client can make the
// proxy hold: a connection that never finishes its request head, its TLS
// handshake or stays idle forever is closed, and a request head larger than
// MaxHeaderBytes is refused before it is buffered.
const (
	// ReadHeaderTimeout bounds reading one request head, on the proxy
	// connection and inside intercepted TLS connections.
	ReadHeaderTimeout = 15 * time.Second
	// HandshakeTimeout bounds the client's TLS handshake after CONNECT.
	HandshakeTimeout = 15 * time.Second
	// IdleTimeout closes kept-alive connections with no request in flight.
	// Agents reconnect transparently; an idle TLS connection costs memory.
	IdleTimeout = 2 * time.Minute
	// MaxHeaderBytes is the largest request head accepted.
	MaxHeaderBytes = 128 << 10
	// DialTimeout bounds connecting to an upstream.
	DialTimeout = 15 * time.Second
	// MaxIdleConnsPerHost keeps enough upstream connections warm (per
	// session and host) that 64 concurrent agents on one provider do not
	// re-handshake.
	MaxIdleConnsPerHost = 128
	// UpstreamIdleTimeout drops unused upstream connections.
	UpstreamIdleTimeout = 90 * time.Second
)

// DefaultConnectPorts are the ports CONNECT may reach unless configured.
var DefaultConnectPorts = []int{443}

// Config holds the proxy's collaborators. GetCertificate, Auth, Credentials
// and Audit are required.
type Config struct {
	// GetCertificate returns the leaf certificate presented to clients for an
	// intercepted host, minted by the clauderon CA (see package pki).
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// Auth maps the token in Proxy-Authorization to a session. There is no
	// way to run without it: the proxy is never open.
	Auth clauderon.Authenticator
	// Credentials returns the current credential set. It is called for every
	// CONNECT and every intercepted request, so swapping the set (SIGHUP)
	// takes effect on the next request without dropping connections.
	Credentials func() *clauderon.CredentialSet
	// Audit receives one event per request or tunnel.
	Audit clauderon.AuditLog
	// Policy, if set, may refuse an authenticated request: CONNECTs, every
	// intercepted request and plain-HTTP requests. A refusal answers 403 with
	// clauderon.ErrorMessage(err) (return a *clauderon.Error to show the
	// reason) and is audited as denied. It runs on the request path: keep it
	// fast.
	Policy func(ctx context.Context, id clauderon.Identity, r *http.Request) error
	// AllowAddr, if set, may let a session connect to a loopback,
	// link-local or private address (after DNS resolution), which the
	// proxy otherwise refuses; see policy.Policy.AllowAddr.
	AllowAddr func(id clauderon.Identity, a netip.Addr) bool
	// UpstreamRoots verifies upstream servers; nil means the system roots.
	UpstreamRoots *x509.CertPool
	// Resolve maps "host:port" to the "addr:port" to dial instead, like
	// curl's --resolve, for intercepted requests, tunnels and plain HTTP.
	// Addresses named here may be loopback; others may not.
	Resolve map[string]string
	// ConnectPorts are the ports CONNECT may reach; nil means
	// DefaultConnectPorts.
	ConnectPorts []int
	// Logger receives operational logs (never secrets); nil discards them.
	Logger *slog.Logger
}

// Proxy is the forward proxy. Create it with New, run it with Serve and stop
// it with Shutdown. It is safe for concurrent use.
type Proxy struct {
	cfg         Config
	log         *slog.Logger
	ports       map[int]bool
	outer       *http.Server // the proxy listener: CONNECT and absolute-form requests
	rp          *httputil.ReverseProxy
	transport   *http.Transport // plain HTTP and protocol switches
	upstreams   upstreamPool    // intercepted requests, see upstream.go
	upstreamTLS *tls.Config
	tlsConf     *tls.Config
	redactors   redactorCache
	slow        slowRequests // requests whose client goneWatcher watches

	closing atomic.Bool
	mu      sync.Mutex
	conns   map[net.Conn]struct{} // hijacked connections: tunnels, intercepted TLS
}

// New validates cfg and builds a Proxy. It starts nothing.
func New(cfg Config) (*Proxy, error) {
	switch {
	case cfg.GetCertificate == nil:
		return nil, errors.New("proxy: Config.GetCertificate is required")
	case cfg.Auth == nil:
		return nil, errors.New("proxy: Config.Auth is required (the proxy is never open)")
	case cfg.Credentials == nil:
		return nil, errors.New("proxy: Config.Credentials is required")
	case cfg.Audit == nil:
		return nil, errors.New("proxy: Config.Audit is required")
	}
	ports := cfg.ConnectPorts
	if ports == nil {
		ports = DefaultConnectPorts
	}
	p := &Proxy{
		cfg:   cfg,
		log:   cfg.Logger,
		ports: map[int]bool{},
		conns: map[net.Conn]struct{}{},
	}
	for _, port := range ports {
		if port < 1 || port > 65535 {
			return nil, fmt.Errorf("proxy: invalid CONNECT port %d", port)
		}
		p.ports[port] = true
	}
	for from, to := range cfg.Resolve {
		if _, _, err := net.SplitHostPort(from); err != nil {
			return nil, fmt.Errorf("proxy: resolve %q: want HOST:PORT", from)
		}
		if _, _, err := net.SplitHostPort(to); err != nil {
			return nil, fmt.Errorf("proxy: resolve %q=%q: want ADDR:PORT", from, to)
		}
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	p.log = p.log.With("component", "proxy")
	errLog := slog.NewLogLogger(p.log.Handler(), slog.LevelDebug)

	p.transport = p.newTransport()
	p.upstreamTLS = newUpstreamTLS(cfg.UpstreamRoots)
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      p.transport,
		FlushInterval:  -1, // every write reaches the client at once: SSE
		ErrorLog:       errLog,
		BufferPool:     copyBuffers,
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.upstreamError,
	}
	p.tlsConf = &tls.Config{
		GetCertificate: p.getCertificate,
		// Agents speak HTTP/1.1 to the proxy; the upstream leg may use h2.
		NextProtos: []string{"http/1.1"},
		MinVersion: tls.VersionTLS12,
		// Small first records help a browser over a slow link render
		// early; the agent is a hop away on the same host, and each record
		// is a write(2) of its own.
		DynamicRecordSizingDisabled: true,
	}
	p.outer = &http.Server{
		Handler:           http.HandlerFunc(p.serveProxy),
		ReadHeaderTimeout: ReadHeaderTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          errLog,
	}
	return p, nil
}

// Serve accepts proxy clients on ln until Shutdown. It may be called for
// several listeners. It returns nil after Shutdown, and any other error from
// accepting.
func (p *Proxy) Serve(ln net.Listener) error {
	err := p.outer.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting, lets requests in flight finish until ctx ends,
// then closes every remaining connection (tunnels, WebSockets, streams). It
// returns ctx's error if it had to cut requests short.
func (p *Proxy) Shutdown(ctx context.Context) error {
	p.mu.Lock() // beginRequest and endRequest see closing under p.mu
	p.closing.Store(true)
	p.mu.Unlock()
	errc := make(chan error, 1)
	go func() { errc <- p.outer.Shutdown(ctx) }()
	// Intercepted connections: close the idle ones now, and the busy ones
	// as they finish their request, until none is left or ctx ends.
	var errInner error
	tick := time.NewTicker(shutdownPoll)
	for p.closeIdleIntercepted() > 0 {
		select {
		case <-ctx.Done():
			errInner = ctx.Err()
		case <-tick.C:
			continue
		}
		break
	}
	tick.Stop()
	errOuter := <-errc
	p.mu.Lock()
	conns := make([]net.Conn, 0, len(p.conns))
	for c := range p.conns {
		conns = append(conns, c)
	}
	p.mu.Unlock()
	for _, c := range conns { // outside the lock: Close untracks
		c.Close()
	}
	p.transport.CloseIdleConnections()
	p.upstreams.closeAll()
	return errors.Join(errOuter, errInner)
}

// shutdownPoll is how often Shutdown looks for intercepted connections that
// finished their request.
const shutdownPoll = 10 * time.Millisecond

// track remembers a hijacked connection so Shutdown can close it. It reports
// false (and the caller must close c) when the proxy is shutting down.
func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing.Load() {
		return false
	}
	p.conns[c] = struct{}{}
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

// credentials returns the current set, never nil.
func (p *Proxy) credentials() *clauderon.CredentialSet {
	if s := p.cfg.Credentials(); s != nil {
		return s
	}
	return clauderon.NewCredentialSet(nil)
}
