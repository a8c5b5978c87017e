package httpapi

import (
	"context"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
)

func auditEvent(session, path string) clauderon.AuditEvent {
	return clauderon.AuditEvent{
		Time: time.Date(2026, 11, 28, 10, 0, 0, 123456789, time.UTC), Session: session,
		Method: "POST", Host: "api.anthropic.com", Path: path, Status: 200, AuthInjected: true,
		Rule: "anthropic", BytesUp: 512, BytesDown: 2048, DurationMS: 12.5,
		Decision: clauderon.DecisionAllowed, Error: "",
	}
}

func TestAuditRead(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.audit.events = []clauderon.AuditEvent{
		auditEvent("a", "/v1/messages"), auditEvent("b", "/v1/other"),
		auditEvent("a", "/v1/complete"), auditEvent("a", "/v1/models"),
	}
	ctx := testContext(t)
	f := clauderon.AuditFilter{Session: "a", Limit: 2}
	got, err := env.client.Audit(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	env.audit.mu.Lock()
	arrived := env.audit.lastFilter
	env.audit.mu.Unlock()
	if arrived != f {
		t.Errorf("the reader received %+v, want %+v", arrived, f)
	}
	want := []clauderon.AuditEvent{env.audit.events[2], env.audit.events[3]}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Audit = %+v, want %+v", got, want)
	}

	got, err = env.client.Audit(ctx, clauderon.AuditFilter{Session: "nobody"})
	if err != nil || got == nil || len(got) != 0 {
		t.Errorf("Audit of nothing = %#v, %v; want an empty slice", got, err)
	}
}

func TestAuditFollow(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	ctx := testContext(t)
	followCtx, stop := context.WithCancel(ctx)
	got := make(chan clauderon.AuditEvent)
	done := make(chan error, 1)
	go func() {
		done <- env.client.FollowAudit(followCtx, clauderon.AuditFilter{Session: "a", Limit: 5}, func(ev clauderon.AuditEvent) error {
			got <- ev
			return nil
		})
	}()
	fl := recv(t, ctx, env.audit.followers, "the follow to reach the reader")
	if want := (clauderon.AuditFilter{Session: "a"}); fl.filter != want {
		t.Errorf("the reader received %+v, want %+v (no limit on a follow)", fl.filter, want)
	}
	// One event at a time: each is on the client before the next exists.
	for _, path := range []string{"/one", "/two", "/three"} {
		ev := auditEvent("a", path)
		fl.events <- ev
		if g := recv(t, ctx, got, "event "+path); !reflect.DeepEqual(g, ev) {
			t.Errorf("followed %+v, want %+v", g, ev)
		}
	}
	stop()
	if err := recv(t, ctx, done, "FollowAudit to return"); !errors.Is(err, context.Canceled) {
		t.Errorf("FollowAudit after cancel = %v, want context.Canceled", err)
	}
	// The daemon's follow ended with the client.
	if err := recv(t, ctx, fl.ended, "the server's follow to end"); !errors.Is(err, context.Canceled) {
		t.Errorf("the server's follow ended with %v, want context.Canceled", err)
	}
}

func TestAuditFollowErrors(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	ctx := testContext(t)

	// fn's error stops the follow and comes back as it is.
	mine := errors.New("enough")
	done := make(chan error, 1)
	go func() {
		done <- env.client.FollowAudit(ctx, clauderon.AuditFilter{}, func(clauderon.AuditEvent) error { return mine })
	}()
	fl := recv(t, ctx, env.audit.followers, "the follow")
	fl.events <- auditEvent("a", "/x")
	if err := recv(t, ctx, done, "FollowAudit"); !errors.Is(err, mine) {
		t.Errorf("FollowAudit = %v, want fn's error", err)
	}
	recv(t, ctx, fl.ended, "the server's follow to end")

	// The reader failing ends the stream with its error, masked if internal.
	for _, tc := range []struct {
		err       error
		code, msg string
	}{
		{clauderon.Errorf(clauderon.EUNAVAILABLE, "the audit log was rotated away"), clauderon.EUNAVAILABLE, "the audit log was rotated away"},
		{errors.New("read /private/audit.log: bad sector"), clauderon.EINTERNAL, "internal error"},
	} {
		go func() {
			done <- env.client.FollowAudit(ctx, clauderon.AuditFilter{}, func(clauderon.AuditEvent) error { return nil })
		}()
		fl := recv(t, ctx, env.audit.followers, "the follow")
		fl.fail <- tc.err
		err := recv(t, ctx, done, "FollowAudit")
		if e := mustAppError(t, err, tc.code, tc.msg); e.Message != tc.msg {
			t.Errorf("message %q, want %q", e.Message, tc.msg)
		}
	}
}

func TestAuditFollowEndsOnShutdown(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	ctx := testContext(t)
	done := make(chan error, 1)
	go func() {
		done <- env.client.FollowAudit(ctx, clauderon.AuditFilter{}, func(clauderon.AuditEvent) error { return nil })
	}()
	recv(t, ctx, env.audit.followers, "the follow")
	if err := env.server.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	mustAppError(t, recv(t, ctx, done, "FollowAudit"), clauderon.EUNAVAILABLE, "the clauderon daemon is shutting down")
}

func TestAuditUnavailable(t *testing.T) {
	t.Parallel()
	s := NewServer(ServerConfig{Sessions: newMemService()})
	resp := httptestRecorder(s, "GET", "/v1/audit")
	if resp.Code != 503 {
		t.Errorf("audit without a reader: status %d, want 503", resp.Code)
	}
}
