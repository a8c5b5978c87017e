package tui

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/httpapi"
)

// fakeClient records calls and answers from its fields.
type fakeClient struct {
	mu        sync.Mutex
	events    chan httpapi.Event
	calls     []string
	createErr error
	deleteErr error // for a delete without force
	created   clauderon.CreateRequest
	audit     []clauderon.AuditEvent
}

func (f *fakeClient) record(c string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

func (f *fakeClient) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeClient) Events(ctx context.Context, fn func(httpapi.Event) error) error {
	for {
		select {
		case ev := <-f.events:
			if err := fn(ev); err != nil {
				return err
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (f *fakeClient) Create(_ context.Context, req clauderon.CreateRequest) (*clauderon.Session, error) {
	f.record("create " + req.Name)
	f.created = req
	if f.createErr != nil {
		return nil, f.createErr
	}
	return &clauderon.Session{Name: req.Name, Status: clauderon.StatusCreating, Agent: req.Agent, Mode: clauderon.ModeInteractive}, nil
}

func (f *fakeClient) act(what, name string) (*clauderon.Session, error) {
	f.record(what + " " + name)
	return &clauderon.Session{Name: name}, nil
}

func (f *fakeClient) Start(_ context.Context, n string) (*clauderon.Session, error) {
	return f.act("start", n)
}
func (f *fakeClient) Stop(_ context.Context, n string) (*clauderon.Session, error) {
	return f.act("stop", n)
}
func (f *fakeClient) Archive(_ context.Context, n string) (*clauderon.Session, error) {
	return f.act("archive", n)
}
func (f *fakeClient) Unarchive(_ context.Context, n string) (*clauderon.Session, error) {
	return f.act("unarchive", n)
}

func (f *fakeClient) Delete(_ context.Context, n string, force bool) error {
	if force {
		f.record("delete --force " + n)
		return nil
	}
	f.record("delete " + n)
	return f.deleteErr
}

func (f *fakeClient) Audit(_ context.Context, fl clauderon.AuditFilter) ([]clauderon.AuditEvent, error) {
	f.record("audit " + fl.Session)
	return f.audit, nil
}

func (f *fakeClient) FollowAudit(ctx context.Context, _ clauderon.AuditFilter, _ func(clauderon.AuditEvent) error) error {
	<-ctx.Done()
	return ctx.Err()
}

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func sess(name string, st clauderon.SessionStatus, mode clauderon.Mode, ago time.Duration) *clauderon.Session {
	return &clauderon.Session{Name: name, Status: st, Mode: mode, Agent: "claude", Backend: "docker", CreatedAt: t0.Add(-ago), Prompt: "prompt of " + name}
}

// harness drives a Model the way bubbletea does: messages in, commands run,
// their messages fed back, the screen read after each step.
type harness struct {
	t *testing.T
	m *Model
	c *fakeClient
}

func newHarness(t *testing.T, sessions ...*clauderon.Session) *harness {
	t.Helper()
	c := &fakeClient{events: make(chan httpapi.Event, 8)}
	m := New(t.Context(), Config{Client: c, Now: func() time.Time { return t0 }})
	t.Cleanup(m.Close)
	h := &harness{t: t, m: m, c: c}
	m.Init() // starts the stream; its command is the background wait, which pump runs
	c.events <- httpapi.Event{Type: httpapi.EventSync, Sessions: sessions}
	h.pump()
	return h
}

// pump delivers one background message (the events stream's next event).
func (h *harness) pump() {
	h.t.Helper()
	done := make(chan tea.Msg, 1)
	go func() { done <- h.m.next() }()
	select {
	case msg := <-done:
		h.send(msg)
	case <-time.After(30 * time.Second):
		h.t.Fatal("no background message arrived")
	}
}

// waitFor delivers background messages until the screen shows every part.
func (h *harness) waitFor(parts ...string) {
	h.t.Helper()
	for {
		s := h.screen()
		all := true
		for _, p := range parts {
			all = all && strings.Contains(s, p)
		}
		if all {
			return
		}
		h.pump()
	}
}

func (h *harness) send(msg tea.Msg) {
	_, cmd := h.m.Update(msg)
	switch msg.(type) {
	case eventMsg, streamMsg, auditMsg:
		return // the command is the background wait again: pump runs it
	}
	h.run(cmd)
}

// run executes a command (a daemon call, say) and feeds its message back.
// Commands that wait longer than a moment (a cursor's blink) are left.
func (h *harness) run(cmd tea.Cmd) {
	if cmd == nil {
		return
	}
	done := make(chan tea.Msg, 1)
	go func() { done <- cmd() }()
	select {
	case msg := <-done:
		switch msg.(type) {
		case nil, tea.BatchMsg:
			return
		}
		h.send(msg)
	case <-time.After(200 * time.Millisecond):
	}
}

func (h *harness) press(keys ...string) {
	for _, k := range keys {
		h.send(keyMsg(k))
	}
}

func (h *harness) typeText(s string) {
	for _, r := range s {
		h.send(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

func keyMsg(k string) tea.KeyPressMsg {
	switch k {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "ctrl+s":
		return tea.KeyPressMsg{Code: 's', Mod: tea.ModCtrl}
	}
	return tea.KeyPressMsg{Code: rune(k[0]), Text: k}
}

func (h *harness) screen() string { return h.m.render() }

func (h *harness) want(parts ...string) {
	h.t.Helper()
	s := h.screen()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			h.t.Fatalf("screen lacks %q:\n%s", p, s)
		}
	}
}

func (h *harness) wantNot(parts ...string) {
	h.t.Helper()
	s := h.screen()
	for _, p := range parts {
		if strings.Contains(s, p) {
			h.t.Fatalf("screen shows %q:\n%s", p, s)
		}
	}
}

func TestListLiveFromEvents(t *testing.T) {
	h := newHarness(t,
		sess("alpha", clauderon.StatusRunning, clauderon.ModeInteractive, 5*time.Minute),
		sess("beta", clauderon.StatusExited, clauderon.ModePrint, 2*time.Hour),
		sess("old", clauderon.StatusArchived, clauderon.ModeInteractive, 72*time.Hour))
	h.want("alpha", "running", "5m", "beta", "exited", "2h", "live")
	h.wantNot("old")
	h.press("H")
	h.want("old", "archived", "3d")

	h.c.events <- httpapi.Event{Type: "created", Session: sess("gamma", clauderon.StatusCreating, clauderon.ModeInteractive, 0)}
	h.waitFor("gamma", "creating")
	g := sess("gamma", clauderon.StatusRunning, clauderon.ModeInteractive, 0)
	h.c.events <- httpapi.Event{Type: "updated", Session: g}
	for strings.Contains(h.screen(), "creating") {
		h.pump() // until the update replaces the session
	}
	h.c.events <- httpapi.Event{Type: "deleted", Session: g}
	for strings.Contains(h.screen(), "gamma") {
		h.pump()
	}
}

func TestFilter(t *testing.T) {
	h := newHarness(t,
		sess("alpha", clauderon.StatusRunning, clauderon.ModeInteractive, time.Minute),
		sess("beta", clauderon.StatusExited, clauderon.ModePrint, time.Hour))
	h.press("/")
	h.typeText("bet")
	h.want("beta")
	h.wantNot("alpha ")
	h.press("enter")
	h.want("beta")
	h.wantNot("alpha ")
	h.press("/", "esc")
	h.want("alpha", "beta")
	h.press("/")
	h.typeText("zzz")
	h.want("no session matches")
}

func TestDeleteAsksAndForceAsksAgain(t *testing.T) {
	h := newHarness(t, sess("alpha", clauderon.StatusRunning, clauderon.ModeInteractive, time.Minute))
	h.press("d")
	h.want("Delete alpha?")
	h.press("n")
	h.want("cancelled")
	for _, c := range h.c.Calls() {
		if strings.HasPrefix(c, "delete") {
			t.Fatalf("a cancelled delete called the daemon: %v", h.c.Calls())
		}
	}
	h.c.deleteErr = clauderon.Errorf(clauderon.ECONFLICT, "alpha's worktree has uncommitted changes")
	h.press("d", "y")
	h.want("uncommitted changes", "anyway")
	h.press("y")
	calls := h.c.Calls()
	if calls[len(calls)-2] != "delete alpha" || calls[len(calls)-1] != "delete --force alpha" {
		t.Fatalf("calls = %v, want a delete then a forced one", calls)
	}
}

func TestStopStartArchive(t *testing.T) {
	h := newHarness(t,
		sess("run", clauderon.StatusRunning, clauderon.ModeInteractive, time.Minute),
		sess("done", clauderon.StatusExited, clauderon.ModeInteractive, time.Hour))
	h.press("s")
	h.want("Stop run?")
	h.press("y")
	h.press("down", "s") // an exited session starts without asking
	h.press("a")
	h.want("Archive done?")
	h.press("y")
	got := strings.Join(h.c.Calls(), ",")
	for _, want := range []string{"stop run", "start done", "archive done"} {
		if !strings.Contains(got, want) {
			t.Errorf("calls %s lack %q", got, want)
		}
	}
}

func TestCreateDialog(t *testing.T) {
	h := newHarness(t)
	h.want("no sessions yet")
	h.press("n")
	h.want("New session", "name", "prompt", "repository", "agent", "image", "mode", "access mode", "allowed hosts")
	h.typeText("Bad Name")
	h.press("ctrl+s")
	h.want("invalid session name")
	if len(h.c.Calls()) != 0 {
		t.Fatalf("an invalid name reached the daemon: %v", h.c.Calls())
	}
	for range len("Bad Name") {
		h.send(tea.KeyPressMsg{Code: tea.KeyBackspace})
	}
	h.typeText("newone")
	h.press("tab")
	h.typeText("do things")
	h.c.createErr = clauderon.Errorf(clauderon.EINVALID, "/nope is not a git repository")
	h.press("ctrl+s")
	h.want("New session", "/nope is not a git repository")
	h.c.createErr = nil
	h.press("ctrl+s")
	h.wantNot("New session")
	h.want("created newone", "newone")
	if h.c.created.Name != "newone" || h.c.created.Prompt != "do things" || h.c.created.Agent != "claude" || h.c.created.Print {
		t.Fatalf("create request = %+v", h.c.created)
	}
}

func TestEnterOnPrintOrStoppedSession(t *testing.T) {
	h := newHarness(t,
		sess("p", clauderon.StatusRunning, clauderon.ModePrint, time.Minute),
		sess("x", clauderon.StatusExited, clauderon.ModeInteractive, time.Hour))
	h.press("enter")
	h.want("print session", "clauderon logs p")
	h.press("down", "enter")
	h.want("x is not running")
}

func TestAuditPane(t *testing.T) {
	c := []clauderon.AuditEvent{
		{Time: t0, Session: "alpha", Method: "POST", Host: "api.anthropic.com", Path: "/v1/messages", Status: 200, AuthInjected: true, Decision: clauderon.DecisionAllowed},
		{Time: t0, Session: "alpha", Method: "CONNECT", Host: "evil.example", Status: 403, Decision: clauderon.DecisionDenied, Error: "host not allowed"},
	}
	h := &harness{t: t}
	h.c = &fakeClient{events: make(chan httpapi.Event, 8), audit: c}
	h.m = New(t.Context(), Config{Client: h.c, Now: func() time.Time { return t0 }})
	t.Cleanup(h.m.Close)
	h.m.Init()
	h.c.events <- httpapi.Event{Type: httpapi.EventSync, Sessions: []*clauderon.Session{sess("alpha", clauderon.StatusRunning, clauderon.ModeInteractive, 0)}}
	h.waitFor("audit: alpha", "POST", "api.anthropic.com/v1/messages", "injected", "denied: host not allowed")
}

func TestHelp(t *testing.T) {
	h := newHarness(t)
	h.press("?")
	h.want("detach with Ctrl-P Ctrl-Q", "filter")
	h.press("x")
	h.wantNot("detach with Ctrl-P Ctrl-Q")
}
