package audit

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/internal/testutil"
)

// These tests take the writer's role themselves (see Log), to hold a batch
// in flight as long as they need.

func openTestLog(t *testing.T, opts Options) (*Log, string) {
	t.Helper()
	if opts.Spacing == 0 {
		opts.Spacing = -1 // as MustOpen
	}
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	l, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l, path
}

func testEvent(n, errLen int) clauderon.AuditEvent {
	return clauderon.AuditEvent{
		Time:     time.Date(2026, 11, 28, 20, 0, 0, n, time.UTC),
		Session:  "s",
		Method:   "GET",
		Host:     "api.example.com",
		Path:     "/",
		Rule:     "n" + strconv.Itoa(n),
		Decision: clauderon.DecisionAllowed,
		Error:    strings.Repeat("e", errLen),
	}
}

// becomeWriter makes the test the busy writer, as a Record in the middle of
// a write(2) would be.
func becomeWriter(t *testing.T, l *Log) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.writing {
		t.Fatal("a writer is already busy")
	}
	l.writing = true
}

// finishWriting writes what is pending and gives up the writer's role, as
// the busy writer's Record does before it returns.
func finishWriting(l *Log) {
	l.finishTurn()
}

// readRules returns the Rule of every line of the file at name, failing on a
// torn or malformed line.
func readRules(t *testing.T, name string) []string {
	t.Helper()
	data, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) == 0 {
		return nil
	}
	if data[len(data)-1] != '\n' {
		t.Fatalf("%s ends with a torn line", name)
	}
	var rules []string
	for line := range strings.Lines(string(data)) {
		ev, err := decodeLine([]byte(strings.TrimSuffix(line, "\n")))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rules = append(rules, ev.Rule)
	}
	return rules
}

// finished reports whether done is closed within a short while.
func finished(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	case <-time.After(50 * time.Millisecond):
		return false
	}
}

func TestRecordLeavesItsLineToTheBusyWriterAndCloseWritesIt(t *testing.T) {
	t.Parallel()
	l, path := openTestLog(t, Options{})
	becomeWriter(t, l)
	l.Record(testEvent(1, 0)) // returns without waiting for the writer
	l.Record(testEvent(2, 0))
	if rules := readRules(t, path); len(rules) != 0 {
		t.Fatalf("lines written by a Record that met a busy writer: %v", rules)
	}
	closed := make(chan struct{})
	go func() {
		defer close(closed)
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	}()
	if finished(closed) {
		t.Fatal("Close returned while a writer was busy")
	}
	finishWriting(l)
	<-closed
	if got := readRules(t, path); strings.Join(got, ",") != "n1,n2" {
		t.Fatalf("after Close the file holds %v, want [n1 n2]", got)
	}
}

func TestRecordWaitsForRoomWhileAMegabyteIsPending(t *testing.T) {
	t.Parallel()
	l, path := openTestLog(t, Options{MaxFiles: 1})
	becomeWriter(t, l)
	n := 0
	for {
		l.mu.Lock()
		full := len(l.pending) >= maxPending
		l.mu.Unlock()
		if full {
			break
		}
		l.Record(testEvent(n, 1000))
		n++
	}
	added := make(chan struct{})
	go func() {
		defer close(added)
		l.Record(testEvent(n, 0))
	}()
	if finished(added) {
		t.Fatal("Record added a line past the pending limit while the writer was busy")
	}
	finishWriting(l) // takes the batch, which lets the waiting Record add its line
	<-added
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	rules := readRules(t, path)
	if len(rules) != n+1 || rules[n] != "n"+strconv.Itoa(n) {
		t.Fatalf("got %d lines ending %q, want %d ending n%d", len(rules), rules[len(rules)-1], n+1, n)
	}
}

