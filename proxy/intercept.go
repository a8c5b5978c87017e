package proxy

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/clauderon/clauderon"
)

// connEstablished is the answer to an accepted CONNECT.
var connEstablished = []byte("HTTP/1.1 200 Connection established\r\n\r\n")

// errNoSNI refuses handshakes without a server name: a credential is injected
// only when SNI, CONNECT and Host agree, so there is no point minting one.
var errNoSNI = errors.New("client sent no TLS server name (SNI)")

func (p *Proxy) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if hello.ServerName == "" {
		return nil, errNoSNI
	}
	return p.cfg.GetCertificate(hello)
}

// hijack takes the client connection over after a CONNECT. Bytes the client
// sent early (a ClientHello right behind the CONNECT) may sit in the server's
// read buffer; they are returned so that nothing is lost, and the 4 KiB
// buffer itself is not kept alive by the connection.
func hijack(w http.ResponseWriter) (net.Conn, []byte, error) {
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, err
	}
	var early []byte
	if n := brw.Reader.Buffered(); n > 0 {
		early, _ = brw.Reader.Peek(n)
		early = append([]byte(nil), early...)
	}
	return conn, early, nil
}

// intercept answers the CONNECT, terminates the client's TLS and hands the
// connection to serveConn, which serves its requests in serveIntercepted. The CONNECT itself is audited only if the handshake fails;
// each request inside gets its own event.
func (p *Proxy) intercept(w http.ResponseWriter, ex *exchange, port int) {
	conn, early, err := hijack(w)
	if err != nil {
		ex.decision, ex.reason, ex.status = clauderon.DecisionError, "hijack failed", http.StatusInternalServerError
		p.finish(ex)
		return
	}
	defer closeOnPanic(conn)
	ex.status = http.StatusOK
	c := newRawSocket(conn)
	if len(early) > 0 {
		c = &prefixConn{Conn: c, prefix: early}
	}
	if _, err := conn.Write(connEstablished); err != nil {
		conn.Close()
		ex.decision, ex.reason = clauderon.DecisionError, "client went away"
		p.finish(ex)
		return
	}
	batch := &recordBatcher{Conn: c}
	tc := tls.Server(batch, p.tlsConf)
	ctx, cancel := context.WithTimeout(context.Background(), HandshakeTimeout)
	err = tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		tc.Close()
		ex.decision, ex.reason = clauderon.DecisionError, handshakeReason(err)
		p.finish(ex)
		p.log.Info("client TLS handshake failed", "session", ex.id.Session, "host", ex.host, "error", err.Error())
		return
	}
	ic := &interceptedConn{Conn: tc, batch: batch, p: p, id: ex.id, host: ex.host, target: ex.target,
		sni: hostOnly(tc.ConnectionState().ServerName), remoteAddr: conn.RemoteAddr().String(),
		tlsState: tlsStateOf(tc)}
	if !p.track(ic) {
		ic.Close()
		return
	}
	// A goroutine of its own: this one carries the outer server's frames
	// and the stack the handshake grew.
	go p.serveConn(ic)
}

// closeOnPanic closes a hijacked connection if a collaborator (say,
// GetCertificate) panics: net/http recovers handler panics, but it no longer
// owns a hijacked connection, which would otherwise stay open with the client
// waiting forever.
func closeOnPanic(c net.Conn) {
	if v := recover(); v != nil {
		c.Close()
		panic(v)
	}
}

// handshakeReason is a short, secret-free cause for the audit log.
func handshakeReason(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "client TLS handshake timed out"
	case errors.Is(err, io.EOF):
		return "client closed during TLS handshake (does it trust the clauderon CA?)"
	default:
		return "client TLS handshake failed (does it trust the clauderon CA?)"
	}
}

// prefixConn replays bytes read before the hijack.
type prefixConn struct {
	net.Conn
	prefix []byte
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.prefix) > 0 {
		n := copy(b, c.prefix)
		c.prefix = c.prefix[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

// interceptedConn is a client TLS connection after CONNECT, carrying what the
// CONNECT established: who the client is and which host it asked for.
type interceptedConn struct {
	net.Conn   // the client's TLS connection
	batch      *recordBatcher
	p          *Proxy
	id         clauderon.Identity
	host       string // CONNECT host, port-less, lower case
	target     string // CONNECT host:port, dialled upstream
	sni        string
	remoteAddr string
	tlsState   *tls.ConnectionState
	closeOnce  sync.Once
	active     bool // serving a request; guarded by p.mu
	hijacked   bool // handed to the handler (protocol switch); serveConn's only
}

// Write sends b; more than one TLS record of it leaves in one write(2)
// (see recordBatcher).
func (c *interceptedConn) Write(b []byte) (int, error) {
	return c.batch.writeThrough(c.Conn, b)
}

func (c *interceptedConn) Close() error {
	if c.batch.busy.Load() {
		c.batch.Conn.Close() // breaks the batch's write (see recordBatcher)
	}
	err := c.Conn.Close()
	c.closeOnce.Do(func() { c.p.untrack(c) })
	return err
}

// serveIntercepted handles one request inside an intercepted connection:
// checks that CONNECT, SNI and Host agree, applies policy, and forwards with
// the credential injected.
func (p *Proxy) serveIntercepted(w *respWriter, r *http.Request) {
	ic := w.conn
	ex := &exchange{start: time.Now(), id: ic.id, method: r.Method, host: ic.host,
		scheme: "https", target: ic.target, decision: clauderon.DecisionAllowed}
	set := p.credentials()
	ex.red = p.redactors.get(set)
	ex.path = ex.red.redactString(r.URL.Path)
	aw := &auditWriter{ResponseWriter: w, ex: ex}
	defer p.finishAfterPanic(ex)

	if hostOnly(r.Host) != ic.host || ic.sni != ic.host {
		ex.deny(aw, http.StatusMisdirectedRequest, "the Host header, TLS server name and CONNECT host must name the same host")
		return
	}
	if !p.allowed(aw, r, ex) {
		return
	}
	if cred, ok := set.Lookup(ic.host); ok {
		ex.cred = &cred
	}
	// Ask for an uncompressed answer, so the leak guard can read it.
	r.Header.Del("Accept-Encoding")
	if isUpgrade(r) {
		p.forward(aw, r, ex) // ReverseProxy bridges the switched protocol
		return
	}
	p.roundTrip(aw, w, r, ex)
}

// finishAfterPanic writes the audit event even when ReverseProxy aborts a
// stream midway (it panics with http.ErrAbortHandler to drop the client
// connection), then lets the panic continue to the server.
func (p *Proxy) finishAfterPanic(ex *exchange) {
	if v := recover(); v != nil {
		ex.decision, ex.reason = clauderon.DecisionError, "stream aborted"
		p.finish(ex)
		panic(v)
	}
	p.finish(ex)
}

// isUpgrade reports whether r asks to switch protocols (WebSocket).
func isUpgrade(r *http.Request) bool {
	return r.Header.Get("Upgrade") != "" && hasToken(strings.Join(r.Header["Connection"], ","), "upgrade")
}
