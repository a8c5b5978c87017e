package httpapi

import (
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/clauderon/clauderon"
)

// staleSocket leaves a socket file at path with nobody listening, as a
// daemon that was killed does.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&fs.ModeSocket == 0 {
		t.Fatalf("no stale socket at %s: %v", path, err)
	}
}

func TestSocketIsOwnerOnly(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	fi, err := os.Lstat(env.socket)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, want a socket with 0600", fi.Mode())
	}
	// Nothing of the private bind directory is left beside it.
	entries, err := os.ReadDir(filepath.Dir(env.socket))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Errorf("the socket's directory holds %d entries, want only the socket", len(entries))
	}
}

func TestListenUnixReplacesStaleSocket(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "clauderon.sock")
	staleSocket(t, path)
	s := NewServer(ServerConfig{Sessions: newMemService()})
	ln, err := s.ListenUnix(path)
	if err != nil {
		t.Fatalf("ListenUnix over a stale socket: %v", err)
	}
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(path); !os.IsNotExist(err) {
		t.Errorf("the socket file outlived its listener: %v", err)
	}
}

func TestListenUnixRefusesLiveDaemon(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	s := NewServer(ServerConfig{Sessions: newMemService()})
	_, err := s.ListenUnix(env.socket)
	mustAppError(t, err, clauderon.ECONFLICT, "a clauderon daemon is already listening on "+env.socket)
	// The first daemon is untouched.
	if _, err := env.client.Health(testContext(t)); err != nil {
		t.Errorf("the running daemon stopped answering: %v", err)
	}
}

func TestListenUnixKeepsOtherFiles(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "clauderon.sock")
	if err := os.WriteFile(path, []byte("precious"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := NewServer(ServerConfig{Sessions: newMemService()})
	_, err := s.ListenUnix(path)
	mustAppError(t, err, clauderon.ECONFLICT, "exists and is not a socket")
	if data, err := os.ReadFile(path); err != nil || string(data) != "precious" {
		t.Errorf("the file was changed: %q, %v", data, err)
	}
}

func TestClientWhenDaemonIsNotRunning(t *testing.T) {
	t.Parallel()
	const want = "the clauderon daemon is not running: start it with `clauderon daemon` (or `make run`)"
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	staleSocket(t, stale)
	for name, path := range map[string]string{
		"no socket file":   filepath.Join(dir, "missing.sock"),
		"nobody listening": stale,
	} {
		c := NewClient(path)
		ctx := testContext(t)
		_, err := c.List(ctx, clauderon.SessionFilter{})
		if e := mustAppError(t, err, clauderon.EUNAVAILABLE, want); e.Message != want {
			t.Errorf("%s: message %q, want %q", name, e.Message, want)
		}
		// Streams and the terminal say the same.
		_, err = c.Logs(ctx, "a", true)
		mustAppError(t, err, clauderon.EUNAVAILABLE, want)
		_, err = c.Attach(ctx, "a")
		mustAppError(t, err, clauderon.EUNAVAILABLE, want)
		err = c.FollowAudit(ctx, clauderon.AuditFilter{}, nil)
		mustAppError(t, err, clauderon.EUNAVAILABLE, want)
	}
}
