package tui

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/clauderon/clauderon"
)

// The actions beyond the list's lifecycle keys: the access mode, pull,
// reconcile, a proxy-env token and a session's output (logs), each the TUI's
// form of the CLI command of the same name.

// maxLogBytes is how much of a session's output the logs view keeps (the tail).
const maxLogBytes = 256 << 10

// Background messages of these actions.
type (
	proxyMintedMsg struct {
		env *clauderon.ProxyEnv
		err error
	}
	logMsg struct {
		name  string
		chunk []byte
		done  bool
		err   error
	}
)

// toggleAccess switches the selected session between read-only and
// read-write. The daemon applies it to the session's next request.
func (m *Model) toggleAccess(s *clauderon.Session) tea.Cmd {
	name, to := s.Name, clauderon.AccessReadOnly
	if s.AccessMode == clauderon.AccessReadOnly {
		to = clauderon.AccessReadWrite
	}
	return m.callResult("access mode of "+name, func() (string, []*clauderon.Session, error) {
		s, err := m.cfg.Client.SetAccessMode(m.ctx, name, to)
		if err != nil {
			return "", nil, err
		}
		return fmt.Sprintf("%s is now %s", s.Name, s.AccessMode), []*clauderon.Session{s}, nil
	})
}

// pull brings a Kubernetes session's commits into the user's repository;
// for a Docker session the daemon says there is nothing to pull.
func (m *Model) pull(s *clauderon.Session) tea.Cmd {
	name := s.Name
	return m.callResult("pull "+name, func() (string, []*clauderon.Session, error) {
		res, err := m.cfg.Client.Pull(m.ctx, name)
		if err != nil {
			return "", nil, err
		}
		return res.Message, nil, nil
	})
}

// reconcile makes the daemon compare its sessions with their containers.
func (m *Model) reconcile() tea.Cmd {
	return m.callResult("reconcile", func() (string, []*clauderon.Session, error) {
		changed, err := m.cfg.Client.Reconcile(m.ctx)
		if err != nil {
			return "", nil, err
		}
		if len(changed) == 0 {
			return "reconciled: all sessions match their containers", nil, nil
		}
		var parts []string
		for _, s := range changed {
			parts = append(parts, s.Name+" is "+string(s.Status))
		}
		return "reconciled: " + strings.Join(parts, ", "), changed, nil
	})
}

// callResult runs a daemon call whose outcome is a message (and maybe
// sessions as they are now, applied at once rather than at their event).
func (m *Model) callResult(what string, fn func() (string, []*clauderon.Session, error)) tea.Cmd {
	m.status = what + "…"
	return func() tea.Msg {
		msg, list, err := fn()
		if err != nil {
			return doneMsg{what: what, err: err}
		}
		return doneMsg{what: msg, sessions: list}
	}
}

// proxyDialog mints a proxy token for a container started by hand and then
// shows it, once: closing the dialog forgets it.
type proxyDialog struct {
	name textinput.Model
	busy bool
	err  string
	env  *clauderon.ProxyEnv
}

func newProxyDialog() *proxyDialog {
	in := textinput.New()
	in.Prompt = ""
	in.Placeholder = "manual-XXXXXX (empty: the daemon picks one)"
	in.SetWidth(50)
	return &proxyDialog{name: in}
}

func (m *Model) proxyKey(k tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	d := m.proxy
	if d.env != nil { // the token was shown: any key closes, and forgets it
		m.proxy = nil
		m.status = "token " + d.env.Session + " minted: it is listed; d deletes (revokes) it"
		return m, nil
	}
	switch k.String() {
	case "esc":
		m.proxy = nil
		return m, nil
	case "enter":
		if d.busy {
			return m, nil
		}
		name := strings.TrimSpace(d.name.Value())
		if name != "" {
			if err := clauderon.ValidateSessionName(name); err != nil {
				d.err = errMessage(err)
				return m, nil
			}
		}
		d.busy, d.err = true, ""
		return m, func() tea.Msg {
			env, err := m.cfg.Client.ProxyEnv(m.ctx, name)
			return proxyMintedMsg{env: env, err: err}
		}
	}
	var cmd tea.Cmd
	d.name, cmd = d.name.Update(k)
	return m, cmd
}

