package e2e

import (
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// tmuxScreen runs a program in a detached tmux session, as a person's
// terminal would, and reads what it shows.
type tmuxScreen struct {
	t      *testing.T
	socket string
}

func startTmux(t *testing.T, env []string, width, height int, argv ...string) *tmuxScreen {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		requireOrSkip(t, "tmux is not installed: run `make test`, or webui/scripts/ensure-test-deps.sh")
	}
	s := &tmuxScreen{t: t, socket: "clauderon-tui-" + strings.ReplaceAll(t.Name(), "/", "-")}
	_ = exec.Command("tmux", "-L", s.socket, "kill-server").Run()
	args := []string{"-L", s.socket, "-f", "/dev/null", "new-session", "-d", "-s", "t", "-x", itoa(width), "-y", itoa(height)}
	for _, kv := range env {
		args = append(args, "-e", kv)
	}
	cmd := exec.Command("tmux", append(args, argv...)...)
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("tmux", "-L", s.socket, "kill-server").Run() })
	return s
}

func itoa(n int) string { return strconv.Itoa(n) }

func (s *tmuxScreen) text() string {
	out, err := exec.Command("tmux", "-L", s.socket, "capture-pane", "-p", "-t", "t").Output()
	if err != nil {
		return ""
	}
	return string(out)
}

// keys sends tmux key names (Enter, C-p) or, with literal, text.
func (s *tmuxScreen) keys(literal bool, keys ...string) {
	s.t.Helper()
	args := []string{"-L", s.socket, "send-keys", "-t", "t"}
	if literal {
		args = append(args, "-l")
	}
	if out, err := exec.Command("tmux", append(args, keys...)...).CombinedOutput(); err != nil {
		s.t.Fatalf("tmux send-keys %v: %v\n%s", keys, err, out)
	}
}

// waitFor waits until the screen matches re. The deadline only bounds a
// broken run.
func (s *tmuxScreen) waitFor(re string) {
	s.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(90 * time.Second)
	for !rx.MatchString(s.text()) {
		if time.Now().After(deadline) {
			s.t.Fatalf("the screen never matched %q; it shows:\n%s", re, s.text())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestTUI drives `clauderon tui` in a real terminal (tmux) against the
// daemon: the list shows a session live, Enter attaches and the agent
// answers, the detach keys come back to the list, and d + y deletes it.
func TestTUI(t *testing.T) {
	e := newEnv(t)
	const name = "tui1"
	e.claim(name)
	e.startDaemon()
	scr := startTmux(t, e.daemonEnv("TERM=xterm-256color"), 120, 40, binPath, "--home", e.home, "tui")
	scr.waitFor(`no sessions yet`)

	// Created elsewhere (the CLI), shown here by the events stream.
	e.must("create", "--name", name, "--prompt", "", "--image", e.image)
	scr.waitFor(`> ` + name + `\s+running`)

	scr.keys(false, "Enter")
	scr.waitFor(`\[attached to ` + name)
	scr.keys(true, "/echo tui-ok-42")
	scr.keys(false, "Enter")
	scr.waitFor(`(?m)^(> )?tui-ok-42\s*$`) // the agent may start after the line is typed: its prompt then precedes the answer
	scr.keys(true, "hello from the tui")
	scr.keys(false, "Enter")
	scr.waitFor(`fake-provider says: hello from the tui`)
	scr.keys(false, "C-p", "C-q")
	scr.waitFor(`back from ` + name)
	// The audit pane shows the request the agent just made.
	scr.waitFor(`api\.anthropic\.com/v1/messages 200 injected allowed`)

	scr.keys(true, "?")
	scr.waitFor(`detach with Ctrl-P Ctrl-Q`)
	scr.keys(true, "x")
	scr.keys(true, "d")
	scr.waitFor(`Delete ` + name + `\?`)
	scr.keys(true, "y")
	scr.waitFor(`no sessions yet`)
	if out := e.must("list", "--archived"); strings.Contains(out, name) {
		t.Fatalf("the session deleted in the TUI is still listed:\n%s", out)
	}
	scr.keys(true, "q")
	deadline := time.Now().Add(30 * time.Second)
	for exec.Command("tmux", "-L", scr.socket, "has-session", "-t", "t").Run() == nil {
		if time.Now().After(deadline) {
			t.Fatalf("q did not quit the TUI:\n%s", scr.text())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
