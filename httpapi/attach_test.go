package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/coder/websocket"

	"github.com/clauderon/clauderon"
)

func TestAttachRoundTrip(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.mustCreate(t, "a")
	ctx := testContext(t)

	term, err := env.client.Attach(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	server := recv(t, ctx, env.svc.terminals, "the service's terminal")

	for _, in := range []string{"hello", "ls -la\r"} {
		if _, err := term.Write([]byte(in)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(in))
		if _, err := io.ReadFull(term, got); err != nil {
			t.Fatal(err)
		}
		if want := upper(in); string(got) != want {
			t.Errorf("echo of %q = %q, want %q", in, got, want)
		}
	}

	if err := term.Resize(ctx, 132, 43); err != nil {
		t.Fatal(err)
	}
	if got := recv(t, ctx, server.resizes, "the resize"); got != [2]uint16{132, 43} {
		t.Errorf("resize = %v, want [132 43]", got)
	}

	// Closing detaches: the server closes the terminal and stops nothing.
	if err := term.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	recv(t, ctx, server.closed, "the server to close the terminal")
	s, err := env.client.Get(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	env.svc.mu.Lock()
	stops := env.svc.stops
	env.svc.mu.Unlock()
	if s.Status != clauderon.StatusRunning || stops != 0 {
		t.Errorf("after a detach: status %s with %d stops, want running and none", s.Status, stops)
	}
}

func TestAttachEndsWhenTheTerminalEnds(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.mustCreate(t, "a")
	ctx := testContext(t)
	term, err := env.client.Attach(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	server := recv(t, ctx, env.svc.terminals, "the service's terminal")

	if _, err := term.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, 3)
	if _, err := io.ReadFull(term, got); err != nil || string(got) != "BYE" {
		t.Fatalf("read %q, %v", got, err)
	}
	server.End()
	if n, err := term.Read(make([]byte, 10)); n != 0 || !errors.Is(err, io.EOF) {
		t.Errorf("Read after the terminal ended = %d, %v; want 0, io.EOF (a normal closure)", n, err)
	}
}

// TestAttachWhileReading detaches while another goroutine is blocked in
// Read, which is how the CLI uses a terminal.
func TestAttachWhileReading(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.mustCreate(t, "a")
	ctx := testContext(t)
	term, err := env.client.Attach(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	server := recv(t, ctx, env.svc.terminals, "the service's terminal")
	readErr := make(chan error, 1)
	go func() {
		_, err := io.Copy(io.Discard, term)
		readErr <- err
	}()
	if err := term.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	recv(t, ctx, server.closed, "the server to close the terminal")
	recv(t, ctx, readErr, "the blocked Read to return")
}

func TestAttachErrors(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.mustCreate(t, "a")
	ctx := testContext(t)

	_, err := env.client.Attach(ctx, "nope")
	mustAppError(t, err, clauderon.ENOTFOUND, `session "nope" not found`)

	// A plain GET (no upgrade) gets an answer, and the terminal it opened
	// is closed again.
	resp := env.raw(t, "GET", "/v1/sessions/a/attach", "", nil, nil)
	if resp.StatusCode != http.StatusUpgradeRequired {
		t.Errorf("plain GET of attach: status %d, want 426", resp.StatusCode)
	}
	server := recv(t, ctx, env.svc.terminals, "the service's terminal")
	recv(t, ctx, server.closed, "the unused terminal to be closed")

	// A control message the server does not know ends the connection with
	// a policy violation that says why.
	for _, msg := range []string{`{"type":"paste","text":"x"}`, `{"type":"resize","cols":0,"rows":5}`, `not json`} {
		conn, _, err := websocket.Dial(ctx, "ws://clauderon/v1/sessions/a/attach", &websocket.DialOptions{HTTPClient: env.client.http})
		if err != nil {
			t.Fatal(err)
		}
		server := recv(t, ctx, env.svc.terminals, "the service's terminal")
		if err := conn.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
			t.Fatal(err)
		}
		_, _, err = conn.Read(ctx)
		if got := websocket.CloseStatus(err); got != websocket.StatusPolicyViolation {
			t.Errorf("after %s: close status %v (%v), want policy violation", msg, got, err)
		}
		recv(t, ctx, server.closed, "the terminal to be closed")
		conn.CloseNow()
	}
}

func TestAttachEndsOnShutdown(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.mustCreate(t, "a")
	ctx := testContext(t)
	term, err := env.client.Attach(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	server := recv(t, ctx, env.svc.terminals, "the service's terminal")
	readErr := make(chan error, 1)
	go func() {
		_, err := term.Read(make([]byte, 10))
		readErr <- err
	}()
	shutCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := env.server.Shutdown(shutCtx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	// Shutdown returned, so the terminal has already been let go.
	select {
	case <-server.closed:
	default:
		t.Error("Shutdown returned before the attached terminal was closed")
	}
	mustAppError(t, recv(t, ctx, readErr, "Read to fail"), clauderon.EUNAVAILABLE, "shutting down")
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}
