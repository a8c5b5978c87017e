package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/audit"
	"github.com/clauderon/clauderon/internal/testutil"
)

// MustOpen opens a log in a fresh temp directory and closes it at the end of
// the test. Unless opts asks for Spacing, each line is written when it is
// recorded: most tests read the file right after a Record. Tests of
// concurrency, and of spacing itself, ask for it.
func MustOpen(tb testing.TB, opts audit.Options) (*audit.Log, string) {
	tb.Helper()
	if opts.Spacing == 0 {
		opts.Spacing = -1
	}
	path := filepath.Join(tb.TempDir(), "audit.jsonl")
	l, err := audit.Open(path, opts)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { l.Close() })
	return l, path
}

// event returns a realistic event for session s, numbered n in Rule so tests
// can tell events apart.
func event(s string, n int) clauderon.AuditEvent {
	return clauderon.AuditEvent{
		Time:         time.Date(2026, 11, 28, 20, 0, 0, n, time.UTC),
		Session:      s,
		Method:       "POST",
		Host:         "api.anthropic.com",
		Path:         "/v1/messages",
		Status:       200,
		AuthInjected: true,
		Rule:         "n" + strconv.Itoa(n),
		BytesUp:      1234,
		BytesDown:    56789,
		DurationMS:   812.5,
		Decision:     clauderon.DecisionAllowed,
	}
}

// fileLines returns the lines of one file, failing on a missing trailing
// newline (a torn line).
func fileLines(tb testing.TB, path string) []string {
	tb.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("read %s: %v", path, err)
	}
	if len(data) == 0 {
		return nil
	}
	if data[len(data)-1] != '\n' {
		tb.Fatalf("%s does not end with a newline", path)
	}
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// decode parses a line strictly as an AuditEvent.
func decode(tb testing.TB, line string) clauderon.AuditEvent {
	tb.Helper()
	var ev clauderon.AuditEvent
	dec := json.NewDecoder(strings.NewReader(line))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		tb.Fatalf("line is not an audit event: %v\n%s", err, line)
	}
	return ev
}

// bufferLogger returns a logger writing JSON into the returned buffer.
func bufferLogger() (*slog.Logger, *testutil.SyncBuffer) {
	buf := &testutil.SyncBuffer{}
	return slog.New(slog.NewJSONHandler(buf, nil)), buf
}

// readAll reads the whole log back through a Reader.
func readAll(tb testing.TB, path string, f clauderon.AuditFilter) []clauderon.AuditEvent {
	tb.Helper()
	evs, err := audit.NewReader(path).Read(context.Background(), f)
	if err != nil {
		tb.Fatalf("Read: %v", err)
	}
	return evs
}
