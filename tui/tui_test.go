package tui

import (
	"context"
	"fmt"
	"io"
	"os/exec"
	"slices"
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
	changed   []*clauderon.Session // what Reconcile answers
	logs      string               // what Logs answers
	pullErr   error
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

func (f *fakeClient) SetAccessMode(_ context.Context, n string, m clauderon.AccessMode) (*clauderon.Session, error) {
	f.record("access " + n + " " + string(m))
	s := sess(n, clauderon.StatusRunning, clauderon.ModeInteractive, time.Minute)
	s.AccessMode = m
	return s, nil
}

func (f *fakeClient) Reconcile(context.Context) ([]*clauderon.Session, error) {
	f.record("reconcile")
	return f.changed, nil
}

func (f *fakeClient) Pull(_ context.Context, n string) (*clauderon.PullResult, error) {
	f.record("pull " + n)
	if f.pullErr != nil {
		return nil, f.pullErr
	}
	return &clauderon.PullResult{Session: n, Branch: "clauderon/" + n, Commit: "abc1234", Message: "branch clauderon/" + n + " is at abc1234"}, nil
}

func (f *fakeClient) ProxyEnv(_ context.Context, n string) (*clauderon.ProxyEnv, error) {
	f.record("proxy-env " + n)
	if n == "" {
		n = "manual-0a1b2c"
	}
	return &clauderon.ProxyEnv{Session: n, Token: "TOKEN-" + n, Args: []string{
		"--network", "clauderon", "-e", "HTTPS_PROXY=http://" + n + ":TOKEN-" + n + "@clauderon-proxy:3128",
		"-e", "ANTHROPIC_API_KEY=placeholder with space", "-v", "/home/me/.clauderon/manual/" + n + "/proxy-ca.pem:/etc/clauderon/proxy-ca.pem:ro"}}, nil
}

func (f *fakeClient) Logs(_ context.Context, n string, follow bool) (clauderon.LogStream, error) {
	f.record(fmt.Sprintf("logs %s follow=%v", n, follow))
	return io.NopCloser(strings.NewReader(f.logs)), nil
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
	case eventMsg, streamMsg, auditMsg, logMsg:
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
	// Only the deletes: the detail pane fetches the session's audit in the
	// background, between them or not.
	var deletes []string
	for deadline := time.Now().Add(10 * time.Second); len(deletes) < 2 && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		deletes = deletes[:0]
		for _, c := range h.c.Calls() {
			if strings.HasPrefix(c, "delete") {
				deletes = append(deletes, c)
			}
		}
	}
	if strings.Join(deletes, ", ") != "delete alpha, delete --force alpha" {
		t.Fatalf("calls = %v, want a delete then a forced one", h.c.Calls())
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
	h.c.logs = "\x1b[1mthe answer\x1b[0m\r\nsecond line\n"
	h.press("enter") // a print session has no terminal: enter shows its output
	h.waitFor("output: p", "the answer", "second line", "the end")
	h.wantNot("\x1b[1mthe")
	if got := h.c.Calls(); !slices.Contains(got, "logs p follow=true") {
		t.Fatalf("calls = %v, want the running session's logs followed", got)
	}
	h.press("esc")
	h.wantNot("output: p")
	h.press("down", "enter")
	h.want("x is not running")
	h.press("l")
	h.waitFor("output: x", "the end")
	if got := h.c.Calls(); !slices.Contains(got, "logs x follow=false") {
		t.Fatalf("calls = %v, want the exited session's logs, not followed", got)
	}
	h.press("q") // closes the view, not the TUI
	h.want("NAME", "x ")
}

func TestAccessModeAndAllowedHosts(t *testing.T) {
	s := sess("alpha", clauderon.StatusRunning, clauderon.ModeInteractive, time.Minute)
	s.AccessMode, s.Allow, s.Image = clauderon.AccessReadWrite, []string{"registry.npmjs.org", "*.pypi.org"}, "img:1"
	h := newHarness(t, s)
	h.want("access read-write", "allowed hosts: registry.npmjs.org, *.pypi.org", "image img:1")
	h.press("m") // applied at once: no question
	h.want("alpha is now read-only", "access read-only", "interactive ro")
	h.press("m")
	h.want("alpha is now read-write", "access read-write")
	h.wantNot("interactive ro")
	// The audit pane refreshes on its own schedule: only the order of the
	// access-mode calls matters here.
	var access []string
	for _, c := range h.c.Calls() {
		if strings.HasPrefix(c, "access ") {
			access = append(access, c)
		}
	}
	if got := strings.Join(access, ","); got != "access alpha read-only,access alpha read-write" {
		t.Fatalf("access-mode calls = %s", got)
	}
	h2 := newHarness(t, sess("bare", clauderon.StatusRunning, clauderon.ModeInteractive, time.Minute))
	h2.want("allowed hosts: none besides the agent's provider")
}

func TestProxyToken(t *testing.T) {
	h := newHarness(t)
	h.press("t")
	h.want("Proxy token for a container started by hand")
	h.typeText("Bad")
	h.press("enter")
	h.want("invalid session name")
	if len(h.c.Calls()) != 0 {
		t.Fatalf("an invalid name reached the daemon: %v", h.c.Calls())
	}
	for range 3 {
		h.send(tea.KeyPressMsg{Code: tea.KeyBackspace})
	}
	h.typeText("by-hand")
	h.press("enter")
	h.want("Token by-hand", "Shown only this once", "token TOKEN-by-hand", "docker run -it --rm",
		"-e HTTPS_PROXY=http://by-hand:TOKEN-by-hand@clauderon-proxy:3128", "-e 'ANTHROPIC_API_KEY=placeholder with space'", "IMAGE claude")
	h.press("x") // any key closes, and the token is gone for good
	h.wantNot("TOKEN-by-hand")
	h.want("token by-hand minted")
	if h.m.proxy != nil {
		t.Fatal("the dialog (and its token) outlived closing")
	}
	// An empty name lets the daemon choose.
	h.press("t", "enter")
	h.want("Token manual-0a1b2c")
	if got := h.c.Calls(); got[len(got)-1] != "proxy-env " {
		t.Fatalf("calls = %q", got)
	}
}

func TestReconcileAndPull(t *testing.T) {
	h := newHarness(t, sess("kube1", clauderon.StatusRunning, clauderon.ModeInteractive, time.Minute))
	h.press("R")
	h.want("reconciled: all sessions match their containers")
	h.c.changed = []*clauderon.Session{sess("kube1", clauderon.StatusExited, clauderon.ModeInteractive, time.Minute)}
	h.press("R")
	h.want("reconciled: kube1 is exited")
	h.want("kube1                    exited") // applied to the list at once
	h.press("p")
	h.want("branch clauderon/kube1 is at abc1234")
	h.c.pullErr = clauderon.Errorf(clauderon.EINVALID, `session "kube1" has no repository`)
	h.press("p")
	h.want("pull kube1 failed: session \"kube1\" has no repository")
}

func TestManualSession(t *testing.T) {
	s := sess("manual-1", clauderon.StatusRunning, clauderon.ModeInteractive, time.Minute)
	s.Manual, s.Backend = true, "manual"
	h := newHarness(t, s)
	h.want("by hand")
	h.press("enter")
	h.want("nothing to attach to")
	h.press("s")
	h.want("yours to start and stop")
	for _, c := range h.c.Calls() {
		if strings.HasPrefix(c, "st") {
			t.Fatalf("a proxy token was started or stopped: %v", h.c.Calls())
		}
	}
}

func TestDockerRunPastes(t *testing.T) {
	args := []string{"--network", "n", "-e", "HTTPS_PROXY=http://a:" + strings.Repeat("x", 60) + "@h:1", "-e", "K=it's spaced", "-v", "/a:/b:ro"}
	cmd := wrapShell(dockerRun(args, "IMAGE", "claude"), 30)
	for _, l := range strings.Split(cmd, "\n") {
		if len(l) > 29 && !strings.Contains(l, "'") {
			t.Fatalf("line wider than the terminal: %q", l)
		}
	}
	// What a shell makes of the pasted text: exactly the arguments.
	script := strings.Replace(cmd, "docker run -it --rm", `printf '%s\n'`, 1)
	out, err := exec.Command("sh", "-c", script).Output()
	if err != nil {
		t.Fatalf("sh: %v\n%s", err, script)
	}
	want := strings.Join(append(args, "IMAGE", "claude"), "\n") + "\n"
	if string(out) != want {
		t.Fatalf("the shell read\n%s\nwant\n%s\nfrom\n%s", out, want, cmd)
	}
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
