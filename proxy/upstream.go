package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"sync"
	"time"
)

// Intercepted requests reach their upstream over HTTP/1.1 connections of the
// proxy's own (see roundtrip.go), not through net/http's Transport. The
// Transport reads and writes every connection on two goroutines of its own
// and hands each request and response across channels: on a small request
// that was about a third of the proxy's CPU, in wake-ups and hand-offs. Here
// the goroutine serving the client's connection writes the request and reads
// the response itself.
//
// Idle connections wait in upstreamPool, keyed by session and target, so one
// session's connections are never handed to another (each was dialled under
// that session's address policy). While idle a connection holds no buffer.
// Nothing reads it in the background, so an upstream closing an idle
// connection is noticed in one of two ways: a request with a body (which
// cannot be sent twice) first probes the connection with a non-blocking peek;
// a request without one is simply retried on a new connection when the reused
// one fails before any of the response arrived.

// upstreamKey names the connections one session may reuse.
type upstreamKey struct {
	session string
	target  string // host:port dialled
}

// upstreamConn is one HTTP/1.1 connection to an upstream.
type upstreamConn struct {
	key    upstreamKey
	tc     *tls.Conn
	batch  *recordBatcher // between tc and raw
	raw    net.Conn       // under tc: deadlines that interrupt a blocked read
	src    connSource     // what br reads: the connection, with a head-size limit
	br     *bufio.Reader
	bw     *bufio.Writer
	idleAt time.Time
	reused bool // came from the pool: it may have been closed meanwhile
}

// attach takes pooled buffers for one exchange.
func (uc *upstreamConn) attach() {
	uc.br = readerPool.Get().(*bufio.Reader)
	uc.br.Reset(&uc.src)
	uc.bw = writerPool.Get().(*bufio.Writer)
	uc.bw.Reset(batchWriter{w: uc.tc, b: uc.batch})
}

// detach returns the buffers to their pools.
func (uc *upstreamConn) detach() {
	if uc.br != nil {
		uc.br.Reset(nil)
		readerPool.Put(uc.br)
		uc.br = nil
	}
	if uc.bw != nil {
		uc.bw.Reset(nil)
		writerPool.Put(uc.bw)
		uc.bw = nil
	}
}

// close drops the connection for good.
func (uc *upstreamConn) close() {
	uc.detach()
	// The raw connection, not tc: tls.Conn.Close would first try to send a
	// close_notify, which waits for a write that may be stuck.
	uc.raw.Close()
}

// Pool limits.
const (
	// maxIdleUpstream bounds idle connections across all keys.
	maxIdleUpstream = 4 * MaxIdleConnsPerHost
)

// upstreamPool holds idle upstream connections. It starts no goroutine of
// its own: a timer closes connections idle for UpstreamIdleTimeout.
type upstreamPool struct {
	mu     sync.Mutex
	idle   map[upstreamKey][]*upstreamConn // most recently used last
	n      int
	reaper *time.Timer // set while connections are idle
	closed bool
}

// get returns an idle connection for key, most recently used first, or nil.
// With probe, a connection the upstream has closed is skipped.
func (p *upstreamPool) get(key upstreamKey, probe bool) *upstreamConn {
	now := time.Now()
	for {
		p.mu.Lock()
		list := p.idle[key]
		if len(list) == 0 {
			p.mu.Unlock()
			return nil
		}
		uc := list[len(list)-1]
		list[len(list)-1] = nil
		if len(list) == 1 {
			delete(p.idle, key)
		} else {
			p.idle[key] = list[:len(list)-1]
		}
		p.n--
		p.mu.Unlock()
		idle := now.Sub(uc.idleAt)
		if idle < UpstreamIdleTimeout && (!probe || connAlive(uc.raw)) {
			uc.reused = true
			uc.attach()
			return uc
		}
		uc.close()
	}
}

// put keeps uc for reuse, or closes it when the pool is full or closed. The
// caller must have read the whole response, leaving nothing buffered.
func (p *upstreamPool) put(uc *upstreamConn) {
	uc.detach()
	uc.idleAt = time.Now()
	p.mu.Lock()
	if p.closed || p.n >= maxIdleUpstream || len(p.idle[uc.key]) >= MaxIdleConnsPerHost {
		p.mu.Unlock()
		uc.close()
		return
	}
	if p.idle == nil {
		p.idle = map[upstreamKey][]*upstreamConn{}
	}
	p.idle[uc.key] = append(p.idle[uc.key], uc)
	p.n++
	if p.reaper == nil {
		p.reaper = time.AfterFunc(UpstreamIdleTimeout, p.reap)
	}
	p.mu.Unlock()
}

// reap closes connections idle for UpstreamIdleTimeout, and runs again while
// any are left.
func (p *upstreamPool) reap() {
	cutoff := time.Now().Add(-UpstreamIdleTimeout)
	var stale []*upstreamConn
	p.mu.Lock()
	oldest := time.Now()
	for key, list := range p.idle {
		keep := list[:0]
		for _, uc := range list {
			if uc.idleAt.Before(cutoff) {
				stale = append(stale, uc)
				continue
			}
			keep = append(keep, uc)
			if uc.idleAt.Before(oldest) {
				oldest = uc.idleAt
			}
		}
		clear(list[len(keep):])
		if len(keep) == 0 {
			delete(p.idle, key)
		} else {
			p.idle[key] = keep
		}
	}
	p.n -= len(stale)
	if p.n > 0 && !p.closed {
		p.reaper.Reset(time.Until(oldest.Add(UpstreamIdleTimeout)))
	} else {
		p.reaper = nil
	}
	p.mu.Unlock()
	for _, uc := range stale {
		uc.close()
	}
}

// closeAll closes every idle connection; put closes the busy ones as they
// come back.
func (p *upstreamPool) closeAll() {
	p.mu.Lock()
	p.closed = true
	idle := p.idle
	p.idle, p.n = nil, 0
	if p.reaper != nil {
		p.reaper.Stop()
		p.reaper = nil
	}
	p.mu.Unlock()
	for _, list := range idle {
		for _, uc := range list {
			uc.close()
		}
	}
}

// dialUpstream connects and completes the TLS handshake, verifying the
// upstream's certificate for host. ctx carries the exchange, whose session
// the dialer's address check consults.
func (p *Proxy) dialUpstream(ctx context.Context, key upstreamKey, host string) (*upstreamConn, error) {
	raw, err := p.dial(ctx, "tcp", key.target)
	if err != nil {
		return nil, err
	}
	conf := p.upstreamTLS.Clone()
	conf.ServerName = host
	batch := &recordBatcher{Conn: newRawSocket(raw)}
	tc := tls.Client(batch, conf)
	hctx, cancel := context.WithTimeout(ctx, HandshakeTimeout)
	err = tc.HandshakeContext(hctx)
	cancel()
	if err != nil {
		raw.Close()
		return nil, err
	}
	uc := &upstreamConn{key: key, tc: tc, batch: batch, raw: raw}
	uc.src = connSource{c: tc, limit: -1}
	uc.attach()
	return uc, nil
}

// newUpstreamTLS is the client configuration of upstream connections:
// HTTP/1.1 only (what agents speak), and resumed sessions, so a new
// connection to a known upstream costs less than a full handshake.
func newUpstreamTLS(roots *x509.CertPool) *tls.Config {
	return &tls.Config{
		RootCAs:            roots,
		MinVersion:         tls.VersionTLS12,
		NextProtos:         []string{"http/1.1"},
		ClientSessionCache: tls.NewLRUClientSessionCache(256),
	}
}
