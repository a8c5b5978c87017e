package docker_test

import (
	"context"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/docker"
)

func TestStopStartRemove(t *testing.T) {
	t.Parallel()
	b := mustBackend(t)
	id := mustCreate(t, b, interactiveSpec(t, b))
	ctx := testContext(t)

	state := func(wantRunning bool) clauderon.BackendState {
		t.Helper()
		st, err := b.Inspect(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if st.ID != id || st.Running != wantRunning {
			t.Fatalf("state %+v, want running=%t", st, wantRunning)
		}
		return st
	}
	state(true)
	// Stop only once the agent answers: a SIGTERM that reaches the init
	// process before it has started the agent is lost, and Stop then kills
	// (137), as happened in CI on a loaded machine.
	term, err := b.Attach(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	guard := time.AfterFunc(testTimeout, func() { term.Close() })
	if _, err := term.Write([]byte("/echo ready-to-stop\n")); err != nil {
		t.Fatal(err)
	}
	readUntilLine(t, term, "ready-to-stop")
	guard.Stop()
	term.Close()
	if err := b.Stop(ctx, id); err != nil {
		t.Fatal(err)
	}
	// SIGTERM through the init process: 128+15.
	if st := state(false); st.ExitCode != 143 {
		t.Errorf("exit code after stop %d, want 143", st.ExitCode)
	}
	if err := b.Stop(ctx, id); err != nil {
		t.Errorf("stopping a stopped container: %v", err)
	}
	if code, err := b.Wait(ctx, id); err != nil || code != 143 {
		t.Errorf("wait on a stopped container: %d, %v", code, err)
	}
	if err := b.Start(ctx, id); err != nil {
		t.Fatal(err)
	}
	state(true)
	if err := b.Start(ctx, id); err != nil {
		t.Errorf("starting a running container: %v", err)
	}

	if err := b.Remove(ctx, id); err != nil {
		t.Fatal(err)
	}
	if err := b.Remove(ctx, id); err != nil {
		t.Errorf("removing a removed container: %v", err)
	}
	_, err = b.Inspect(ctx, id)
	wantCode(t, err, clauderon.ENOTFOUND, "no longer exists")
	wantCode(t, b.Start(ctx, id), clauderon.ENOTFOUND)
	wantCode(t, b.Stop(ctx, id), clauderon.ENOTFOUND)
	_, err = b.Wait(ctx, id)
	wantCode(t, err, clauderon.ENOTFOUND)
	_, err = b.Logs(ctx, id, false)
	wantCode(t, err, clauderon.ENOTFOUND)
	_, err = b.Attach(ctx, id)
	wantCode(t, err, clauderon.ENOTFOUND)
}

func TestWaitEndsWithContext(t *testing.T) {
	t.Parallel()
	b := mustBackend(t)
	id := mustCreate(t, b, interactiveSpec(t, b))
	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	if _, err := b.Wait(ctx, id); err == nil {
		t.Fatal("Wait returned no error with a cancelled context")
	}
	if st, err := b.Inspect(testContext(t), id); err != nil || !st.Running {
		t.Fatalf("a cancelled Wait stopped the container: %+v, %v", st, err)
	}
}

func TestEngineUnreachable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// A socket file nobody listens on: connection refused.
	ln, err := net.Listen("unix", filepath.Join(dir, "dead.sock"))
	if err != nil {
		t.Fatal(err)
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(false)
	ln.Close()
	for name, host := range map[string]string{
		"missing socket": "unix://" + filepath.Join(dir, "missing.sock"),
		"dead socket":    "unix://" + filepath.Join(dir, "dead.sock"),
	} {
		t.Run(name, func(t *testing.T) {
			_, err := docker.New(testContext(t), docker.Options{Host: host})
			wantCode(t, err, clauderon.EUNAVAILABLE)
			if got, want := clauderon.ErrorMessage(err), "Docker is not running: start it with `sudo systemctl start docker` (or `make run`, which starts it)"; got != want {
				t.Errorf("message %q, want %q", got, want)
			}
		})
	}
}
