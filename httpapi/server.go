package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/clauderon/clauderon"
)

// Server limits. There is no read or write timeout on whole requests: logs,
// audit follows, waits and terminals legitimately last for hours.
const (
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
)

// ServerConfig is what the API server serves.
type ServerConfig struct {
	Sessions clauderon.SessionService
	// Audit may be nil; the audit routes then answer EUNAVAILABLE.
	Audit clauderon.AuditReader
	// Events may be nil; GET /v1/events then answers EUNAVAILABLE.
	Events  EventSource
	Logger  *slog.Logger // nil discards
	Version string       // reported by /v1/health
	// Guard decides which requests reach the routes. Nil means RefuseBrowsers,
	// which is right for the unix socket and nothing else.
	Guard Middleware
}

// Server is the daemon's API server. Create it with NewServer, then either
// Serve it on listeners or mount Handler elsewhere.
type Server struct {
	cfg     ServerConfig
	log     *slog.Logger
	handler http.Handler
	http    *http.Server

	// streams is cancelled on Shutdown, which ends every long-lived call
	// (waits, follows, terminals) so that Shutdown does not wait for them.
	streams     context.Context
	stopStreams context.CancelFunc

	// terminals counts attached WebSockets. Hijacked connections are beyond
	// http.Server.Shutdown, so Shutdown waits for them itself.
	mu        sync.Mutex
	closing   bool
	terminals sync.WaitGroup
}

// NewServer returns a server for cfg. It starts nothing.
func NewServer(cfg ServerConfig) *Server {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	guard := cfg.Guard
	if guard == nil {
		guard = RefuseBrowsers
	}
	s := &Server{cfg: cfg, log: log}
	s.streams, s.stopStreams = context.WithCancel(context.Background())
	s.handler = s.logRequests(guard(s.routes()))
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s
}

// Handler is the whole API, guarded and logged.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve accepts connections on ln until Shutdown. It returns nil after
// Shutdown and the accept error otherwise.
func (s *Server) Serve(ln net.Listener) error {
	if err := s.http.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// Shutdown stops accepting connections, ends long-lived calls (their clients
// get EUNAVAILABLE "shutting down"), lets ordinary requests finish and waits
// for attached terminals to detach, until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.mu.Unlock()
	s.stopStreams()
	err := s.http.Shutdown(ctx)
	done := make(chan struct{})
	go func() {
		s.terminals.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		if err == nil {
			err = ctx.Err()
		}
	}
	return err
}

// streamContext is the context for a long-lived call: it ends when the client
// goes away or the server shuts down, with errShuttingDown as the cause in
// the second case.
func (s *Server) streamContext(r *http.Request) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(r.Context())
	stop := context.AfterFunc(s.streams, func() { cancel(errShuttingDown) })
	return ctx, func() {
		stop()
		cancel(nil)
	}
}

// endedByShutdown reports whether ctx (from streamContext) ended because the
// server is shutting down rather than because the client left.
func endedByShutdown(ctx context.Context) bool {
	return errors.Is(context.Cause(ctx), errShuttingDown)
}
