package e2e

import (
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
)

// claudeDialogs are first-run screens and questions Claude Code must not
// show in a session: clauderon's ~/.claude.json answers them ahead.
var claudeDialogs = []string{
	"Do you want to use this API key",       // API key approval
	"Choose the text style",                 // onboarding: theme
	"Select login method",                   // onboarding: login
	"Do you trust the files in this folder", // workspace trust (1.x)
	"Quick safety check",                    // workspace trust (2.x)
	"Yes, I trust this folder",
	"Bypass Permissions mode", // --dangerously-skip-permissions warning
	"Yes, I accept",
}

// TestAgentClaudeInteractive attaches to the real Claude Code through a
// pseudo-terminal: its interface shows with no first-run screens, a typed
// prompt gets the fake provider's answer on screen, and Ctrl-P Ctrl-Q
// detaches, leaving the session running.
func TestAgentClaudeInteractive(t *testing.T) {
	t.Parallel()
	image := agentImage(t, "claude")
	e := newAgentEnv(t, claudeOAuth)
	e.claim("ac-tui")
	e.must("create", "--agent", "claude", "--name", "ac-tui", "--image", image)

	cmd := exec.Command(binPath, "--home", e.home, "attach", "ac-tui")
	cmd.Env = e.daemonEnv()
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 140, Rows: 40})
	if err != nil {
		t.Fatal(err)
	}
	scr := &screen{}
	go func() { _, _ = io.Copy(scr, tty) }()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		tty.Close()
	})

	// Claude Code's prompt line and its bypass-permissions status.
	waitScreen(t, scr, "bypass permissions")
	typed := "hi from the tui"
	if _, err := tty.Write([]byte(typed)); err != nil {
		t.Fatal(err)
	}
	waitScreen(t, scr, typed)
	if _, err := tty.Write([]byte("\r")); err != nil {
		t.Fatal(err)
	}
	waitScreen(t, scr, "fake-provider says: "+typed+" [credential: "+claudeOAuth.placeholder+"]")

	// Detach: Ctrl-P Ctrl-Q.
	if _, err := tty.Write([]byte{0x10, 0x11}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("attach exited with %v after detach:\n%s", err, plain(scr.String()))
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("attach did not end on the detach keys:\n%s", plain(scr.String()))
	}
	if out := e.must("status", "ac-tui"); !strings.Contains(out, "running") {
		t.Fatalf("session not running after detach:\n%s", out)
	}
	if leak := leaked(scr.String()); leak != "" {
		t.Fatal("the real credential showed on the screen")
	}
	checkProviderSaw(t, e, claudeOAuth)
	checkAudit(t, e, claudeOAuth, "ac-tui")
	// Still running after a conversation: its processes hold no secret.
	scanProcesses(t, "clauderon-ac-tui", "claude")
	e.must("delete", "ac-tui")
}

// waitScreen waits until the screen's text (escapes removed, whitespace
// runs collapsed: a terminal UI moves its cursor between words) shows want,
// failing at once on any first-run dialog. The deadline only bounds a
// broken run; nothing is measured.
func waitScreen(t *testing.T, scr *screen, want string) {
	t.Helper()
	deadline := time.Now().Add(120 * time.Second)
	for {
		text := strings.Join(strings.Fields(plain(scr.String())), " ")
		for _, d := range claudeDialogs {
			if strings.Contains(text, d) {
				t.Fatalf("Claude Code showed a dialog (%q):\n%s", d, plain(scr.String()))
			}
		}
		if strings.Contains(text, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("screen never showed %q; it shows:\n%s", want, plain(scr.String()))
		}
		time.Sleep(100 * time.Millisecond)
	}
}
