package httpapi

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/internal/testutil"
)

// testEnv is a real server on a real unix socket in a temporary directory,
// backed by the in-memory service, and a Client connected to it.
type testEnv struct {
	svc    *memService
	audit  *memAudit
	server *Server
	client *Client
	socket string
	log    *testutil.SyncBuffer
}

func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	env := &testEnv{
		svc:    newMemService(),
		audit:  newMemAudit(),
		socket: filepath.Join(t.TempDir(), "clauderon.sock"),
		log:    &testutil.SyncBuffer{},
	}
	env.server = NewServer(ServerConfig{
		Sessions: env.svc,
		Audit:    env.audit,
		Logger:   slog.New(slog.NewJSONHandler(env.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Version:  "1.2.3-test",
	})
	ln, err := env.server.ListenUnix(env.socket)
	if err != nil {
		t.Fatalf("ListenUnix: %v", err)
	}
	served := make(chan error, 1)
	go func() { served <- env.server.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := env.server.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	env.client = NewClient(env.socket)
	return env
}

// testContext bounds a test so that a broken stream fails it with a clear
// error instead of hanging until the test binary's timeout. It asserts
// nothing about timing.
func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// raw sends a hand-made request over the socket, for what the Client never
// sends (an Origin, a bad body).
func (env *testEnv) raw(t *testing.T, method, path, contentType string, body []byte, header http.Header) *http.Response {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", env.socket)
		},
	}}
	req, err := http.NewRequestWithContext(testContext(t), method, "http://clauderon"+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body == nil {
		req.Body = http.NoBody
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// mustAppError checks that err is a *clauderon.Error with code and a message
// containing want.
func mustAppError(t *testing.T, err error, code, want string) *clauderon.Error {
	t.Helper()
	var e *clauderon.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *clauderon.Error", err, err)
	}
	if e.Code != code || !strings.Contains(e.Message, want) {
		t.Fatalf("error = {%s %q}, want code %s and a message containing %q", e.Code, e.Message, code, want)
	}
	return e
}

// mustCreate creates a session through the client.
func (env *testEnv) mustCreate(t *testing.T, name string) *clauderon.Session {
	t.Helper()
	s, err := env.client.Create(testContext(t), clauderon.CreateRequest{Name: name, Prompt: "hi", Agent: "claude"})
	if err != nil {
		t.Fatalf("Create(%s): %v", name, err)
	}
	return s
}

// recv takes one value from ch, or fails the test when ctx ends first.
func recv[T any](t *testing.T, ctx context.Context, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-ctx.Done():
		t.Fatalf("waiting for %s: %v", what, ctx.Err())
		panic("unreachable")
	}
}

// httptestRecorder serves one request through s.Handler in memory, for
// checks that need no socket.
// headers are name, value pairs.
func httptestRecorder(s *Server, method, path string, headers ...string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	s.Handler().ServeHTTP(rec, req)
	return rec
}
