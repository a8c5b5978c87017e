package tui

import (
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/clauderon/clauderon"
)

// createDialog is the form for a new session: one text field per option,
// Tab and Enter to move on, Enter on the last field (or Ctrl-S) to create.
type createDialog struct {
	inputs []textinput.Model
	labels []string
	focus  int
	err    string
	busy   bool
}

const (
	fName = iota
	fPrompt
	fRepo
	fAgent
	fImage
	fMode
	fAccess
	fAllow
)

func newCreateDialog() *createDialog {
	d := &createDialog{labels: []string{"name", "prompt", "repository", "agent", "image", "mode", "access mode", "allowed hosts"}}
	placeholders := []string{"fix-login-bug", "what should the agent do?", "/path/to/repo (empty: an empty workspace)",
		"claude, codex or gemini", "the agent's default image", "interactive or print", "read-write or read-only", "host, *.example.com, …"}
	for i := range d.labels {
		in := textinput.New()
		in.Prompt = ""
		in.Placeholder = placeholders[i]
		in.SetWidth(50)
		d.inputs = append(d.inputs, in)
	}
	d.inputs[fAgent].SetValue(clauderon.DefaultAgent)
	d.inputs[fMode].SetValue(string(clauderon.ModeInteractive))
	d.inputs[fAccess].SetValue(string(clauderon.AccessReadWrite))
	return d
}

// move focuses the field delta steps away.
func (d *createDialog) move(delta int) tea.Cmd {
	d.inputs[d.focus].Blur()
	d.focus = (d.focus + delta + len(d.inputs)) % len(d.inputs)
	return d.inputs[d.focus].Focus()
}

func (d *createDialog) update(msg tea.Msg) tea.Cmd {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch k.String() {
		case "tab", "down":
			return d.move(1)
		case "shift+tab", "up":
			return d.move(-1)
		}
	}
	var cmd tea.Cmd
	d.inputs[d.focus], cmd = d.inputs[d.focus].Update(msg)
	return cmd
}

// request checks what can be checked here; the daemon checks the rest and
// its message is shown in the dialog.
func (d *createDialog) request() (clauderon.CreateRequest, string) {
	val := func(i int) string { return strings.TrimSpace(d.inputs[i].Value()) }
	req := clauderon.CreateRequest{
		Name: val(fName), Prompt: d.inputs[fPrompt].Value(), Repo: val(fRepo), Agent: val(fAgent),
		Image: val(fImage), AccessMode: clauderon.AccessMode(val(fAccess)),
	}
	if err := clauderon.ValidateSessionName(req.Name); err != nil {
		return req, err.Error()
	}
	switch clauderon.Mode(val(fMode)) {
	case clauderon.ModeInteractive, "":
	case clauderon.ModePrint:
		req.Print = true
	default:
		return req, "mode: use interactive or print"
	}
	for _, h := range strings.FieldsFunc(val(fAllow), func(r rune) bool { return r == ',' || r == ' ' }) {
		req.Allow = append(req.Allow, h)
	}
	return req, ""
}

func (d *createDialog) view() string {
	var b strings.Builder
	b.WriteString(titleStyle.Render("New session") + "\n\n")
	for i, in := range d.inputs {
		mark := "  "
		if i == d.focus {
			mark = "> "
		}
		b.WriteString(mark + padRight(d.labels[i], 14) + in.View() + "\n")
	}
	b.WriteString("\n")
	if d.busy {
		b.WriteString("creating…\n")
	}
	if d.err != "" {
		b.WriteString(errStyle.Render(d.err) + "\n")
	}
	b.WriteString(dimStyle.Render("tab/↓ next · shift+tab/↑ back · enter on the last field or ctrl+s create · esc cancel"))
	return boxStyle.Render(b.String()) + "\n"
}

func padRight(s string, n int) string {
	if len(s) >= n {
		return s + " "
	}
	return s + strings.Repeat(" ", n-len(s))
}
