package audit_test

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/audit"
)

// rotatedLines returns the lines of the current file and the rotated ones,
// oldest first, and how many rotated files there were.
func rotatedLines(t *testing.T, path string) (lines []string, rotated int) {
	t.Helper()
	for i := 1; ; i++ {
		name := path + "." + strconv.Itoa(i)
		if _, err := os.Stat(name); err != nil {
			break
		}
		rotated++
		lines = append(fileLines(t, name), lines...)
	}
	return append(lines, fileLines(t, path)...), rotated
}

// Many Records at once are written in batches: each event must still land
// exactly once, whole, in one file no larger than MaxBytes, while the files
// rotate under the writers.
func TestGroupedRecordsWithRotationKeepEveryEventOnce(t *testing.T) {
	t.Parallel()
	const writers, each, maxBytes = 64, 500, 256 << 10
	l, path := MustOpen(t, audit.Options{MaxBytes: maxBytes, MaxFiles: 100, Spacing: audit.DefaultSpacing})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				ev := event("w"+strconv.Itoa(w), i)
				ev.Error = strings.Repeat("x", (w+i)%200) // lines of varied length
				l.Record(ev)
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	lines, rotated := rotatedLines(t, path) // fileLines fails on a torn last line
	if rotated < 10 {
		t.Fatalf("only %d rotations: the test does not exercise rotation", rotated)
	}
	for i := 1; i <= rotated; i++ {
		name := path + "." + strconv.Itoa(i)
		if fi, err := os.Stat(name); err != nil || fi.Size() > maxBytes {
			t.Errorf("%s: over MaxBytes %d (%v)", name, maxBytes, err)
		}
	}
	if len(lines) != writers*each {
		t.Fatalf("got %d lines, want %d", len(lines), writers*each)
	}
	assertEveryEventOnce(t, lines, writers, each) // decodes every line strictly

	evs := readAll(t, path, clauderon.AuditFilter{})
	seen := make(map[string]bool, len(evs))
	for _, ev := range evs {
		key := ev.Session + "/" + ev.Rule
		if seen[key] {
			t.Fatalf("Reader returned %s twice", key)
		}
		seen[key] = true
	}
	if len(seen) != writers*each {
		t.Errorf("Reader returned %d distinct events, want %d", len(seen), writers*each)
	}
}

// A Record that met a busy writer may return before its line is written;
// Close must still write it. So every event whose Record returned before
// Close was called is in the log afterwards.
func TestCloseWritesEveryLineOfReturnedRecords(t *testing.T) {
	t.Parallel()
	const writers = 64
	logger, _ := bufferLogger() // Records after Close report their loss here
	l, path := MustOpen(t, audit.Options{MaxBytes: 256 << 10, MaxFiles: 100, Logger: logger, Spacing: audit.DefaultSpacing})
	var closing atomic.Bool
	var total atomic.Int64
	returned := make([]int, writers) // events of writer w whose Record returned before closing
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := 0; ; i++ {
				l.Record(event("w"+strconv.Itoa(w), i))
				if closing.Load() {
					return
				}
				returned[w] = i + 1
				total.Add(1)
			}
		})
	}
	for total.Load() < 10000 {
		time.Sleep(time.Millisecond)
	}
	closing.Store(true)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()

	lines, _ := rotatedLines(t, path)
	next := map[string]int{}
	for _, line := range lines {
		ev := decode(t, line)
		if want := "n" + strconv.Itoa(next[ev.Session]); ev.Rule != want {
			t.Fatalf("session %s: got event %s, want %s (lost, repeated or reordered)", ev.Session, ev.Rule, want)
		}
		next[ev.Session]++
	}
	for w, n := range returned {
		if s := "w" + strconv.Itoa(w); next[s] < n {
			t.Errorf("session %s: %d events in the log, but %d Records returned before Close", s, next[s], n)
		}
	}
}

// Without contention, and a Spacing after the last write (an agent's
// requests, one at a time), Record returns only once its line has reached
// the operating system: another reader of the file sees it at once,
// rotation included.
func TestUncontendedRecordIsReadableWhenItReturns(t *testing.T) {
	t.Parallel()
	const spacing = time.Millisecond
	l, path := MustOpen(t, audit.Options{MaxBytes: 4 << 10, MaxFiles: 20, Spacing: spacing})
	r := audit.NewReader(path)
	for i := range 100 {
		time.Sleep(spacing)
		l.Record(event("s", i))
		lines := fileLines(t, path)
		if len(lines) == 0 {
			t.Fatalf("event %d: file empty after Record returned", i)
		}
		if got, want := decode(t, lines[len(lines)-1]).Rule, "n"+strconv.Itoa(i); got != want {
			t.Fatalf("last line of the file is event %s after Record of %s returned", got, want)
		}
		evs, err := r.Read(t.Context(), clauderon.AuditFilter{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 1 || evs[0].Rule != "n"+strconv.Itoa(i) {
			t.Fatalf("Reader's newest event after Record of n%d returned: %+v", i, evs)
		}
	}
	if _, rotated := rotatedLines(t, path); rotated == 0 {
		t.Fatal("no rotation: the test does not exercise it")
	}
}
