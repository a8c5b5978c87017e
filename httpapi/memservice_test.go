package httpapi

import (
	"bytes"
	"cmp"
	"context"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/clauderon/clauderon"
)

// memService is a small in-memory clauderon.SessionService. It exists only to
// exercise the HTTP layer: it records what arrived, lets a test inject
// failures, and hands the test the other end of every stream. The real
// service is tested end to end elsewhere.
type memService struct {
	mu       sync.Mutex
	sessions map[string]*clauderon.Session
	fail     error // when set, every call returns it

	// What the last calls received, for round-trip checks.
	lastCreate   clauderon.CreateRequest
	lastFilter   clauderon.SessionFilter
	lastForce    bool
	lastFollow   bool
	lastProxyEnv string
	stops        int

	logs  map[string]*io.PipeReader // Logs hands these out, once each
	exits map[string]chan int       // Wait returns when a code arrives

	waiting   chan string       // Wait announces the name it waits for
	waitEnded chan error        // Wait reports a context that ended it
	terminals chan *memTerminal // Attach hands each terminal to the test
	logsEnded chan struct{}     // a Logs stream was closed by the server
}

// created is the fixed creation time of every session: deterministic and
// without a monotonic reading, so it survives a JSON round trip unchanged.
var created = time.Date(2026, 11, 28, 9, 30, 0, 0, time.UTC)

func newMemService() *memService {
	return &memService{
		sessions:  map[string]*clauderon.Session{},
		logs:      map[string]*io.PipeReader{},
		exits:     map[string]chan int{},
		waiting:   make(chan string, 4),
		waitEnded: make(chan error, 4),
		terminals: make(chan *memTerminal, 4),
		logsEnded: make(chan struct{}, 4),
	}
}

// failWith makes every later call fail with err.
func (m *memService) failWith(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}

// feedLogs returns the writer behind the next Logs stream for name.
func (m *memService) feedLogs(name string) *io.PipeWriter {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, w := io.Pipe()
	m.logs[name] = r
	return w
}

// exit makes a waiting Wait for name return with code.
func (m *memService) exit(name string, code int) {
	m.mu.Lock()
	ch := m.exitChan(name)
	m.mu.Unlock()
	ch <- code
}

func (m *memService) exitChan(name string) chan int {
	ch, ok := m.exits[name]
	if !ok {
		ch = make(chan int)
		m.exits[name] = ch
	}
	return ch
}

// lookup returns the session (the caller holds mu).
func (m *memService) lookup(name string) (*clauderon.Session, error) {
	if m.fail != nil {
		return nil, m.fail
	}
	s, ok := m.sessions[name]
	if !ok {
		return nil, clauderon.Errorf(clauderon.ENOTFOUND, "session %q not found", name)
	}
	return s, nil
}

func clone(s *clauderon.Session) *clauderon.Session {
	c := *s
	if s.ExitCode != nil {
		code := *s.ExitCode
		c.ExitCode = &code
	}
	return &c
}

func (m *memService) Create(ctx context.Context, req clauderon.CreateRequest) (*clauderon.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastCreate = req
	if m.fail != nil {
		return nil, m.fail
	}
	if err := clauderon.ValidateSessionName(req.Name); err != nil {
		return nil, err
	}
	if _, ok := m.sessions[req.Name]; ok {
		return nil, clauderon.Errorf(clauderon.ECONFLICT, "a session named %q already exists", req.Name)
	}
	mode := clauderon.ModeInteractive
	if req.Print {
		mode = clauderon.ModePrint
	}
	s := &clauderon.Session{
		ID: "id-" + req.Name, Name: req.Name, Agent: req.Agent, Backend: req.Backend,
		Image: req.Image, Repo: req.Repo, Prompt: req.Prompt, Mode: mode,
		AccessMode: req.AccessMode, Status: clauderon.StatusRunning,
		ContainerID: "container-" + req.Name, TokenHash: "hash-that-must-not-cross",
		CPUs: req.CPUs, MemoryBytes: 512 << 20, CreatedAt: created, UpdatedAt: created,
	}
	if req.Repo != "" {
		s.Worktree = "/worktrees/" + req.Name
		s.Branch = "clauderon/" + req.Name
	}
	m.sessions[req.Name] = s
	return clone(s), nil
}

