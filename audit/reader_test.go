package audit_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/audit"
)

func TestReadFilterAndLimitAcrossRotatedFiles(t *testing.T) {
	t.Parallel()
	l, path := MustOpen(t, audit.Options{MaxBytes: 4096, MaxFiles: 100})
	for i := range 300 {
		s := "even"
		if i%2 == 1 {
			s = "odd"
		}
		l.Record(event(s, i))
	}
	if _, err := os.Stat(path + ".3"); err != nil {
		t.Fatalf("expected several rotated files: %v", err)
	}
	rules := func(evs []clauderon.AuditEvent) []string {
		var out []string
		for _, ev := range evs {
			out = append(out, ev.Rule)
		}
		return out
	}
	seq := func(from, to, step int) []string {
		var out []string
		for i := from; i < to; i += step {
			out = append(out, "n"+strconv.Itoa(i))
		}
		return out
	}
	tests := []struct {
		name   string
		filter clauderon.AuditFilter
		want   []string
	}{
		{"all, oldest first", clauderon.AuditFilter{}, seq(0, 300, 1)},
		{"one session", clauderon.AuditFilter{Session: "odd"}, seq(1, 300, 2)},
		{"newest 5", clauderon.AuditFilter{Limit: 5}, seq(295, 300, 1)},
		{"newest 100 spans files", clauderon.AuditFilter{Limit: 100}, seq(200, 300, 1)},
		{"newest 3 of a session", clauderon.AuditFilter{Session: "even", Limit: 3}, seq(294, 300, 2)},
		{"limit above total", clauderon.AuditFilter{Session: "even", Limit: 1000}, seq(0, 300, 2)},
		{"unknown session", clauderon.AuditFilter{Session: "nobody"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := rules(readAll(t, path, tt.filter))
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("got %d events %v\nwant %d %v", len(got), got, len(tt.want), tt.want)
			}
		})
	}
}

func TestReadSkipsMalformedLines(t *testing.T) {
	t.Parallel()
	l, path := MustOpen(t, audit.Options{})
	l.Record(event("s", 1))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	// Junk, a blank line, JSON that is not an event, and a torn line
	// followed by a good one (a crash mid-write, then a restart).
	f.WriteString("not json\n\n{\"ts\":\"yesterday\"}\n[1,2]\n{\"ts\":\"2026-11-28T20:00:00Z\",\"sess")
	f.Close()
	l.Record(event("s", 2))
	l.Record(event("s", 3))

	r := audit.NewReader(path)
	logger, logs := bufferLogger()
	r.Logger = logger
	evs, err := r.Read(context.Background(), clauderon.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Rule != "n1" || evs[1].Rule != "n3" {
		t.Errorf("got %+v, want events n1 and n3 (n2 shares a line with the torn write)", evs)
	}
	if !strings.Contains(logs.String(), `"skipped":5`) {
		t.Errorf("malformed lines not counted in the log: %s", logs)
	}
}

func TestReadIgnoresUnfinishedLastLine(t *testing.T) {
	t.Parallel()
	l, path := MustOpen(t, audit.Options{})
	l.Record(event("s", 1))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"ts":"2026-11-28T20:00:00Z"`) // a writer mid-line
	f.Close()
	r := audit.NewReader(path)
	logger, logs := bufferLogger()
	r.Logger = logger
	evs, err := r.Read(context.Background(), clauderon.AuditFilter{})
	if err != nil || len(evs) != 1 {
		t.Fatalf("Read = %d events, %v; want 1", len(evs), err)
	}
	if logs.String() != "" {
		t.Errorf("an unfinished line was reported as malformed: %s", logs)
	}
}

func TestReadMissingLogIsEmpty(t *testing.T) {
	t.Parallel()
	evs, err := audit.NewReader(filepath.Join(t.TempDir(), "none.jsonl")).Read(context.Background(), clauderon.AuditFilter{})
	if err != nil || len(evs) != 0 {
		t.Errorf("Read of a missing log = %v, %v; want nothing, no error", evs, err)
	}
}

func TestReadHonoursCancelledContext(t *testing.T) {
	t.Parallel()
	l, path := MustOpen(t, audit.Options{})
	l.Record(event("s", 1))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := audit.NewReader(path).Read(ctx, clauderon.AuditFilter{}); err == nil {
		t.Error("Read with a cancelled context succeeded")
	}
}
