package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/httpapi"
)

// auditLines is how many of the selected session's audit lines the pane shows.
const auditLines = 6

// Client is what the TUI needs from the daemon; *httpapi.Client has it all.
type Client interface {
	Events(ctx context.Context, fn func(httpapi.Event) error) error
	Create(ctx context.Context, req clauderon.CreateRequest) (*clauderon.Session, error)
	Start(ctx context.Context, name string) (*clauderon.Session, error)
	Stop(ctx context.Context, name string) (*clauderon.Session, error)
	Archive(ctx context.Context, name string) (*clauderon.Session, error)
	Unarchive(ctx context.Context, name string) (*clauderon.Session, error)
	Delete(ctx context.Context, name string, force bool) error
	SetAccessMode(ctx context.Context, name string, m clauderon.AccessMode) (*clauderon.Session, error)
	Reconcile(ctx context.Context) ([]*clauderon.Session, error)
	Pull(ctx context.Context, name string) (*clauderon.PullResult, error)
	ProxyEnv(ctx context.Context, name string) (*clauderon.ProxyEnv, error)
	Logs(ctx context.Context, name string, follow bool) (clauderon.LogStream, error)
	Audit(ctx context.Context, f clauderon.AuditFilter) ([]clauderon.AuditEvent, error)
	FollowAudit(ctx context.Context, f clauderon.AuditFilter, fn func(clauderon.AuditEvent) error) error
}

// AttachFunc gives a session the terminal until the user detaches or the
// session ends.
type AttachFunc func(ctx context.Context, name string, stdin io.Reader, stdout, stderr io.Writer) error

// Config wires the TUI.
type Config struct {
	Client Client
	Attach AttachFunc
	Now    func() time.Time
}

// Run runs the TUI on the terminal until the user quits or ctx ends.
func Run(ctx context.Context, cfg Config, opts ...tea.ProgramOption) error {
	m := New(ctx, cfg)
	defer m.Close()
	_, err := tea.NewProgram(m, append([]tea.ProgramOption{tea.WithContext(ctx)}, opts...)...).Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		return nil
	}
	return err
}

// Messages from the background (the events stream, the audit follow, calls).
type (
	eventMsg  httpapi.Event
	streamMsg struct{ err error } // the events stream broke (it reconnects)
	auditMsg  struct {
		name    string
		events  []clauderon.AuditEvent
		replace bool
	}
	doneMsg struct {
		what     string
		err      error
		force    string
		sessions []*clauderon.Session // as the call answered them, applied at once
	}
	attachedMsg struct {
		name string
		err  error
	}
	createdMsg struct {
		s   *clauderon.Session
		err error
	}
)

// confirm is a pending yes/no question.
type confirm struct {
	question string
	action   func() tea.Cmd
}

// Model is the TUI's state. Use New; it is driven by bubbletea.
type Model struct {
	ctx    context.Context
	cancel context.CancelFunc
	cfg    Config
	ch     chan tea.Msg

	sessions map[string]*clauderon.Session
	synced   bool
	live     string // "" when the stream is up, else why not
	cursor   int
	selected string

	filter       textinput.Model
	filtering    bool
	showArchived bool
	help         bool
	confirm      *confirm
	create       *createDialog
	proxy        *proxyDialog
	logs         *logView
	status       string // the last action's outcome
	width        int
	height       int

	audit       []clauderon.AuditEvent
	auditFor    string
	auditCancel context.CancelFunc
}

// New returns the TUI's model; the events stream starts with the program.
func New(ctx context.Context, cfg Config) *Model {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ctx, cancel := context.WithCancel(ctx)
	f := textinput.New()
	f.Prompt = "/"
	f.Placeholder = "filter by name, agent, status, prompt"
	return &Model{ctx: ctx, cancel: cancel, cfg: cfg, ch: make(chan tea.Msg, 256),
		sessions: map[string]*clauderon.Session{}, filter: f, width: 100, height: 30}
}

// Close stops the background streams.
func (m *Model) Close() {
	m.closeLogs()
	m.cancel()
}

func (m *Model) Init() tea.Cmd {
	go m.streamEvents()
	return m.next
}

// next delivers the next background message.
func (m *Model) next() tea.Msg {
	select {
	case msg := <-m.ch:
		return msg
	case <-m.ctx.Done():
		return nil
	}
}

func (m *Model) send(msg tea.Msg) {
	select {
	case m.ch <- msg:
	case <-m.ctx.Done():
	}
}

