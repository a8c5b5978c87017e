package audit_test

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clauderon/clauderon/audit"
)

func TestRecordWritesOneLineWithExactlyTheEventKeys(t *testing.T) {
	t.Parallel()
	l, path := MustOpen(t, audit.Options{})
	in := event("alpha", 7)
	in.Time = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("CET", 3600))
	in.Error = "upstream said \"no\"\nsecond line"
	l.Record(in)

	lines := fileLines(t, path)
	if len(lines) != 1 {
		t.Fatalf("got %d lines, want 1:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal([]byte(lines[0]), &raw); err != nil {
		t.Fatalf("line is not JSON: %v", err)
	}
	want := []string{"auth_injected", "bytes_down", "bytes_up", "decision", "duration_ms", "error", "host", "method", "path", "rule", "session", "status", "ts"}
	if got := slices.Sorted(maps.Keys(raw)); !slices.Equal(got, want) {
		t.Errorf("keys = %v, want %v", got, want)
	}
	if got, want := string(raw["ts"]), `"2026-01-02T02:04:05.123456789Z"`; got != want {
		t.Errorf("ts = %s, want %s (RFC 3339, UTC, nanoseconds)", got, want)
	}
	out := decode(t, lines[0])
	if !out.Time.Equal(in.Time) {
		t.Errorf("time = %v, want %v", out.Time, in.Time)
	}
	in.Time = out.Time
	if out != in {
		t.Errorf("round trip:\n got %+v\nwant %+v", out, in)
	}
}

func TestRecordStripsQueryStrings(t *testing.T) {
	t.Parallel()
	l, path := MustOpen(t, audit.Options{})
	for _, p := range []string{"/v1/models?key=sk-canary-123", "/?token=canary", "?only=canary", "/plain"} {
		ev := event("s", 0)
		ev.Path = p
		l.Record(ev)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(data), "canary") || strings.Contains(string(data), "?") {
		t.Fatalf("query string reached the log:\n%s", data)
	}
	var got []string
	for _, line := range fileLines(t, path) {
		got = append(got, decode(t, line).Path)
	}
	if want := []string{"/v1/models", "/", "", "/plain"}; !slices.Equal(got, want) {
		t.Errorf("paths = %q, want %q", got, want)
	}
}

func TestRecordFillsMissingTime(t *testing.T) {
	t.Parallel()
	l, path := MustOpen(t, audit.Options{})
	before := time.Now()
	ev := event("s", 0)
	ev.Time = time.Time{}
	l.Record(ev)
	got := decode(t, fileLines(t, path)[0]).Time
	if got.Before(before.Add(-time.Second)) || got.Location() != time.UTC {
		t.Errorf("zero time recorded as %v, want about now, UTC", got)
	}
}

func TestOpenPermissions(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "home", "nested")
	path := filepath.Join(dir, "audit.jsonl")
	l, err := audit.Open(path, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	assertMode(t, dir, 0o700)
	assertMode(t, path, 0o600)

	// An existing, too-open file is narrowed.
	wide := filepath.Join(t.TempDir(), "audit.jsonl")
	if err := os.WriteFile(wide, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(wide, 0o644); err != nil { // umask may have narrowed it already
		t.Fatal(err)
	}
	l2, err := audit.Open(wide, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	assertMode(t, wide, 0o600)
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s mode = %o, want %o", path, got, want)
	}
}

func TestOpenAppendsToExistingLog(t *testing.T) {
	t.Parallel()
	l, path := MustOpen(t, audit.Options{})
	l.Record(event("s", 1))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l2, err := audit.Open(path, audit.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l2.Record(event("s", 2))
	if err := l2.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(fileLines(t, path)); n != 2 {
		t.Errorf("got %d lines after reopening, want 2", n)
	}
}

func TestConcurrentRecordKeepsLinesIntact(t *testing.T) {
	t.Parallel()
	const writers, each = 16, 1000
	l, path := MustOpen(t, audit.Options{Spacing: audit.DefaultSpacing})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				ev := event("w"+strconv.Itoa(w), i)
				ev.Error = strings.Repeat("x", i%300) // lines of varied length
				l.Record(ev)
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil { // the last lines may still wait for the timer
		t.Fatal(err)
	}
	lines := fileLines(t, path)
	if len(lines) != writers*each {
		t.Fatalf("got %d lines, want %d", len(lines), writers*each)
	}
	assertEveryEventOnce(t, lines, writers, each)
}

// assertEveryEventOnce checks that lines hold each writer's events exactly
// once, in the order that writer recorded them.
func assertEveryEventOnce(t *testing.T, lines []string, writers, each int) {
	t.Helper()
	next := map[string]int{}
	for _, line := range lines {
		ev := decode(t, line)
		want := "n" + strconv.Itoa(next[ev.Session])
		if ev.Rule != want {
			t.Fatalf("session %s: got event %s, want %s (lost, repeated or reordered)", ev.Session, ev.Rule, want)
		}
		next[ev.Session]++
	}
	if len(next) != writers {
		t.Fatalf("saw %d writers, want %d", len(next), writers)
	}
	for s, n := range next {
		if n != each {
			t.Errorf("session %s: %d events, want %d", s, n, each)
		}
	}
}

func TestRecordAfterCloseIsReportedNotPanicking(t *testing.T) {
	t.Parallel()
	logger, buf := bufferLogger()
	l, path := MustOpen(t, audit.Options{Logger: logger})
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	l.Record(event("s", 1))
	l.Record(event("s", 2))
	if n := strings.Count(buf.String(), "audit event not recorded"); n != 1 {
		t.Errorf("logged %d failures, want 1 (then counted, not repeated):\n%s", n, buf)
	}
	if n := len(fileLines(t, path)); n != 0 {
		t.Errorf("%d lines written after Close", n)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