// One batch larger than MaxBytes is split between files at line boundaries,
// and a line larger than MaxBytes is alone in its file.
func TestBatchIsSplitAtLinesAcrossRotations(t *testing.T) {
	t.Parallel()
	const maxBytes = 1000
	l, path := openTestLog(t, Options{MaxBytes: maxBytes, MaxFiles: 100})
	becomeWriter(t, l)
	var want []string
	for i := range 30 {
		errLen := i * 13 % 150
		if i == 17 {
			errLen = 2500 // alone in its file
		}
		l.Record(testEvent(i, errLen))
		want = append(want, "n"+strconv.Itoa(i))
	}
	l.mu.Lock()
	if batch := len(l.pending); batch < 5*maxBytes {
		t.Fatalf("pending batch is %d bytes, want several files' worth", batch)
	}
	l.mu.Unlock()
	finishWriting(l)

	var got []string
	files := 0
	for i := 100; i >= 0; i-- {
		name := path
		if i > 0 {
			name = rotatedName(path, i)
		}
		fi, err := os.Stat(name)
		if err != nil {
			continue
		}
		files++
		rules := readRules(t, name)
		if fi.Size() > maxBytes && (len(rules) != 1 || rules[0] != "n17") {
			t.Errorf("%s is %d bytes, over MaxBytes, holding %v", name, fi.Size(), rules)
		}
		got = append(got, rules...)
	}
	if files < 5 {
		t.Errorf("%d files, want the batch spread over at least 5", files)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events across files:\n got %v\nwant %v", got, want)
	}
}

// A failed write loses every event of its batch, and each is counted.
func TestFailedBatchCountsEachLostEvent(t *testing.T) {
	t.Parallel()
	var logged testutil.SyncBuffer
	logger := slogJSON(&logged)
	l, path := openTestLog(t, Options{Logger: logger})
	becomeWriter(t, l)
	for i := range 3 {
		l.Record(testEvent(i, 0))
	}
	good := l.f
	bad, err := os.Open(path) // read-only: writes fail
	if err != nil {
		t.Fatal(err)
	}
	l.f = bad
	finishWriting(l)
	l.f = good
	bad.Close()
	l.mu.Lock()
	failed := l.failed
	l.mu.Unlock()
	if failed != 3 {
		t.Errorf("failed = %d after a batch of 3 was lost, want 3", failed)
	}
	if n := strings.Count(logged.String(), "audit event not recorded"); n != 1 {
		t.Errorf("logged %d failures, want 1:\n%s", n, logged.String())
	}
	l.Record(testEvent(3, 0))
	if !strings.Contains(logged.String(), `"msg":"audit log writable again"`) ||
		!strings.Contains(logged.String(), `"lost_events":3`) {
		t.Errorf("recovery not logged with lost_events 3:\n%s", logged.String())
	}
	if got := readRules(t, path); strings.Join(got, ",") != "n3" {
		t.Errorf("file holds %v, want [n3]", got)
	}
}

func slogJSON(w io.Writer) *slog.Logger { return slog.New(slog.NewJSONHandler(w, nil)) }

// TestWriterTurnIsBounded: when lines keep arriving while the writer writes,
// the Record that became the writer returns after maxBatchesPerTurn batches,
// and a goroutine writes the rest.
func TestWriterTurnIsBounded(t *testing.T) {
	l, path := openTestLog(t, Options{Logger: slog.New(slog.DiscardHandler)})
	const extra = 3 * maxBatchesPerTurn
	var writes atomic.Int32
	added, allAdded := 0, make(chan struct{})
	// The goroutine that takes the turn over may write before the count is
	// read after Record returns: a batch past the bound waits until then.
	// (Were it Record's own, it waits 5 s and is counted.)
	checked := make(chan struct{})
	l.testHookWrote = func() {
		if writes.Add(1) > maxBatchesPerTurn {
			select {
			case <-checked:
			case <-time.After(5 * time.Second):
			}
		}
		if added < extra { // another request's line arrives during each write
			added++
			if added == extra {
				defer close(allAdded)
			}
			var line bytes.Buffer
			if err := encodeLine(&line, testEvent(added, 0)); err != nil {
				t.Error(err)
			}
			l.mu.Lock()
			l.addLocked(line.Bytes())
			l.mu.Unlock()
		}
	}
	l.Record(testEvent(0, 0))
	if atReturn := writes.Load(); atReturn > maxBatchesPerTurn {
		t.Errorf("Record wrote %d batches before it returned, want at most %d", atReturn, maxBatchesPerTurn)
	}
	close(checked)
	<-allAdded // (Records after Close lose their events)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readRules(t, path); len(got) != 1+extra || got[0] != "n0" || got[extra] != "n"+strconv.Itoa(extra) {
		t.Errorf("lines %v, want n0 to n%d", got, extra)
	}
}
