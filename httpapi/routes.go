package httpapi

import (
	"net/http"
	"os"

	"github.com/clauderon/clauderon"
)

// routes is the API's route table, in one place so that it reads as the
// API's index.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, fn handlerFunc) { mux.Handle(pattern, s.api(fn)) }

	h("GET /v1/health", s.handleHealth)

	h("GET /v1/sessions", s.handleListSessions)
	h("POST /v1/sessions", s.handleCreateSession)
	h("GET /v1/sessions/{name}", s.handleGetSession)
	h("DELETE /v1/sessions/{name}", s.handleDeleteSession)
	h("POST /v1/sessions/{name}/start", s.sessionAction(clauderon.SessionService.Start))
	h("POST /v1/sessions/{name}/stop", s.sessionAction(clauderon.SessionService.Stop))
	h("POST /v1/sessions/{name}/archive", s.sessionAction(clauderon.SessionService.Archive))
	h("POST /v1/sessions/{name}/unarchive", s.sessionAction(clauderon.SessionService.Unarchive))
	h("PUT /v1/sessions/{name}/access-mode", s.handleSetAccessMode)
	h("GET /v1/sessions/{name}/wait", s.handleWait)
	h("GET /v1/sessions/{name}/logs", s.handleLogs)
	h("GET /v1/sessions/{name}/attach", s.handleAttach)
	h("POST /v1/sessions/{name}/pull", s.handlePull)
	h("POST /v1/reconcile", s.handleReconcile)
	h("POST /v1/proxy-env", s.handleProxyEnv)

	h("GET /v1/audit", s.handleAudit)
	h("GET /v1/events", s.handleEvents)

	// Anything else, including a known path with the wrong method, is a
	// route this daemon does not have: most likely a client newer than it.
	h("/", s.handleNoRoute)
	return mux
}

// handlerFunc is a route handler that reports failure by returning an error
// instead of writing it. Handlers that stream write their own errors once the
// response has started and return nil.
type handlerFunc func(w http.ResponseWriter, r *http.Request) error

// api adapts a handlerFunc to http.Handler.
func (s *Server) api(fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, Health{Version: s.cfg.Version, PID: os.Getpid()})
	return nil
}

func (s *Server) handleNoRoute(w http.ResponseWriter, r *http.Request) error {
	return clauderon.Errorf(clauderon.ENOTFOUND,
		"the daemon (version %s) has no API route %s %s: is the client newer than the daemon?",
		s.cfg.Version, r.Method, r.URL.Path)
}
