package audit_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/audit"
)

// follow runs Follow in the background and returns the channel it delivers
// to. Stopping is checked at cleanup: Follow must return nil once ctx ends.
func follow(t *testing.T, path string, f clauderon.AuditFilter) <-chan clauderon.AuditEvent {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	got := make(chan clauderon.AuditEvent, 100000) // never full: fn must not block
	done := make(chan error, 1)
	go func() {
		done <- audit.NewReader(path).Follow(ctx, f, func(ev clauderon.AuditEvent) error {
			got <- ev
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Follow returned %v after ctx ended, want nil", err)
		}
	})
	return got
}

// recordUntilSeen records numbered events for session "new" (each followed by
// one for "other") until the follower delivers one, then tail more, and
// checks that the follower delivered a gap-free run ending with the last, and
// nothing else. Events recorded before Follow positioned itself are not
// delivered, which is why the first event seen may be any of them.
func recordUntilSeen(t *testing.T, record func(clauderon.AuditEvent), got <-chan clauderon.AuditEvent, tail int) {
	t.Helper()
	n := 0
	rec := func() {
		record(event("new", n))
		record(event("other", n))
		n++
	}
	var first clauderon.AuditEvent
wait:
	for {
		rec()
		select {
		case first = <-got:
			break wait
		case <-time.After(20 * time.Millisecond): // pacing only; no assertion on time
		}
	}
	for range tail {
		rec()
	}
	want, err := strconv.Atoi(first.Rule[1:])
	if err != nil || first.Session != "new" {
		t.Fatalf("first delivered event %+v is not one of the followed session's", first)
	}
	for want++; want < n; want++ {
		ev := <-got
		if ev.Session != "new" || ev.Rule != "n"+strconv.Itoa(want) {
			t.Fatalf("delivered %s/%s, want new/n%d", ev.Session, ev.Rule, want)
		}
	}
	select {
	case ev := <-got:
		t.Fatalf("extra event delivered: %+v", ev)
	default:
	}
}

func TestFollowDeliversOnlyNewEvents(t *testing.T) {
	t.Parallel()
	l, path := MustOpen(t, audit.Options{})
	for i := range 10 {
		l.Record(event("new", 1000+i)) // before Follow: never delivered
	}
	got := follow(t, path, clauderon.AuditFilter{Session: "new"})
	recordUntilSeen(t, l.Record, got, 50)
}

func TestFollowSurvivesRotations(t *testing.T) {
	t.Parallel()
	// About 60 events a file and 3000 events written at full speed: the log
	// rotates many times between two polls, and the follower must read the
	// rotated files it has not seen.
	l, path := MustOpen(t, audit.Options{MaxBytes: 16 << 10, MaxFiles: 1000})
	got := follow(t, path, clauderon.AuditFilter{Session: "new"})
	recordUntilSeen(t, l.Record, got, 3000)
	if _, err := os.Stat(path + ".20"); err != nil {
		t.Fatalf("the test did not rotate the log enough: %v", err)
	}
}

func TestFollowWaitsForLogToExist(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "later", "audit.jsonl")
	got := follow(t, path, clauderon.AuditFilter{Session: "new"})
	time.Sleep(300 * time.Millisecond) // let Follow start against a missing file; correctness does not depend on it
	l, err := audit.Open(path, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	recordUntilSeen(t, l.Record, got, 20)
}

func TestFollowRereadsTruncatedFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l, err := audit.Open(path, audit.Options{}) // the log appends; truncation comes from outside
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := follow(t, path, clauderon.AuditFilter{})
	recordUntilSeen(t, func(ev clauderon.AuditEvent) {
		if ev.Session == "new" {
			l.Record(ev)
		}
	}, got, 20)
	// Everything so far was delivered, so the follower's offset is the
	// whole file; after truncation the file is shorter than that.
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	l.Record(event("after", 1))
	if ev := <-got; ev.Session != "after" {
		t.Fatalf("after truncation got %+v, want the new event", ev)
	}
}

func TestFollowStopsOnCallbackError(t *testing.T) {
	t.Parallel()
	l, path := MustOpen(t, audit.Options{})
	stop := errors.New("enough")
	done := make(chan error, 1)
	go func() {
		done <- audit.NewReader(path).Follow(context.Background(), clauderon.AuditFilter{}, func(clauderon.AuditEvent) error {
			return stop
		})
	}()
	for i := 0; ; i++ {
		l.Record(event("s", i))
		select {
		case err := <-done:
			if !errors.Is(err, stop) {
				t.Fatalf("Follow = %v, want the callback's error", err)
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestFollowReturnsWhenContextEnds(t *testing.T) {
	t.Parallel()
	_, path := MustOpen(t, audit.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- audit.NewReader(path).Follow(ctx, clauderon.AuditFilter{}, func(clauderon.AuditEvent) error { return nil })
	}()
	cancel()
	if err := <-done; err != nil { // a hang here is caught by the test timeout
		t.Errorf("Follow = %v, want nil", err)
	}
}