func (m *memService) Get(ctx context.Context, name string) (*clauderon.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.lookup(name)
	if err != nil {
		return nil, err
	}
	return clone(s), nil
}

func (m *memService) List(ctx context.Context, f clauderon.SessionFilter) ([]*clauderon.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastFilter = f
	if m.fail != nil {
		return nil, m.fail
	}
	var out []*clauderon.Session
	for _, s := range m.sessions {
		if s.Status != clauderon.StatusArchived || f.Archived {
			out = append(out, clone(s))
		}
	}
	slices.SortFunc(out, func(a, b *clauderon.Session) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

// setStatus is Start, Stop, Archive and Unarchive.
func (m *memService) setStatus(name string, st clauderon.SessionStatus) (*clauderon.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.lookup(name)
	if err != nil {
		return nil, err
	}
	s.Status = st
	if st == clauderon.StatusExited {
		m.stops++
		code := 0
		s.ExitCode = &code
	}
	return clone(s), nil
}

func (m *memService) Start(ctx context.Context, name string) (*clauderon.Session, error) {
	return m.setStatus(name, clauderon.StatusRunning)
}

func (m *memService) Stop(ctx context.Context, name string) (*clauderon.Session, error) {
	return m.setStatus(name, clauderon.StatusExited)
}

func (m *memService) Archive(ctx context.Context, name string) (*clauderon.Session, error) {
	return m.setStatus(name, clauderon.StatusArchived)
}

func (m *memService) Unarchive(ctx context.Context, name string) (*clauderon.Session, error) {
	return m.setStatus(name, clauderon.StatusExited)
}

func (m *memService) Delete(ctx context.Context, name string, force bool) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastForce = force
	if _, err := m.lookup(name); err != nil {
		return err
	}
	delete(m.sessions, name)
	return nil
}

func (m *memService) Reconcile(ctx context.Context) ([]*clauderon.Session, error) {
	m.mu.Lock()
	for _, s := range m.sessions {
		if s.Status == clauderon.StatusRunning {
			s.Status = clauderon.StatusFailed
			s.Error = "container is gone"
		}
	}
	m.mu.Unlock()
	return m.List(ctx, clauderon.SessionFilter{Archived: true})
}

func (m *memService) Attach(ctx context.Context, name string) (clauderon.Terminal, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, err := m.lookup(name); err != nil {
		return nil, err
	}
	t := newMemTerminal()
	m.terminals <- t
	return t, nil
}

func (m *memService) Logs(ctx context.Context, name string, follow bool) (clauderon.LogStream, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastFollow = follow
	if _, err := m.lookup(name); err != nil {
		return nil, err
	}
	r, ok := m.logs[name]
	if !ok {
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	delete(m.logs, name)
	return &closeNotifier{PipeReader: r, closed: m.logsEnded}, nil
}

// closeNotifier reports when the server closes a log stream.
type closeNotifier struct {
	*io.PipeReader
	once   sync.Once
	closed chan struct{}
}

func (c *closeNotifier) Close() error {
	c.once.Do(func() { c.closed <- struct{}{} })
	return c.PipeReader.Close()
}

func (m *memService) Wait(ctx context.Context, name string) (*clauderon.Session, error) {
	m.mu.Lock()
	if _, err := m.lookup(name); err != nil {
		m.mu.Unlock()
		return nil, err
	}
	exit := m.exitChan(name)
	m.mu.Unlock()
	m.waiting <- name
	select {
	case code := <-exit:
		m.mu.Lock()
		defer m.mu.Unlock()
		s := m.sessions[name]
		s.Status = clauderon.StatusExited
		s.ExitCode = &code
		return clone(s), nil
	case <-ctx.Done():
		m.waitEnded <- ctx.Err()
		return nil, ctx.Err()
	}
}

func (m *memService) ProxyEnv(ctx context.Context, name string) (*clauderon.ProxyEnv, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.lastProxyEnv = name
	if m.fail != nil {
		return nil, m.fail
	}
	if name == "" {
		name = "manual-1"
	}
	return &clauderon.ProxyEnv{
		Session: name,
		Token:   "tok-" + name,
		Args:    []string{"-e", "HTTPS_PROXY=http://tok-" + name + "@host.docker.internal:3128"},
	}, nil
}

func (m *memService) SetAccessMode(ctx context.Context, name string, mode clauderon.AccessMode) (*clauderon.Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, err := m.lookup(name)
	if err != nil {
		return nil, err
	}
	am, err := clauderon.ParseAccessMode(string(mode))
	if err != nil {
		return nil, err
	}
	s.AccessMode = am
	return clone(s), nil
}

// memTerminal is an attached terminal whose "agent" echoes its input back in
// upper case and records every resize. Closing it is a detach; End is the
// agent exiting.
type memTerminal struct {
	inR, outR *io.PipeReader
	inW, outW *io.PipeWriter
	resizes   chan [2]uint16
	closed    chan struct{}
	closeOnce sync.Once
}

func newMemTerminal() *memTerminal {
	t := &memTerminal{resizes: make(chan [2]uint16, 8), closed: make(chan struct{})}
	t.inR, t.inW = io.Pipe()
	t.outR, t.outW = io.Pipe()
	go t.echo()
	return t
}

func (t *memTerminal) echo() {
	buf := make([]byte, 1024)
	for {
		n, err := t.inR.Read(buf)
		if n > 0 {
			if _, werr := t.outW.Write(bytes.ToUpper(buf[:n])); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

func (t *memTerminal) Read(p []byte) (int, error)  { return t.outR.Read(p) }
func (t *memTerminal) Write(p []byte) (int, error) { return t.inW.Write(p) }

func (t *memTerminal) Resize(ctx context.Context, cols, rows uint16) error {
	t.resizes <- [2]uint16{cols, rows}
	return nil
}

func (t *memTerminal) Close() error {
	t.closeOnce.Do(func() {
		close(t.closed)
		t.inW.Close()
		t.outR.Close()
	})
	return nil
}

// End is the agent exiting: the terminal's output ends.
func (t *memTerminal) End() { t.outW.Close() }

// memAudit is an in-memory clauderon.AuditReader. Each Follow hands the test
// a follower through which it delivers events or ends the follow.
type memAudit struct {
	mu         sync.Mutex
	events     []clauderon.AuditEvent
	lastFilter clauderon.AuditFilter
	followers  chan *follower
}

type follower struct {
	filter clauderon.AuditFilter
	events chan clauderon.AuditEvent
	fail   chan error
	ended  chan error // what ended the follow on the server side
}

func newMemAudit(events ...clauderon.AuditEvent) *memAudit {
	return &memAudit{events: events, followers: make(chan *follower, 4)}
}

func (a *memAudit) Read(ctx context.Context, f clauderon.AuditFilter) ([]clauderon.AuditEvent, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lastFilter = f
	var out []clauderon.AuditEvent
	for _, ev := range a.events {
		if f.Session == "" || ev.Session == f.Session {
			out = append(out, ev)
		}
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[len(out)-f.Limit:]
	}
	return out, nil
}

func (a *memAudit) Follow(ctx context.Context, f clauderon.AuditFilter, fn func(clauderon.AuditEvent) error) error {
	fl := &follower{filter: f, events: make(chan clauderon.AuditEvent), fail: make(chan error), ended: make(chan error, 1)}
	a.followers <- fl
	for {
		select {
		case ev := <-fl.events:
			if err := fn(ev); err != nil {
				fl.ended <- err
				return err
			}
		case err := <-fl.fail:
			fl.ended <- err
			return err
		case <-ctx.Done():
			fl.ended <- ctx.Err()
			return ctx.Err()
		}
	}
}
