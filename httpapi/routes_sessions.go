package httpapi

import (
	"context"
	"net/http"

	"github.com/clauderon/clauderon"
)

func (s *Server) handleListSessions(w http.ResponseWriter, r *http.Request) error {
	archived, err := queryBool(r, "archived")
	if err != nil {
		return err
	}
	list, err := s.cfg.Sessions.List(r.Context(), clauderon.SessionFilter{Archived: archived})
	if err != nil {
		return err
	}
	writeSessions(w, list)
	return nil
}

func (s *Server) handleCreateSession(w http.ResponseWriter, r *http.Request) error {
	var req clauderon.CreateRequest
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	sess, err := s.cfg.Sessions.Create(r.Context(), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, sess)
	return nil
}

func (s *Server) handleGetSession(w http.ResponseWriter, r *http.Request) error {
	sess, err := s.cfg.Sessions.Get(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sess)
	return nil
}

func (s *Server) handleDeleteSession(w http.ResponseWriter, r *http.Request) error {
	force, err := queryBool(r, "force")
	if err != nil {
		return err
	}
	if err := s.cfg.Sessions.Delete(r.Context(), r.PathValue("name"), force); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// sessionAction serves the POST /v1/sessions/{name}/<verb> routes, which all
// take a name and answer the session as it is afterwards.
func (s *Server) sessionAction(do func(clauderon.SessionService, context.Context, string) (*clauderon.Session, error)) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		sess, err := do(s.cfg.Sessions, r.Context(), r.PathValue("name"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, sess)
		return nil
	}
}

func (s *Server) handleSetAccessMode(w http.ResponseWriter, r *http.Request) error {
	var req accessModeRequest
	if err := decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	// An absent field would parse as the default (read-write): refuse it
	// rather than widen a session's access by omission.
	if req.AccessMode == "" {
		return clauderon.Errorf(clauderon.EINVALID, "access_mode is required: use read-only or read-write")
	}
	sess, err := s.cfg.Sessions.SetAccessMode(r.Context(), r.PathValue("name"), req.AccessMode)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, sess)
	return nil
}

// handleWait answers once the session's agent has exited. Its context ends
// when the client hangs up, so a CLI interrupted with ^C leaves nothing
// waiting behind in the daemon.
func (s *Server) handleWait(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := s.streamContext(r)
	defer cancel()
	sess, err := s.cfg.Sessions.Wait(ctx, r.PathValue("name"))
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, sess)
		return nil
	case endedByShutdown(ctx):
		return errShuttingDown
	case r.Context().Err() != nil:
		return nil // the client left; there is no one to answer
	}
	return err
}

func (s *Server) handleReconcile(w http.ResponseWriter, r *http.Request) error {
	list, err := s.cfg.Sessions.Reconcile(r.Context())
	if err != nil {
		return err
	}
	writeSessions(w, list)
	return nil
}

func (s *Server) handleProxyEnv(w http.ResponseWriter, r *http.Request) error {
	var req proxyEnvRequest
	if err := decodeJSON(w, r, &req, true); err != nil {
		return err
	}
	env, err := s.cfg.Sessions.ProxyEnv(r.Context(), req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, env)
	return nil
}

// writeSessions sends a list as a JSON array, never null, so that clients in
// any language can iterate it without a check.
func writeSessions(w http.ResponseWriter, list []*clauderon.Session) {
	if list == nil {
		list = []*clauderon.Session{}
	}
	writeJSON(w, http.StatusOK, list)
}