func (d *proxyDialog) view(width int) string {
	var b strings.Builder
	if d.env == nil {
		b.WriteString(titleStyle.Render("Proxy token for a container started by hand") + "\n\n")
		b.WriteString("A container you start yourself gets placeholder credentials; the proxy\nadds the real ones and audits its requests, like a session's.\n\n")
		b.WriteString("  name  " + d.name.View() + "\n\n")
		if d.busy {
			b.WriteString("minting…\n")
		}
		if d.err != "" {
			b.WriteString(errStyle.Render(d.err) + "\n")
		}
		b.WriteString(dimStyle.Render("enter mint · esc cancel"))
		return boxStyle.Render(b.String()) + "\n"
	}
	// No box: the command must copy out of the terminal as it is.
	b.WriteString(titleStyle.Render("Token "+d.env.Session) + "\n")
	b.WriteString(errStyle.Render("Shown only this once: the daemon keeps just its hash. Copy it now.") + "\n\n")
	b.WriteString("token " + d.env.Token + "\n\n")
	b.WriteString(wrapShell(dockerRun(d.env.Args, "IMAGE", "claude"), width) + "\n\n")
	b.WriteString(dimStyle.Render("replace IMAGE and the command with yours · any key closes (and forgets the token)"))
	return b.String()
}

// logView shows a session's output, following it while the session runs.
type logView struct {
	name   string
	text   []byte
	follow bool
	done   bool
	err    string
	cancel context.CancelFunc
}

// openLogs starts reading the session's output into the logs view.
func (m *Model) openLogs(s *clauderon.Session) {
	m.closeLogs()
	follow := s.Status == clauderon.StatusRunning || s.Status == clauderon.StatusCreating
	ctx, cancel := context.WithCancel(m.ctx)
	name := s.Name
	m.logs = &logView{name: name, follow: follow, cancel: cancel}
	go func() {
		rc, err := m.cfg.Client.Logs(ctx, name, follow)
		if err != nil {
			m.send(logMsg{name: name, err: err})
			return
		}
		defer rc.Close()
		buf := make([]byte, 32<<10)
		for {
			n, err := rc.Read(buf)
			if n > 0 {
				m.send(logMsg{name: name, chunk: append([]byte(nil), buf[:n]...)})
			}
			if err != nil {
				if errors.Is(err, io.EOF) {
					err = nil
				}
				if ctx.Err() == nil {
					m.send(logMsg{name: name, done: true, err: err})
				}
				return
			}
		}
	}()
}

func (m *Model) closeLogs() {
	if m.logs != nil {
		m.logs.cancel()
		m.logs = nil
	}
}

func (v *logView) add(msg logMsg) {
	v.text = append(v.text, msg.chunk...)
	if len(v.text) > maxLogBytes {
		v.text = v.text[len(v.text)-maxLogBytes:]
	}
	if msg.done {
		v.done = true
	}
	if msg.err != nil {
		v.err = errMessage(msg.err)
	}
}

func (v *logView) view(height int) string {
	var b strings.Builder
	state := "loading…"
	switch {
	case v.err != "":
		state = errStyle.Render(v.err)
	case v.done:
		state = "the end"
	case v.follow:
		state = "following…"
	}
	b.WriteString(titleStyle.Render("output: "+v.name) + "  " + dimStyle.Render(state) + "\n")
	lines := strings.Split(strings.TrimRight(stripANSI(string(v.text)), "\n"), "\n")
	if len(v.text) == 0 {
		lines = []string{dimStyle.Render("(no output yet)")}
	}
	if n := max(height-4, 3); len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	b.WriteString(strings.Join(lines, "\n") + "\n")
	b.WriteString(dimStyle.Render("esc or q closes"))
	return b.String()
}

var ansiRE = regexp.MustCompile(`\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-Z\\-_]`)

// stripANSI removes terminal escapes and lone carriage returns from output
// shown as text.
func stripANSI(s string) string {
	s = ansiRE.ReplaceAllString(s, "")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "")
}

var shellSafe = regexp.MustCompile(`^[A-Za-z0-9_@%+=:,./-]+$`)

// shellQuote quotes s for a POSIX shell when it needs it.
func shellQuote(s string) string {
	if shellSafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// dockerRun renders proxy-env's arguments as a docker run command to paste,
// one flag and its value a line, as the web UI shows it.
func dockerRun(args []string, image, cmd string) string {
	lines := []string{"docker run -it --rm"}
	for i := 0; i < len(args); i++ {
		a := shellQuote(args[i])
		if strings.HasPrefix(args[i], "-") && i+1 < len(args) && !strings.HasPrefix(args[i+1], "-") {
			i++
			a += " " + shellQuote(args[i])
		}
		lines = append(lines, "  "+a)
	}
	lines = append(lines, "  "+strings.TrimSpace(image+" "+cmd))
	for i := range lines[:len(lines)-1] {
		lines[i] += ` \`
	}
	return strings.Join(lines, "\n")
}

// wrapShell breaks lines wider than the terminal with a backslash-newline,
// which the shell removes again (outside quotes), so the command still
// pastes whole.
func wrapShell(s string, width int) string {
	if width < 20 {
		return s
	}
	var out []string
	for _, line := range strings.Split(s, "\n") {
		for len(line) > width-1 {
			cut := width - 2
			out = append(out, line[:cut]+`\`)
			line = line[cut:]
		}
		out = append(out, line)
	}
	return strings.Join(out, "\n")
}
