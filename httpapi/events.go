package httpapi

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/session"
)

// EventSource is what the events route needs: the session manager's broker.
// Subscribe's channel closes when ctx ends or the source shuts down.
type EventSource interface {
	Subscribe(ctx context.Context) <-chan session.Event
}

// Event types on GET /v1/events besides session.EventCreated, EventUpdated
// and EventDeleted.
const (
	// EventSync opens every stream: Sessions holds every session, archived
	// ones included. Later events apply on top of it, in order.
	EventSync = "sync"
)

// Event is one line of GET /v1/events: a sync with the whole list first, then
// one change to one session per line.
type Event struct {
	Type     string               `json:"type"`
	Session  *clauderon.Session   `json:"session,omitempty"`
	Sessions []*clauderon.Session `json:"sessions,omitempty"`
}

var errNoEvents = clauderon.Errorf(clauderon.EUNAVAILABLE, "session events are not available in this daemon")

// handleEvents streams session changes as NDJSON. It subscribes before it
// lists, so no change between the list and the first event is lost: a client
// that applies the events in order to the sync ends in the daemon's state.
//
// The broker drops events for a subscriber that falls behind, so the handler
// drains its channel at once into a queue that keeps only each session's
// latest change; a slow client then sees fewer, newer events, never a state
// the daemon no longer has.
func (s *Server) handleEvents(w http.ResponseWriter, r *http.Request) error {
	if s.cfg.Events == nil {
		return errNoEvents
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	ch := s.cfg.Events.Subscribe(ctx)
	list, err := s.cfg.Sessions.List(ctx, clauderon.SessionFilter{Archived: true})
	if err != nil {
		return err
	}
	if list == nil {
		list = []*clauderon.Session{}
	}
	rc := startStream(w, contentNDJSON)
	enc := json.NewEncoder(w)
	if err := enc.Encode(Event{Type: EventSync, Sessions: list}); err != nil {
		return nil // the client left
	}
	if rc.Flush() != nil {
		return nil
	}

	q := newEventQueue()
	ready := make(chan struct{}, 1)
	go func() {
		defer close(ready)
		for ev := range ch {
			q.push(ev)
			select {
			case ready <- struct{}{}:
			default:
			}
		}
	}()
	for {
		if _, ok := <-ready; !ok {
			break
		}
		for _, ev := range q.drain() {
			if enc.Encode(Event{Type: ev.Type, Session: ev.Session}) != nil || rc.Flush() != nil {
				return nil
			}
		}
	}
	// The channel closed: the client left, or the daemon is going away.
	if ctx.Err() == nil || endedByShutdown(ctx) {
		s.endStream(w, r, ctx, errShuttingDown)
	}
	return nil
}
