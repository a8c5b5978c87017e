package session

import (
	"context"
	"sync"

	"github.com/clauderon/clauderon"
)

// Event types pushed to subscribers (the web UI and the TUI).
const (
	EventCreated = "created"
	EventUpdated = "updated"
	EventDeleted = "deleted"
)

// Event is one change to a session.
type Event struct {
	Type    string             `json:"type"`
	Session *clauderon.Session `json:"session"`
}

// broker fans events out to subscribers. A subscriber that does not keep up
// loses events rather than slowing the daemon; it can re-list to resync.
type broker struct {
	mu     sync.Mutex
	subs   map[chan Event]struct{}
	closed bool
}

func newBroker() *broker { return &broker{subs: map[chan Event]struct{}{}} }

func (b *broker) publish(e Event) {
	cp := *e.Session
	e.Session = &cp
	b.mu.Lock()
	defer b.mu.Unlock()
	for ch := range b.subs {
		select {
		case ch <- e:
		default:
		}
	}
}

func (b *broker) subscribe(ctx context.Context) <-chan Event {
	ch := make(chan Event, 64)
	b.mu.Lock()
	if b.closed {
		close(ch)
		b.mu.Unlock()
		return ch
	}
	b.subs[ch] = struct{}{}
	b.mu.Unlock()
	go func() {
		<-ctx.Done()
		b.mu.Lock()
		if _, ok := b.subs[ch]; ok {
			delete(b.subs, ch)
			close(ch)
		}
		b.mu.Unlock()
	}()
	return ch
}

func (b *broker) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for ch := range b.subs {
		delete(b.subs, ch)
		close(ch)
	}
}

// Subscribe returns a channel of session changes until ctx ends.
func (m *Manager) Subscribe(ctx context.Context) <-chan Event { return m.events.subscribe(ctx) }
