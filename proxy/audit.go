package proxy

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/clauderon/clauderon"
)

// exchange is the state of one request (or one tunnel) from arrival to its
// audit event. The request path fills it in; finish turns it into the event.
// Byte counters are atomic because the transport of plain-HTTP requests and
// protocol switches reads the request body on a goroutine of its own.
type exchange struct {
	start    time.Time
	id       clauderon.Identity
	method   string
	host     string // port-less, lower case
	path     string // no query
	scheme   string // "https" (intercepted) or "http"
	target   string // host:port dialled upstream
	status   int
	cred     *clauderon.Credential // injected into the request, if any
	injected bool
	red      *redactor // leak guard for the response, nil when no secrets
	decision string
	reason   string
	up, down atomic.Int64
	// cut is why the leak guard ended a protocol switch (wsguard.go). It is
	// set on ReverseProxy's copy goroutine, possibly after the handler has
	// moved on, hence atomic.
	cut atomic.Pointer[string]
}

type exchangeKey struct{}

func exchangeFrom(ctx context.Context) *exchange {
	ex, _ := ctx.Value(exchangeKey{}).(*exchange)
	return ex
}

// deny records a refusal and answers it.
func (ex *exchange) deny(w http.ResponseWriter, code int, reason string) {
	ex.decision = clauderon.DecisionDenied
	ex.reason = reason
	refuse(w, code, reason)
}

// finish writes the audit event. The duration covers the whole exchange: it
// is called after the response body has been streamed (or the tunnel closed).
func (p *Proxy) finish(ex *exchange) {
	ev := clauderon.AuditEvent{
		Time:         ex.start.UTC(),
		Session:      ex.id.Session,
		Method:       ex.method,
		Host:         ex.host,
		Path:         ex.path,
		Status:       ex.status,
		AuthInjected: ex.injected,
		BytesUp:      ex.up.Load(),
		BytesDown:    ex.down.Load(),
		DurationMS:   float64(time.Since(ex.start).Microseconds()) / 1000,
		Decision:     ex.decision,
		Error:        ex.reason,
	}
	if ex.cred != nil {
		ev.Rule = ex.cred.Rule.Name
	}
	if cut := ex.cut.Load(); cut != nil && ev.Error == "" {
		ev.Decision, ev.Error = clauderon.DecisionError, *cut
	}
	p.cfg.Audit.Record(ev)
	if p.log.Enabled(context.Background(), slog.LevelDebug) {
		p.log.Debug("request",
			slog.String("session", ev.Session), slog.String("method", ev.Method),
			slog.String("host", ev.Host), slog.Int("status", ev.Status),
			slog.String("decision", ev.Decision), slog.String("error", ev.Error),
			slog.Float64("duration_ms", ev.DurationMS))
	}
}

// auditWriter counts the response body and remembers the status the client
// got. It exposes the underlying writer through Unwrap, which is how
// http.ResponseController (and so ReverseProxy) finds Flush and Hijack.
type auditWriter struct {
	http.ResponseWriter
	ex *exchange
}

func (w *auditWriter) WriteHeader(code int) {
	if code >= 100 && code < 200 {
		// ReverseProxy forwards informational responses (103 Early Hints)
		// straight from the upstream, past ModifyResponse.
		w.ex.red.redactHeader(w.Header())
	} else if w.ex.status == 0 {
		w.ex.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *auditWriter) Write(b []byte) (int, error) {
	if w.ex.status == 0 {
		w.ex.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.ex.down.Add(int64(n))
	return n, err
}

func (w *auditWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// countingBody counts the request body as the transport reads it.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// countingConn counts both directions of a protocol switch (WebSocket): the
// upstream side of the connection after a 101 response, as the client sees
// it (after the leak guard, wsguard.go).
type countingConn struct {
	io.ReadWriteCloser
	ex *exchange
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.ReadWriteCloser.Read(p)
	c.ex.down.Add(int64(n))
	return n, err
}

func (c countingConn) Write(p []byte) (int, error) {
	n, err := c.ReadWriteCloser.Write(p)
	c.ex.up.Add(int64(n))
	return n, err
}
