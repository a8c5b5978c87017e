package httpapi

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/clauderon/clauderon"
)

func TestLogsStreamAsTheyArrive(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.mustCreate(t, "a")
	ctx := testContext(t)
	feed := env.svc.feedLogs("a")

	logs, err := env.client.Logs(ctx, "a", true)
	if err != nil {
		t.Fatal(err)
	}
	defer logs.Close()
	env.svc.mu.Lock()
	follow := env.svc.lastFollow
	env.svc.mu.Unlock()
	if !follow {
		t.Error("follow=true did not reach the service")
	}

	// Each chunk must reach the client while the next one does not exist
	// yet: the pipe's Write returns only once the server has read the chunk,
	// and the next chunk is written only after the client has it.
	for _, chunk := range []string{"first line\n", "second ", "line\n"} {
		if _, err := feed.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(chunk))
		if _, err := io.ReadFull(logs, got); err != nil {
			t.Fatalf("reading %q: %v", chunk, err)
		}
		if string(got) != chunk {
			t.Fatalf("read %q, want %q", got, chunk)
		}
	}
	feed.Close() // the stream ends
	rest, err := io.ReadAll(logs)
	if err != nil || len(rest) != 0 {
		t.Fatalf("after the end: %q, %v; want a clean EOF", rest, err)
	}
}

func TestLogsEndWhenTheClientLeaves(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.mustCreate(t, "a")
	ctx := testContext(t)
	feed := env.svc.feedLogs("a")
	logs, err := env.client.Logs(ctx, "a", true)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := feed.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(logs, make([]byte, 1)); err != nil {
		t.Fatal(err)
	}
	logs.Close()
	// The server notices, closes the backend stream, and the writer sees it.
	recv(t, ctx, env.svc.logsEnded, "the server to close the log stream")
	if _, err := feed.Write([]byte("y")); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("writing after the client left: %v, want io.ErrClosedPipe", err)
	}
}

func TestLogsErrors(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.mustCreate(t, "a")
	ctx := testContext(t)

	_, err := env.client.Logs(ctx, "nope", false)
	mustAppError(t, err, clauderon.ENOTFOUND, `session "nope" not found`)

	// An error after the stream started arrives in the trailers and comes out
	// of the last Read, after the bytes sent before it.
	cases := []struct {
		err       error
		code, msg string
	}{
		{clauderon.Errorf(clauderon.EUNAVAILABLE, "Docker went away: start it with `sudo systemctl start docker`"),
			clauderon.EUNAVAILABLE, "Docker went away: start it with `sudo systemctl start docker`"},
		{errors.New("read /var/lib/docker/secret-path: input/output error"), clauderon.EINTERNAL, "internal error"},
	}
	for _, tc := range cases {
		feed := env.svc.feedLogs("a")
		logs, err := env.client.Logs(ctx, "a", false)
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			feed.Write([]byte("partial"))
			feed.CloseWithError(tc.err)
		}()
		got, err := io.ReadAll(logs)
		logs.Close()
		if string(got) != "partial" {
			t.Errorf("read %q before the error, want %q", got, "partial")
		}
		if e := mustAppError(t, err, tc.code, tc.msg); e.Message != tc.msg {
			t.Errorf("message %q, want %q", e.Message, tc.msg)
		}
	}
	if log := env.log.String(); !strings.Contains(log, "secret-path: input/output error") {
		t.Errorf("the daemon log lacks the stream failure's detail:\n%s", log)
	}
}
