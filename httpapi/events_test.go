package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/internal/testutil"
	"github.com/clauderon/clauderon/session"
)

// memEvents is an EventSource the test publishes into by hand.
type memEvents struct {
	mu         sync.Mutex
	subs       []chan session.Event
	subscribed chan struct{} // one value per Subscribe
}

func newMemEvents() *memEvents { return &memEvents{subscribed: make(chan struct{}, 4)} }

func (m *memEvents) Subscribe(ctx context.Context) <-chan session.Event {
	ch := make(chan session.Event, 16)
	m.mu.Lock()
	m.subs = append(m.subs, ch)
	m.mu.Unlock()
	go func() {
		<-ctx.Done()
		m.mu.Lock()
		defer m.mu.Unlock()
		for i, c := range m.subs {
			if c == ch {
				m.subs = append(m.subs[:i], m.subs[i+1:]...)
				close(ch)
			}
		}
	}()
	m.subscribed <- struct{}{}
	return ch
}

func (m *memEvents) publish(typ string, s *clauderon.Session) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ch := range m.subs {
		cp := *s
		ch <- session.Event{Type: typ, Session: &cp}
	}
}

// closeAll ends every subscription, as the manager does when it closes.
func (m *memEvents) closeAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, ch := range m.subs {
		close(ch)
	}
	m.subs = nil
}

// newEventsEnv is newTestEnv with an event source.
func newEventsEnv(t *testing.T) (*testEnv, *memEvents) {
	t.Helper()
	ev := newMemEvents()
	env := &testEnv{svc: newMemService(), audit: newMemAudit(), socket: filepath.Join(t.TempDir(), "c.sock"), log: &testutil.SyncBuffer{}}
	env.server = NewServer(ServerConfig{
		Sessions: env.svc, Audit: env.audit, Events: ev, Version: "test",
		Logger: slog.New(slog.NewJSONHandler(env.log, nil)),
	})
	ln, err := env.server.ListenUnix(env.socket)
	if err != nil {
		t.Fatal(err)
	}
	go env.server.Serve(ln)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		env.server.Shutdown(ctx)
	})
	env.client = NewClient(env.socket)
	return env, ev
}

func TestEventsSyncThenChanges(t *testing.T) {
	t.Parallel()
	env, src := newEventsEnv(t)
	ctx := testContext(t)
	env.mustCreate(t, "old")
	env.mustCreate(t, "gone")
	if _, err := env.client.Archive(ctx, "gone"); err != nil {
		t.Fatal(err)
	}

	got := make(chan Event, 8)
	sctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- env.client.Events(sctx, func(ev Event) error { got <- ev; return nil })
	}()
	sync := recv(t, ctx, got, "the sync")
	if sync.Type != EventSync || len(sync.Sessions) != 2 {
		t.Fatalf("first event = %+v, want a sync of both sessions, archived included", sync)
	}
	names := map[string]clauderon.SessionStatus{}
	for _, s := range sync.Sessions {
		names[s.Name] = s.Status
	}
	if names["gone"] != clauderon.StatusArchived || names["old"] == "" {
		t.Fatalf("sync = %v", names)
	}

	s := &clauderon.Session{Name: "new", Status: clauderon.StatusCreating, Agent: "claude"}
	src.publish(session.EventCreated, s)
	if ev := recv(t, ctx, got, "created"); ev.Type != session.EventCreated || ev.Session == nil || ev.Session.Name != "new" {
		t.Fatalf("got %+v, want created new", ev)
	}
	s.Status = clauderon.StatusRunning
	src.publish(session.EventUpdated, s)
	if ev := recv(t, ctx, got, "updated"); ev.Type != session.EventUpdated || ev.Session.Status != clauderon.StatusRunning {
		t.Fatalf("got %+v, want updated running", ev)
	}
	src.publish(session.EventDeleted, s)
	if ev := recv(t, ctx, got, "deleted"); ev.Type != session.EventDeleted || ev.Session.Name != "new" {
		t.Fatalf("got %+v, want deleted new", ev)
	}

	stop()
	if err := recv(t, ctx, done, "Events to return"); !errors.Is(err, context.Canceled) {
		t.Fatalf("Events after cancel = %v, want context.Canceled", err)
	}
}

func TestEventsEndWithTheSource(t *testing.T) {
	t.Parallel()
	env, src := newEventsEnv(t)
	ctx := testContext(t)
	done := make(chan error, 1)
	go func() { done <- env.client.Events(ctx, func(Event) error { return nil }) }()
	recv(t, ctx, src.subscribed, "a subscription")
	src.closeAll()
	err := recv(t, ctx, done, "Events to return")
	mustAppError(t, err, clauderon.EUNAVAILABLE, "shutting down")
}

func TestEventsFnErrorStops(t *testing.T) {
	t.Parallel()
	env, _ := newEventsEnv(t)
	boom := errors.New("boom")
	if err := env.client.Events(testContext(t), func(Event) error { return boom }); !errors.Is(err, boom) {
		t.Fatalf("Events = %v, want fn's error", err)
	}
}

func TestEventsUnavailable(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t) // no event source
	err := env.client.Events(testContext(t), func(Event) error { return nil })
	mustAppError(t, err, clauderon.EUNAVAILABLE, "events are not available")
}

func TestEventsListFails(t *testing.T) {
	t.Parallel()
	env, _ := newEventsEnv(t)
	env.svc.failWith(clauderon.Errorf(clauderon.EUNAVAILABLE, "store down"))
	err := env.client.Events(testContext(t), func(Event) error { return nil })
	mustAppError(t, err, clauderon.EUNAVAILABLE, "store down")
}

func TestEventsRefuseBrowsersOnSocket(t *testing.T) {
	t.Parallel()
	env, _ := newEventsEnv(t)
	resp := env.raw(t, http.MethodGet, "/v1/events", "", nil, http.Header{"Origin": {"http://evil.example"}})
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("status = %d, want 403", resp.StatusCode)
	}
}

func TestEventQueueKeepsLatestPerSession(t *testing.T) {
	t.Parallel()
	q := newEventQueue()
	mk := func(typ, name string, st clauderon.SessionStatus) session.Event {
		return session.Event{Type: typ, Session: &clauderon.Session{Name: name, Status: st}}
	}
	q.push(mk(session.EventUpdated, "a", clauderon.StatusCreating))
	q.push(mk(session.EventCreated, "b", clauderon.StatusCreating))
	q.push(mk(session.EventUpdated, "a", clauderon.StatusRunning))
	q.push(mk(session.EventUpdated, "b", clauderon.StatusRunning))
	q.push(session.Event{Type: session.EventUpdated}) // no session: ignored
	got := q.drain()
	if len(got) != 2 {
		t.Fatalf("drain = %d events, want 2", len(got))
	}
	if got[0].Session.Name != "a" || got[0].Type != session.EventUpdated || got[0].Session.Status != clauderon.StatusRunning {
		t.Errorf("first = %s %+v", got[0].Type, got[0].Session)
	}
	if got[1].Session.Name != "b" || got[1].Type != session.EventCreated || got[1].Session.Status != clauderon.StatusRunning {
		t.Errorf("second = %s %+v: a creation updated before it was sent stays a creation", got[1].Type, got[1].Session)
	}
	q.push(mk(session.EventDeleted, "b", clauderon.StatusRunning))
	if got := q.drain(); len(got) != 1 || got[0].Type != session.EventDeleted {
		t.Errorf("after drain, deleted = %+v", got)
	}
	if got := q.drain(); len(got) != 0 {
		t.Errorf("empty queue drained %d", len(got))
	}
}
