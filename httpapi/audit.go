package httpapi

import (
	"encoding/json"
	"net/http"

	"github.com/clauderon/clauderon"
)

var errNoAudit = clauderon.Errorf(clauderon.EUNAVAILABLE, "the audit log is not available in this daemon")

// handleAudit answers the audit log: the matching events as one JSON array,
// or with follow=true, every new matching event as one NDJSON line, flushed
// as it happens, until the client goes away.
func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Audit == nil {
		return errNoAudit
	}
	follow, err := queryBool(r, "follow")
	if err != nil {
		return err
	}
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	f := clauderon.AuditFilter{Session: r.URL.Query().Get("session"), Limit: limit}
	if follow {
		return s.followAudit(w, r, f)
	}
	events, err := s.cfg.Audit.Read(r.Context(), f)
	if err != nil {
		return err
	}
	if events == nil {
		events = []clauderon.AuditEvent{}
	}
	writeJSON(w, http.StatusOK, events)
	return nil
}

func (s *Server) followAudit(w http.ResponseWriter, r *http.Request, f clauderon.AuditFilter) error {
	ctx, cancel := s.streamContext(r)
	defer cancel()
	rc := startStream(w, contentNDJSON)
	enc := json.NewEncoder(w) // Encode ends each value with a newline: NDJSON
	err := s.cfg.Audit.Follow(ctx, f, func(ev clauderon.AuditEvent) error {
		if err := enc.Encode(ev); err != nil {
			return err
		}
		return rc.Flush()
	})
	switch {
	case endedByShutdown(ctx):
		err = errShuttingDown
	case ctx.Err() != nil:
		return nil // the client left: that is how a follow ends
	}
	s.endStream(w, r, ctx, err)
	return nil
}
