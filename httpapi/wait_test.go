package httpapi

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/clauderon/clauderon"
)

func TestWaitReturnsWhenTheAgentExits(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.mustCreate(t, "a")
	ctx := testContext(t)
	type result struct {
		s   *clauderon.Session
		err error
	}
	done := make(chan result, 1)
	go func() {
		s, err := env.client.Wait(ctx, "a")
		done <- result{s, err}
	}()
	if name := recv(t, ctx, env.svc.waiting, "the wait to start"); name != "a" {
		t.Errorf("waiting for %q, want a", name)
	}
	env.svc.exit("a", 3)
	r := recv(t, ctx, done, "Wait to return")
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.s.Status != clauderon.StatusExited || r.s.ExitCode == nil || *r.s.ExitCode != 3 {
		t.Errorf("Wait = %+v, want exited with code 3", r.s)
	}
}

func TestWaitHonoursCancellation(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.mustCreate(t, "a")
	ctx := testContext(t)
	waitCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		_, err := env.client.Wait(waitCtx, "a")
		done <- err
	}()
	recv(t, ctx, env.svc.waiting, "the wait to start")
	cancel()
	if err := recv(t, ctx, done, "Wait to return"); !errors.Is(err, context.Canceled) {
		t.Errorf("Wait after cancel = %v, want context.Canceled", err)
	}
	// The daemon stopped waiting too: the client hanging up reached it.
	if err := recv(t, ctx, env.svc.waitEnded, "the server's wait to end"); !errors.Is(err, context.Canceled) {
		t.Errorf("the server's wait ended with %v, want context.Canceled", err)
	}
	// A hang-up is not a failure: nothing is logged as an error.
	if log := env.log.String(); strings.Contains(log, `"level":"ERROR"`) {
		t.Errorf("a hang-up was logged as an error:\n%s", log)
	}
}

func TestWaitEndsOnShutdown(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.mustCreate(t, "a")
	ctx := testContext(t)
	done := make(chan error, 1)
	go func() {
		_, err := env.client.Wait(ctx, "a")
		done <- err
	}()
	recv(t, ctx, env.svc.waiting, "the wait to start")
	if err := env.server.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	mustAppError(t, recv(t, ctx, done, "Wait to return"), clauderon.EUNAVAILABLE, "the clauderon daemon is shutting down")
}

func TestWaitUnknownSession(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	_, err := env.client.Wait(testContext(t), "nope")
	mustAppError(t, err, clauderon.ENOTFOUND, `session "nope" not found`)
}
