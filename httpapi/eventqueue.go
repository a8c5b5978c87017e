package httpapi

import (
	"sync"

	"github.com/clauderon/clauderon/session"
)

// eventQueue holds session events not yet sent, at most one per session: a
// newer change replaces an older one in place. A creation that is updated
// before it is sent stays a creation (with the newer session), so a client
// never sees an update for a session it does not know.
type eventQueue struct {
	mu      sync.Mutex
	order   []string
	pending map[string]session.Event
}

func newEventQueue() *eventQueue { return &eventQueue{pending: map[string]session.Event{}} }

func (q *eventQueue) push(ev session.Event) {
	if ev.Session == nil {
		return
	}
	name := ev.Session.Name
	q.mu.Lock()
	defer q.mu.Unlock()
	old, ok := q.pending[name]
	if !ok {
		q.order = append(q.order, name)
		q.pending[name] = ev
		return
	}
	if old.Type == session.EventCreated && ev.Type == session.EventUpdated {
		ev.Type = session.EventCreated
	}
	q.pending[name] = ev
}

// drain returns the pending events in the order their sessions first changed.
func (q *eventQueue) drain() []session.Event {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]session.Event, 0, len(q.order))
	for _, n := range q.order {
		out = append(out, q.pending[n])
	}
	q.order = q.order[:0]
	clear(q.pending)
	return out
}
