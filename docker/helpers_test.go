package docker_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/docker"
	"github.com/clauderon/clauderon/internal/testimage"
)

// testTimeout bounds each engine call in tests so a wedged engine fails the
// test instead of hanging it; nothing asserts on durations.
const testTimeout = 2 * time.Minute

func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// testNetwork is the bridge network the backend tests run containers on.
const testNetwork = "clauderon-backend-test"

// mustBackend connects to the local engine. Without one it skips, unless
// CLAUDERON_REQUIRE_DOCKER is set (make test and CI set it): then it fails.
func mustBackend(t testing.TB) *docker.Backend {
	t.Helper()
	// Internal, like the daemon's, but the tests' own: a daemon running at
	// the same time (the e2e tests start several) firewalls its "clauderon"
	// bridge down to its proxy port, which would refuse the listeners these
	// tests open on the gateway.
	b, err := docker.New(testContext(t), docker.Options{Network: testNetwork, InternalNetwork: true})
	if err != nil {
		if clauderon.ErrorCode(err) == clauderon.EUNAVAILABLE && os.Getenv("CLAUDERON_REQUIRE_DOCKER") == "" {
			t.Skipf("Docker is not available (%v): run scripts/ensure-docker.sh first, or `make test`, which starts it and never skips", err)
		}
		t.Fatalf("connect to Docker: %v", err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// uniqueName is a session name no other test (or test run) uses.
func uniqueName(testing.TB) string {
	var b [4]byte
	rand.Read(b[:])
	return "test-" + hex.EncodeToString(b[:])
}

// baseSpec is a print-mode session of the test image running as an
// unprivileged user.
func baseSpec(t testing.TB, b *docker.Backend, command ...string) clauderon.SessionSpec {
	return clauderon.SessionSpec{
		Name:    uniqueName(t),
		Image:   testimage.MustBuild(t, b),
		Command: command,
		User:    "1000:1000",
		HomeDir: clauderon.ContainerHome,
		Labels:  map[string]string{clauderon.LabelAgent: "claude", clauderon.LabelMode: "print"},
	}
}

// mustCreate creates the session's container and removes it when t ends.
func mustCreate(t testing.TB, b *docker.Backend, spec clauderon.SessionSpec) string {
	t.Helper()
	id, err := b.Create(testContext(t), spec)
	if err != nil {
		t.Fatalf("create %s: %v", spec.Name, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
		defer cancel()
		if err := b.Remove(ctx, id); err != nil {
			t.Errorf("remove %s: %v", spec.Name, err)
		}
	})
	return id
}

// runToExit creates a print-mode container, waits for it and returns its exit
// code and whole output.
func runToExit(t *testing.T, b *docker.Backend, spec clauderon.SessionSpec) (int, string) {
	t.Helper()
	id := mustCreate(t, b, spec)
	ctx := testContext(t)
	code, err := b.Wait(ctx, id)
	if err != nil {
		t.Fatalf("wait: %v", err)
	}
	logs, err := b.Logs(ctx, id, false)
	if err != nil {
		t.Fatalf("logs: %v", err)
	}
	defer logs.Close()
	out, err := io.ReadAll(logs)
	if err != nil {
		t.Fatalf("read logs: %v", err)
	}
	return code, string(out)
}

// wantCode fails t unless err is a *clauderon.Error with code whose message
// contains each of the given parts.
func wantCode(t *testing.T, err error, code string, parts ...string) {
	t.Helper()
	var ce *clauderon.Error
	if !errors.As(err, &ce) || ce.Code != code {
		t.Fatalf("error %v (code %q), want code %q", err, clauderon.ErrorCode(err), code)
	}
	for _, p := range parts {
		if !strings.Contains(ce.Message, p) {
			t.Errorf("message %q does not contain %q", ce.Message, p)
		}
	}
}

// readUntil reads r until want shows up and returns everything read. A
// reader that ends first fails t; a stuck one is cut by the test timeout
// through ctx's caller closing r.
func readUntil(t *testing.T, r io.Reader, want string) string {
	t.Helper()
	var got bytes.Buffer
	buf := make([]byte, 4096)
	for !strings.Contains(got.String(), want) {
		n, err := r.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("read %q before %q appeared: %v", got.String(), want, err)
		}
	}
	return got.String()
}

// readUntilLine reads a terminal until one of its lines, without the agent's
// "> " prompts, is exactly line. Typed input is echoed by the terminal, and
// may show before or after a prompt, so matching whole lines tells the
// agent's answer from the echo.
func readUntilLine(t *testing.T, r io.Reader, line string) string {
	t.Helper()
	var got bytes.Buffer
	buf := make([]byte, 4096)
	for {
		lines := strings.Split(got.String(), "\r\n")
		for _, l := range lines[:len(lines)-1] { // complete lines only
			for strings.HasPrefix(l, "> ") {
				l = l[2:]
			}
			if l == line {
				return got.String()
			}
		}
		n, err := r.Read(buf)
		got.Write(buf[:n])
		if err != nil {
			t.Fatalf("read %q before the line %q appeared: %v", got.String(), line, err)
		}
	}
}
