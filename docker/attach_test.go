package docker_test

import (
	"testing"
	"time"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/docker"
)

// interactiveSpec is a TTY session that waits for input, like claude without
// --print.
func interactiveSpec(t *testing.T, b *docker.Backend) clauderon.SessionSpec {
	spec := baseSpec(t, b, "claude", "--dangerously-skip-permissions")
	spec.TTY = true
	spec.Labels[clauderon.LabelMode] = "interactive"
	return spec
}

func TestAttachTerminal(t *testing.T) {
	t.Parallel()
	b := mustBackend(t)
	id := mustCreate(t, b, interactiveSpec(t, b))
	ctx := testContext(t)
	term, err := b.Attach(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	// A wedged container must fail the test, not hang it: closing the
	// terminal ends a blocked Read.
	guard := time.AfterFunc(testTimeout, func() { term.Close() })
	defer guard.Stop()

	if _, err := term.Write([]byte("/echo hello-attach\n")); err != nil {
		t.Fatal(err)
	}
	readUntilLine(t, term, "hello-attach")

	if err := term.Resize(ctx, 100, 40); err != nil {
		t.Fatal(err)
	}
	if _, err := term.Write([]byte("/size\n")); err != nil {
		t.Fatal(err)
	}
	readUntilLine(t, term, "size 100x40")

	if _, err := term.Write([]byte("/exit 7\n")); err != nil {
		t.Fatal(err)
	}
	code, err := b.Wait(ctx, id)
	if err != nil || code != 7 {
		t.Fatalf("exit code %d, %v; want 7", code, err)
	}
}

// TestAttachAgain checks that closing a terminal detaches without stopping
// the agent, and that a second attachment works.
func TestAttachAgain(t *testing.T) {
	t.Parallel()
	b := mustBackend(t)
	id := mustCreate(t, b, interactiveSpec(t, b))
	ctx := testContext(t)
	for i, word := range []string{"first-attach", "second-attach"} {
		term, err := b.Attach(ctx, id)
		if err != nil {
			t.Fatalf("attach %d: %v", i, err)
		}
		guard := time.AfterFunc(testTimeout, func() { term.Close() })
		term.Write([]byte("/echo " + word + "\n"))
		readUntilLine(t, term, word)
		guard.Stop()
		if err := term.Close(); err != nil {
			t.Fatal(err)
		}
		st, err := b.Inspect(ctx, id)
		if err != nil || !st.Running {
			t.Fatalf("after detach %d: %+v, %v", i, st, err)
		}
	}
}

func TestAttachPrintModeRefused(t *testing.T) {
	t.Parallel()
	b := mustBackend(t)
	id := mustCreate(t, b, baseSpec(t, b, "claude", "--print", "exit:0"))
	_, err := b.Attach(testContext(t), id)
	wantCode(t, err, clauderon.EINVALID, "print mode", "clauderon logs")
}

// TestLogsFollowTTY reads an interactive container's raw terminal output
// with follow until the agent exits.
func TestLogsFollowTTY(t *testing.T) {
	t.Parallel()
	b := mustBackend(t)
	id := mustCreate(t, b, interactiveSpec(t, b))
	ctx := testContext(t)
	logs, err := b.Logs(ctx, id, true)
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	readUntil(t, logs, "clauderon test agent ready\r\n")
	term, err := b.Attach(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	defer term.Close()
	term.Write([]byte("/echo in-the-logs\n/exit\n"))
	readUntilLine(t, logs, "in-the-logs")
	// Follow ends when the container stops.
	buf := make([]byte, 1024)
	for {
		if _, err := logs.Read(buf); err != nil {
			break
		}
	}
	if st, err := b.Inspect(ctx, id); err != nil || st.Running || st.ExitCode != 0 {
		t.Fatalf("after /exit: %+v, %v", st, err)
	}
}