// streamEvents keeps the events stream open, reconnecting (with a fresh
// sync) when it breaks.
func (m *Model) streamEvents() {
	backoff := 500 * time.Millisecond
	for m.ctx.Err() == nil {
		err := m.cfg.Client.Events(m.ctx, func(ev httpapi.Event) error {
			backoff = 500 * time.Millisecond
			m.send(eventMsg(ev))
			return nil
		})
		if m.ctx.Err() != nil {
			return
		}
		m.send(streamMsg{err: err})
		select {
		case <-time.After(backoff):
		case <-m.ctx.Done():
			return
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// followAudit shows the latest audit lines of the selected session and
// follows new ones, until the selection changes.
func (m *Model) followAudit(name string) {
	if m.auditFor == name {
		return
	}
	if m.auditCancel != nil {
		m.auditCancel()
	}
	m.auditFor, m.audit = name, nil
	if name == "" {
		m.auditCancel = nil
		return
	}
	ctx, cancel := context.WithCancel(m.ctx)
	m.auditCancel = cancel
	go func() {
		f := clauderon.AuditFilter{Session: name, Limit: auditLines}
		events, err := m.cfg.Client.Audit(ctx, f)
		if err != nil {
			return // the pane stays empty; the list matters more
		}
		m.send(auditMsg{name: name, events: events, replace: true})
		_ = m.cfg.Client.FollowAudit(ctx, f, func(ev clauderon.AuditEvent) error {
			m.send(auditMsg{name: name, events: []clauderon.AuditEvent{ev}})
			return nil
		})
	}()
}

// visible is the filtered, sorted list.
func (m *Model) visible() []*clauderon.Session {
	q := strings.ToLower(strings.TrimSpace(m.filter.Value()))
	var out []*clauderon.Session
	for _, s := range m.sessions {
		if s.Status == clauderon.StatusArchived && !m.showArchived {
			continue
		}
		if q != "" && !strings.Contains(strings.ToLower(strings.Join([]string{s.Name, s.Agent, s.Backend, string(s.Status), s.Prompt, s.Repo}, " ")), q) {
			continue
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *clauderon.Session) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// fixCursor keeps the selection on the same session when the list changes.
func (m *Model) fixCursor() {
	list := m.visible()
	if i := slices.IndexFunc(list, func(s *clauderon.Session) bool { return s.Name == m.selected }); i >= 0 {
		m.cursor = i
	}
	m.cursor = max(0, min(m.cursor, len(list)-1))
	m.selected = ""
	if len(list) > 0 {
		m.selected = list[m.cursor].Name
	}
	m.followAudit(m.selected)
}

func (m *Model) current() *clauderon.Session {
	if m.selected == "" {
		return nil
	}
	return m.sessions[m.selected]
}

func (m *Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
		return m, nil
	case eventMsg:
		m.apply(httpapi.Event(msg))
		return m, m.next
	case streamMsg:
		m.live = "reconnecting to the daemon…"
		if msg.err != nil {
			m.live = "reconnecting: " + clauderon.ErrorMessage(msg.err)
			var e *clauderon.Error
			if errors.As(msg.err, &e) {
				m.live = "reconnecting: " + e.Message
			}
		}
		return m, m.next
	case auditMsg:
		if msg.name == m.auditFor {
			if msg.replace {
				m.audit = msg.events
			} else {
				m.audit = append(m.audit, msg.events...)
			}
			if len(m.audit) > auditLines {
				m.audit = m.audit[len(m.audit)-auditLines:]
			}
		}
		return m, m.next
	case logMsg:
		if m.logs != nil && m.logs.name == msg.name {
			m.logs.add(msg)
		}
		return m, m.next
	case proxyMintedMsg:
		if m.proxy != nil {
			m.proxy.busy = false
			if msg.err != nil {
				m.proxy.err = errMessage(msg.err)
			} else {
				m.proxy.env = msg.env
			}
		}
		return m, nil
	case doneMsg:
		m.status = msg.what
		for _, s := range msg.sessions {
			m.sessions[s.Name] = s
		}
		if len(msg.sessions) > 0 {
			m.fixCursor()
		}
		if msg.err != nil {
			m.status = msg.what + " failed: " + errMessage(msg.err)
			if msg.force != "" && clauderon.ErrorCode(msg.err) == clauderon.ECONFLICT {
				name := msg.force
				m.confirm = &confirm{
					question: errMessage(msg.err) + "\nDelete " + name + " anyway and lose that work? (y/n)",
					action: func() tea.Cmd {
						return m.call("deleted "+name, "", func() error { return m.cfg.Client.Delete(m.ctx, name, true) })
					},
				}
			}
		}
		return m, nil
	case createdMsg:
		if msg.err != nil && m.create != nil {
			m.create.err = errMessage(msg.err)
			m.create.busy = false
			return m, nil
		}
		m.create = nil
		if msg.s != nil {
			m.sessions[msg.s.Name] = msg.s
			m.selected = msg.s.Name
			m.status = "created " + msg.s.Name
			m.fixCursor()
		}
		return m, nil
	case attachedMsg:
		m.status = "back from " + msg.name
		if msg.err != nil {
			m.status = "attach to " + msg.name + " failed: " + errMessage(msg.err)
		}
		return m, nil
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	if m.create != nil {
		return m, m.create.update(msg)
	}
	if m.proxy != nil && m.proxy.env == nil {
		var cmd tea.Cmd
		m.proxy.name, cmd = m.proxy.name.Update(msg)
		return m, cmd
	}
	if m.filtering {
		var cmd tea.Cmd
		m.filter, cmd = m.filter.Update(msg)
		return m, cmd
	}
	return m, nil
}

func (m *Model) apply(ev httpapi.Event) {
	switch ev.Type {
	case httpapi.EventSync:
		m.sessions = map[string]*clauderon.Session{}
		for _, s := range ev.Sessions {
			m.sessions[s.Name] = s
		}
		m.synced, m.live = true, ""
	case "created", "updated":
		if ev.Session != nil {
			m.sessions[ev.Session.Name] = ev.Session
		}
	case "deleted":
		if ev.Session != nil {
			delete(m.sessions, ev.Session.Name)
		}
	}
	m.fixCursor()
}

func (m *Model) key(k tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	key := k.String()
	if key == "ctrl+c" {
		return m, tea.Quit
	}
	if m.confirm != nil {
		c := m.confirm
		m.confirm = nil
		if key == "y" || key == "Y" {
			return m, c.action()
		}
		m.status = "cancelled"
		return m, nil
	}
	if m.create != nil {
		switch key {
		case "esc":
			m.create = nil
			return m, nil
		case "enter", "ctrl+s":
			if key == "enter" && m.create.focus < len(m.create.inputs)-1 {
				return m, m.create.move(1)
			}
			req, err := m.create.request()
			if err != "" {
				m.create.err = err
				return m, nil
			}
			m.create.busy, m.create.err = true, ""
			return m, func() tea.Msg {
				s, err := m.cfg.Client.Create(m.ctx, req)
				return createdMsg{s: s, err: err}
			}
		}
		return m, m.create.update(k)
	}
	if m.proxy != nil {
		return m.proxyKey(k)
	}
	if m.logs != nil {
		if key == "esc" || key == "q" {
			m.closeLogs()
		}
		return m, nil
	}
	if m.help {
		m.help = false
		return m, nil
	}
	if m.filtering {
		switch key {
		case "enter", "esc":
			m.filtering = false
			m.filter.Blur()
			if key == "esc" {
				m.filter.SetValue("")
			}
			m.fixCursor()
			return m, nil
		}
		var cmd tea.Cmd
		m.filter, cmd = m.filter.Update(k)
		m.fixCursor()
		return m, cmd
	}
	list := m.visible()
	s := m.current()
	switch key {
	case "q":
		return m, tea.Quit
	case "?":
		m.help = true
	case "up", "k":
		if m.cursor > 0 {
			m.cursor--
			m.selected = list[m.cursor].Name
			m.followAudit(m.selected)
		}
	case "down", "j":
		if m.cursor < len(list)-1 {
			m.cursor++
			m.selected = list[m.cursor].Name
			m.followAudit(m.selected)
		}
	case "/":
		m.filtering = true
		return m, m.filter.Focus()
	case "H":
		m.showArchived = !m.showArchived
		m.fixCursor()
	case "n":
		m.create = newCreateDialog()
		return m, m.create.move(0)
	case "enter":
		if s == nil {
			return m, nil
		}
		if s.Manual {
			m.status = s.Name + " is a proxy token for a container started by hand: there is nothing to attach to"
			return m, nil
		}
		if s.Mode == clauderon.ModePrint {
			m.openLogs(s) // a print session has no terminal: its output is what there is
			return m, nil
		}
		if s.Status != clauderon.StatusRunning {
			m.status = s.Name + " is not running: press s to start it"
			return m, nil
		}
		name := s.Name
		return m, tea.Exec(&attachCommand{ctx: m.ctx, name: name, attach: m.cfg.Attach}, func(err error) tea.Msg {
			return attachedMsg{name: name, err: err}
		})
	case "l":
		if s == nil {
			return m, nil
		}
		if s.Manual {
			m.status = s.Name + " is a proxy token: its container is yours, and so are its logs"
			return m, nil
		}
		m.openLogs(s)
	case "m":
		if s == nil {
			return m, nil
		}
		return m, m.toggleAccess(s)
	case "p":
		if s == nil {
			return m, nil
		}
		return m, m.pull(s)
	case "R":
		return m, m.reconcile()
	case "t":
		m.proxy = newProxyDialog()
		return m, m.proxy.name.Focus()
	case "s":
		if s == nil {
			return m, nil
		}
		name := s.Name
		if s.Manual && s.Status != clauderon.StatusArchived {
			m.status = name + " is a proxy token: its container is yours to start and stop"
			return m, nil
		}
		if s.Status == clauderon.StatusRunning || s.Status == clauderon.StatusCreating {
			m.confirm = &confirm{question: "Stop " + name + "? (y/n)", action: func() tea.Cmd {
				return m.call("stopped "+name, "", func() error { _, err := m.cfg.Client.Stop(m.ctx, name); return err })
			}}
			return m, nil
		}
		if s.Status == clauderon.StatusArchived {
			return m, m.call("unarchived "+name, "", func() error { _, err := m.cfg.Client.Unarchive(m.ctx, name); return err })
		}
		return m, m.call("started "+name, "", func() error { _, err := m.cfg.Client.Start(m.ctx, name); return err })
	case "a":
		if s == nil || s.Status == clauderon.StatusArchived {
			return m, nil
		}
		name := s.Name
		m.confirm = &confirm{question: "Archive " + name + "? It stops and is hidden; its proxy token stops working. (y/n)", action: func() tea.Cmd {
			return m.call("archived "+name, "", func() error { _, err := m.cfg.Client.Archive(m.ctx, name); return err })
		}}
	case "d":
		if s == nil {
			return m, nil
		}
		name := s.Name
		m.confirm = &confirm{question: "Delete " + name + "? Its container and worktree go; its branch stays. (y/n)", action: func() tea.Cmd {
			return m.call("deleted "+name, name, func() error { return m.cfg.Client.Delete(m.ctx, name, false) })
		}}
	}
	return m, nil
}

// call runs a daemon call in the background; the list updates from events.
// force names the session whose delete may be retried with force.
func (m *Model) call(what, force string, fn func() error) tea.Cmd {
	m.status = what + "…"
	return func() tea.Msg { return doneMsg{what: what, err: fn(), force: force} }
}

func errMessage(err error) string {
	var e *clauderon.Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// attachCommand runs the attach as bubbletea's Exec: the TUI releases the
// terminal first and takes it back after.
type attachCommand struct {
	ctx    context.Context
	name   string
	attach AttachFunc
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

func (c *attachCommand) Run() error {
	if c.attach == nil {
		return clauderon.Errorf(clauderon.EUNAVAILABLE, "attaching is not available here")
	}
	return c.attach(c.ctx, c.name, c.stdin, c.stdout, c.stderr)
}
func (c *attachCommand) SetStdin(r io.Reader)  { c.stdin = r }
func (c *attachCommand) SetStdout(w io.Writer) { c.stdout = w }
func (c *attachCommand) SetStderr(w io.Writer) { c.stderr = w }

// Styles.
var (
	titleStyle   = lipgloss.NewStyle().Bold(true)
	dimStyle     = lipgloss.NewStyle().Faint(true)
	selStyle     = lipgloss.NewStyle().Reverse(true)
	errStyle     = lipgloss.NewStyle().Foreground(lipgloss.Color("1"))
	statusStyles = map[clauderon.SessionStatus]lipgloss.Style{
		clauderon.StatusRunning:  lipgloss.NewStyle().Foreground(lipgloss.Color("2")),
		clauderon.StatusCreating: lipgloss.NewStyle().Foreground(lipgloss.Color("3")),
		clauderon.StatusFailed:   lipgloss.NewStyle().Foreground(lipgloss.Color("1")),
		clauderon.StatusExited:   lipgloss.NewStyle(),
		clauderon.StatusArchived: lipgloss.NewStyle().Faint(true),
	}
	boxStyle = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).Padding(0, 1)
)

func (m *Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "clauderon"
	return v
}

func (m *Model) render() string {
	var b strings.Builder
	live := "live"
	if m.live != "" {
		live = m.live
	} else if !m.synced {
		live = "connecting…"
	}
	b.WriteString(titleStyle.Render("clauderon") + "  " + dimStyle.Render(live) + "\n")
	if m.help {
		b.WriteString(helpText)
		return b.String()
	}
	if m.create != nil {
		b.WriteString(m.create.view())
		return b.String()
	}
	if m.proxy != nil {
		b.WriteString(m.proxy.view(m.width))
		return b.String()
	}
	if m.logs != nil {
		b.WriteString(m.logs.view(m.height))
		return b.String()
	}
	if m.filtering || m.filter.Value() != "" {
		b.WriteString(m.filter.View() + "\n")
	}
	list := m.visible()
	now := m.cfg.Now()
	header := fmt.Sprintf("  %-24s %-9s %-8s %-11s %-14s %s", "NAME", "STATUS", "AGENT", "BACKEND", "MODE", "AGE")
	b.WriteString(dimStyle.Render(header) + "\n")
	if m.synced && len(list) == 0 {
		if len(m.sessions) == 0 {
			b.WriteString("  no sessions yet: press n to create one\n")
		} else {
			b.WriteString("  no session matches\n")
		}
	}
	for i, s := range list {
		st := statusStyles[s.Status].Render(fmt.Sprintf("%-9s", s.Status))
		mode := string(s.Mode)
		if s.Manual {
			mode = "by hand"
		}
		if s.AccessMode == clauderon.AccessReadOnly {
			mode += " ro"
		}
		line := fmt.Sprintf("%-24s %s %-8s %-11s %-14s %s", trunc(s.Name, 24), st, s.Agent, s.Backend, mode, age(now.Sub(s.CreatedAt)))
		if i == m.cursor {
			b.WriteString(selStyle.Render("> "+line) + "\n")
		} else {
			b.WriteString("  " + line + "\n")
		}
	}
	if s := m.current(); s != nil {
		b.WriteString("\n" + m.auditPane(s))
	}
	if m.confirm != nil {
		b.WriteString("\n" + boxStyle.Render(m.confirm.question) + "\n")
	}
	if m.status != "" {
		b.WriteString("\n" + m.status + "\n")
	}
	b.WriteString("\n" + dimStyle.Render("enter attach · l logs · n new · s stop/start · m access · a archive · d delete · / filter · ? more · q quit"))
	return b.String()
}

func (m *Model) auditPane(s *clauderon.Session) string {
	var b strings.Builder
	b.WriteString(details(s))
	b.WriteString(titleStyle.Render("audit: "+s.Name) + "\n")
	if s.Error != "" {
		b.WriteString(errStyle.Render("error: "+s.Error) + "\n")
	}
	if len(m.audit) == 0 {
		b.WriteString(dimStyle.Render("  no requests yet") + "\n")
	}
	for _, ev := range m.audit {
		inj := "-"
		if ev.AuthInjected {
			inj = "injected"
		}
		line := fmt.Sprintf("  %s %-6s %s%s %d %s %s", ev.Time.Local().Format("15:04:05"), ev.Method, ev.Host, trunc(ev.Path, 40), ev.Status, inj, ev.Decision)
		if ev.Error != "" {
			line += ": " + ev.Error
		}
		if ev.Decision == clauderon.DecisionDenied || ev.Decision == clauderon.DecisionError {
			line = errStyle.Render(line)
		}
		b.WriteString(line + "\n")
	}
	return b.String()
}

const helpText = `
  enter      attach to the selected session (detach with Ctrl-P Ctrl-Q);
             on a print session, show its output
  ↑/↓ k/j    move
  l          the session's output (follows it while it runs; esc closes)
  n          create a session
  s          stop a running session (asks), start a stopped one,
             unarchive an archived one
  m          switch read-write ↔ read-only, at once
  a          archive (asks)
  d          delete (asks; asks again before dropping uncommitted work)
  p          pull the session's commits into your repository (Kubernetes)
  t          mint a proxy token for a container you start by hand
  R          reconcile: bring session states in line with their containers
  /          filter by name, agent, status or prompt (esc clears)
  H          show or hide archived sessions
  ?          this help (any key closes it)
  q          quit (sessions keep running)
`

// details is the selected session's line of facts: what it may reach and
// where it works.
func details(s *clauderon.Session) string {
	allow := "none besides the agent's provider"
	if s.Manual {
		allow = "none besides the agents' providers"
	}
	if len(s.Allow) > 0 {
		allow = strings.Join(s.Allow, ", ")
	}
	mode := s.AccessMode
	if mode == "" {
		mode = clauderon.AccessReadWrite
	}
	line := fmt.Sprintf("%s  access %s · allowed hosts: %s", titleStyle.Render(s.Name), mode, allow)
	if s.Image != "" {
		line += " · image " + s.Image
	}
	if s.Branch != "" {
		line += " · branch " + s.Branch
	}
	return line + "\n"
}

func trunc(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-1] + "…"
}

func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(max(d, 0).Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
