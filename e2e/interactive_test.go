package e2e

import (
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/internal/testutil"
)

// screen collects what a pseudo-terminal shows.
type screen struct{ testutil.SyncBuffer }

// waitFor waits until the screen shows want. The deadline only bounds a
// broken run; nothing is measured.
func (s *screen) waitFor(t *testing.T, want string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(s.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("screen never showed %q; it shows:\n%s", want, s.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// askAndExit attaches to a session, asks the stand-in agent one question,
// waits for the fake provider's answer, then ends the agent and waits for
// attach to end with it. It returns the attach screen.
func (e *env) askAndExit(t *testing.T, name, question string) *screen {
	t.Helper()
	tty, scr, _, done := e.attach(t, name)
	scr.waitFor(t, "[attached to "+name)
	if _, err := tty.Write([]byte(question + "\r")); err != nil {
		t.Fatal(err)
	}
	scr.waitFor(t, "fake-provider says: "+question)
	if _, err := tty.Write([]byte("/exit\r")); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		t.Fatalf("attach did not end when the agent exited:\n%s", scr.String())
	}
	return scr
}

// attach runs `clauderon attach NAME` on a pseudo-terminal, as a person would.
func (e *env) attach(t *testing.T, name string) (*os.File, *screen, *exec.Cmd, chan error) {
	t.Helper()
	cmd := exec.Command(binPath, "--home", e.home, "attach", name)
	cmd.Env = e.daemonEnv()
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Cols: 100, Rows: 30})
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
	return tty, scr, cmd, done
}

// TestInteractiveAttach creates an interactive session, attaches through a
// pseudo-terminal, talks to the agent (whose answers come from the provider
// through the proxy) and detaches, leaving the session running.
func TestInteractiveAttach(t *testing.T) {
	e := newEnv(t)
	e.claim("i1", "p")
	e.startDaemon()
	out := e.must("create", "--name", "i1", "--prompt", "first question", "--image", e.image)
	if !strings.Contains(out, "clauderon attach i1") {
		t.Fatalf("create did not say how to attach:\n%s", out)
	}

	tty, scr, _, done := e.attach(t, "i1")
	scr.waitFor(t, "[attached to i1")
	// The agent's terminal reflects the attaching terminal's size.
	if _, err := tty.Write([]byte("/size\r")); err != nil {
		t.Fatal(err)
	}
	scr.waitFor(t, "100x30")
	if _, err := tty.Write([]byte("second question\r")); err != nil {
		t.Fatal(err)
	}
	scr.waitFor(t, "fake-provider says: second question")
	// Detach: Ctrl-P Ctrl-Q.
	if _, err := tty.Write([]byte{0x10, 0x11}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("attach exited with %v after detach:\n%s", err, scr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("attach did not end on the detach keys:\n%s", scr.String())
	}
	scr.waitFor(t, "detached from i1") // attach's last output may still be in the terminal
	if out := e.must("status", "i1"); !strings.Contains(out, "running") {
		t.Fatalf("session not running after detach:\n%s", out)
	}

	// Attach again: the same agent answers (the session survived the detach).
	scr2 := e.askAndExit(t, "i1", "third question")
	scr2.waitFor(t, "session i1 ended")
	waitStatus(t, e, "i1", clauderon.StatusExited)

	// Print sessions have no terminal.
	r := e.clauderon("create", "--print", "--name", "p", "--prompt", "x", "--image", e.image)
	if r.code != 0 {
		t.Fatalf("create --print: %d %s", r.code, r.stderr)
	}
	if r := e.clauderon("attach", "p"); r.code == 0 || !strings.Contains(r.stderr, "print mode") {
		t.Fatalf("attach to a print session: %d %q", r.code, r.stderr)
	}
}

// waitStatus waits until the session reaches status.
func waitStatus(t *testing.T, e *env, name string, want clauderon.SessionStatus) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out := e.must("status", name)
		if strings.Contains(out, string(want)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("session %s never reached %s:\n%s", name, want, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
