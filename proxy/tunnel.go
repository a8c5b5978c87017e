package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/clauderon/clauderon"
)

// tunnel connects to the CONNECT target and relays opaque bytes both ways.
// The proxy never sees inside a tunnel, so nothing is injected; it is audited
// once, when it closes, with the bytes moved and how long it lasted.
//
// The upstream is dialled before answering 200, so a client learns of an
// unreachable host from the status code. Between two TCP connections the
// copies use splice(2): no user-space buffer is held per idle tunnel.
func (p *Proxy) tunnel(w http.ResponseWriter, r *http.Request, ex *exchange) {
	ex.decision = clauderon.DecisionTunnelled
	// The exchange rides along so the dialer knows the session (AllowAddr).
	ctx, cancel := context.WithTimeout(context.WithValue(r.Context(), exchangeKey{}, ex), DialTimeout)
	up, err := p.dial(ctx, "tcp", ex.target)
	cancel()
	if err != nil {
		code, reason := classify(err)
		ex.decision, ex.reason = clauderon.DecisionError, reason
		if code == http.StatusForbidden {
			ex.decision = clauderon.DecisionDenied
		}
		refuse(w, code, reason)
		p.finish(ex)
		return
	}
	down, early, err := hijack(w)
	if err != nil {
		up.Close()
		ex.decision, ex.reason, ex.status = clauderon.DecisionError, "hijack failed", http.StatusInternalServerError
		p.finish(ex)
		return
	}
	ex.status = http.StatusOK
	if !p.track(down) {
		down.Close()
		up.Close()
		ex.decision, ex.reason = clauderon.DecisionError, "proxy shutting down"
		p.finish(ex)
		return
	}
	if !p.track(up) {
		// Shutdown began between the two; it may have closed down already.
		p.untrack(down)
		down.Close()
		up.Close()
		ex.decision, ex.reason = clauderon.DecisionError, "proxy shutting down"
		p.finish(ex)
		return
	}
	defer func() {
		p.untrack(down)
		p.untrack(up)
		down.Close()
		up.Close()
		p.finish(ex)
	}()
	if _, err := down.Write(connEstablished); err != nil {
		ex.reason = "client went away"
		return
	}
	if len(early) > 0 {
		n, err := up.Write(early)
		ex.up.Add(int64(n))
		if err != nil {
			return
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n, _ := io.Copy(up, down)
		ex.up.Add(n)
		closeWrite(up)
		// The client finished sending; the same grace for the upstream.
		up.SetReadDeadline(time.Now().Add(tunnelLinger))
	}()
	n, _ := io.Copy(down, up)
	ex.down.Add(n)
	closeWrite(down)
	// The upstream finished; give the client a while to finish too, then
	// stop waiting for it.
	down.SetReadDeadline(time.Now().Add(tunnelLinger))
	wg.Wait()
}

// tunnelLinger is how long a tunnel stays half-open after the upstream ended.
const tunnelLinger = 30 * time.Second

func closeWrite(c net.Conn) {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	} else {
		c.Close()
	}
}
