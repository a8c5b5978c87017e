package audit

import (
	"bytes"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// countWrites counts the batches l writes from now on.
func countWrites(l *Log) *atomic.Int64 {
	var n atomic.Int64
	l.testHookWrote = func() { n.Add(1) }
	return &n
}

// A burst of Records within Spacing of a write is written by one later
// write, and Close writes it if that write has not come yet.
func TestSpacingGathersABurstAndCloseWritesIt(t *testing.T) {
	t.Parallel()
	l, path := openTestLog(t, Options{Spacing: time.Hour})
	writes := countWrites(l)
	l.Record(testEvent(0, 0)) // the first in a while: written at once
	for i := 1; i < 10; i++ {
		l.Record(testEvent(i, 0))
	}
	if got := readRules(t, path); strings.Join(got, ",") != "n0" {
		t.Fatalf("file holds %v before Spacing has passed, want only [n0]", got)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(readRules(t, path), ","), "n0,n1,n2,n3,n4,n5,n6,n7,n8,n9"; got != want {
		t.Fatalf("after Close the file holds %v, want %v", got, want)
	}
	if n := writes.Load(); n != 2 {
		t.Errorf("%d writes, want 2: the first line, then the burst in one", n)
	}
}

// The lines of a burst are written when Spacing has passed, without
// waiting for another Record.
func TestSpacingTimerWritesTheBurst(t *testing.T) {
	t.Parallel()
	const spacing = 20 * time.Millisecond
	l, path := openTestLog(t, Options{Spacing: spacing})
	start := time.Now()
	for i := range 5 {
		l.Record(testEvent(i, 0))
	}
	deadline := time.Now().Add(5 * time.Second)
	for wholeLines(t, path) < 5 {
		if time.Now().After(deadline) {
			t.Fatalf("%d lines in the file 5 s after the burst, want its 5", wholeLines(t, path))
		}
		time.Sleep(time.Millisecond)
	}
	waited := time.Since(start)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(readRules(t, path), ","); got != "n0,n1,n2,n3,n4" {
		t.Fatalf("file holds %v, want n0 to n4 once each, in order", got)
	}
	if waited < spacing {
		t.Errorf("the burst was written %v after the first line, sooner than Spacing %v", waited, spacing)
	}
}

// wholeLines counts the newlines in the file at path: the lines written so
// far, whatever a write in progress has added.
func wholeLines(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Count(data, []byte{'\n'})
}

// A Record that comes after Spacing has passed writes its line (and the
// burst's) itself when the timer is late, as a loaded machine makes it.
func TestRecordAfterSpacingDoesNotWaitForALateTimer(t *testing.T) {
	t.Parallel()
	l, path := openTestLog(t, Options{Spacing: 20 * time.Millisecond})
	l.Record(testEvent(0, 0))
	l.Record(testEvent(1, 0)) // scheduled for the timer
	l.mu.Lock()
	l.timer.Stop() // the timer is late
	l.lastWrite = l.lastWrite.Add(-time.Hour)
	l.mu.Unlock()
	l.Record(testEvent(2, 0))
	if got := strings.Join(readRules(t, path), ","); got != "n0,n1,n2" {
		t.Fatalf("file holds %v after a Record more than Spacing after the last write, want n0,n1,n2", got)
	}
}

// A negative Spacing writes every line as it is recorded.
func TestNegativeSpacingWritesEachLine(t *testing.T) {
	t.Parallel()
	l, path := openTestLog(t, Options{Spacing: -1})
	writes := countWrites(l)
	for i := range 5 {
		l.Record(testEvent(i, 0))
		if got := len(readRules(t, path)); got != i+1 {
			t.Fatalf("after Record %d the file holds %d lines", i, got)
		}
	}
	if n := writes.Load(); n != 5 {
		t.Errorf("%d writes, want 5", n)
	}
}

// Lines gathered for the timer are written at once when they reach
// maxPending, rather than pile up until it fires.
func TestSpacingWritesAMegabyteWithoutWaitingForTheTimer(t *testing.T) {
	t.Parallel()
	l, path := openTestLog(t, Options{Spacing: time.Hour, MaxBytes: 64 << 20})
	l.Record(testEvent(0, 0))
	const lineSize = 4 << 10
	n := 1
	for ; n*lineSize < 2*maxPending; n++ {
		l.Record(testEvent(n, lineSize))
	}
	got := len(readRules(t, path))
	if got <= 1 {
		t.Fatalf("file holds %d lines after %d MiB were recorded within Spacing, want more than the first", got, 2*maxPending>>20)
	}
	l.mu.Lock()
	pending := len(l.pending)
	l.mu.Unlock()
	if pending >= maxPending {
		t.Errorf("%d bytes still pending, want less than maxPending (%d)", pending, maxPending)
	}
}

// Under steady traffic the Records write: the first one after Spacing writes
// the lines left pending with its own, before the timer (2×Spacing after the
// last write) would.
func TestRecordAfterSpacingWritesThePendingLines(t *testing.T) {
	t.Parallel()
	const spacing = 200 * time.Millisecond // wide, for a loaded machine
	l, path := openTestLog(t, Options{Spacing: spacing})
	l.Record(testEvent(0, 0)) // written
	l.Record(testEvent(1, 0)) // pending
	time.Sleep(spacing + 10*time.Millisecond)
	l.Record(testEvent(2, 0))
	if got := strings.Join(readRules(t, path), ","); got != "n0,n1,n2" {
		t.Fatalf("file holds %v right after the first Record after Spacing, want n0,n1,n2", got)
	}
}
