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
// daemon: the list shows a session live with its allowed hosts, Enter
// attaches and the agent answers, the detach keys come back to the list, m
// makes it read-only (the daemon says so) and back, R reconciles, t mints a
// proxy-env token shown once, and d + y deletes the token and the session.
func TestTUI(t *testing.T) {
	e := newEnv(t)
	const name = "tui1"
	e.claim(name)
	e.startDaemon()
	scr := startTmux(t, e.daemonEnv("TERM=xterm-256color"), 120, 40, binPath, "--home", e.home, "tui")
	scr.waitFor(`no sessions yet`)

	// Created elsewhere (the CLI), shown here by the events stream.
	e.must("create", "--name", name, "--prompt", "", "--image", e.image, "--allow", "registry.npmjs.org")
	scr.waitFor(`> ` + name + `\s+running`)
	scr.waitFor(`access read-write · allowed hosts: registry\.npmjs\.org`)

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

	// The access mode, switched at once, as the daemon sees it.
	scr.keys(true, "m")
	scr.waitFor(name + ` is now read-only`)
	if out := e.must("status", name); !regexp.MustCompile(`Access:\s+read-only`).MatchString(out) {
		t.Fatalf("the TUI's switch did not reach the daemon:\n%s", out)
	}
	scr.keys(true, "m")
	scr.waitFor(name + ` is now read-write`)
	if out := e.must("status", name); !regexp.MustCompile(`Access:\s+read-write`).MatchString(out) {
		t.Fatalf("the TUI's switch back did not reach the daemon:\n%s", out)
	}
	scr.keys(true, "R")
	scr.waitFor(`reconciled: all sessions match their containers`)

	// A proxy-env token: shown once, then listed.
	hand := name + "-hand"
	scr.keys(true, "t")
	scr.waitFor(`Proxy token for a container started by hand`)
	scr.keys(true, hand)
	scr.keys(false, "Enter")
	scr.waitFor(`Shown only this once`)
	scr.waitFor(`HTTPS_PROXY=http://` + hand + `:[A-Za-z0-9_-]{20,}@`)
	scr.keys(true, "x")
	scr.waitFor(`token ` + hand + ` minted`)
	scr.waitFor(hand + `\s+running\s+manual\s+by hand`)

	scr.keys(true, "?")
	scr.waitFor(`detach with Ctrl-P Ctrl-Q`)
	scr.keys(true, "x")
	scr.keys(true, "d")
	scr.waitFor(`Delete ` + name + `\?`)
	scr.keys(true, "y")
	scr.waitFor(`> ` + hand)
	scr.keys(true, "d")
	scr.waitFor(`Delete ` + hand + `\?`)
	scr.keys(true, "y")
	scr.waitFor(`no sessions yet`)
	if out := e.must("list", "--archived"); strings.Contains(out, name) {
		t.Fatalf("a session or token deleted in the TUI is still listed:\n%s", out)
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
