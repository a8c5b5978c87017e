package audit_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/audit"
)

func TestFormatTable(t *testing.T) {
	t.Parallel()
	ok := event("alpha", 1)
	denied := clauderon.AuditEvent{
		Time: ok.Time, Session: "beta-session", Method: "CONNECT", Host: "evil.example",
		Decision: clauderon.DecisionDenied, Status: 403, DurationMS: 0.25, Error: "port 22 not allowed",
	}
	var buf bytes.Buffer
	if err := audit.FormatTable(&buf, []clauderon.AuditEvent{ok, denied}); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines, want header and 2 rows:\n%s", len(lines), buf.String())
	}
	header := strings.Fields(lines[0])
	want := []string{"TIME", "SESSION", "DECISION", "METHOD", "HOST", "PATH", "STATUS", "INJECTED", "RULE", "BYTES", "UP/DOWN", "MS", "ERROR"}
	if strings.Join(header, " ") != strings.Join(want, " ") {
		t.Errorf("header = %q", lines[0])
	}
	// Columns are aligned: each column starts at the same offset in every row.
	col := strings.Index(lines[0], "HOST")
	if lines[1][col:col+len("api.anthropic.com")] != "api.anthropic.com" || lines[2][col:col+len("evil.example")] != "evil.example" {
		t.Errorf("HOST column not aligned:\n%s", buf.String())
	}
	for _, w := range []string{
		ok.Time.Local().Format("2006-01-02 15:04:05.000"), "alpha", "allowed", "POST", "/v1/messages",
		"200", "yes", "n1", "1.2K/55.5K", "812",
	} {
		if !strings.Contains(lines[1], w) {
			t.Errorf("row 1 lacks %q: %s", w, lines[1])
		}
	}
	for _, w := range []string{"beta-session", "denied", "CONNECT", "403", "no", "0/0", "0.2", "port 22 not allowed"} {
		if !strings.Contains(lines[2], w) {
			t.Errorf("row 2 lacks %q: %s", w, lines[2])
		}
	}
}

func TestFormatNeutralisesTerminalEscapes(t *testing.T) {
	t.Parallel()
	ev := event("s", 1)
	ev.Host = "x\x1b]0;pwned\x07.example"
	ev.Path = "/a\tb\r\n?secret=1"
	ev.Error = "bad\x1b[2J"
	var buf bytes.Buffer
	if err := audit.FormatTable(&buf, []clauderon.AuditEvent{ev}); err != nil {
		t.Fatal(err)
	}
	line := audit.FormatEventLine(ev)
	for name, out := range map[string]string{"table": buf.String(), "line": line} {
		if strings.ContainsAny(out, "\x1b\x07\r") || strings.Contains(out, "secret") {
			t.Errorf("%s output carries control characters or a query: %q", name, out)
		}
		if !strings.Contains(out, `x\x1b]0;pwned\a.example`) {
			t.Errorf("%s output does not show the escaped host: %q", name, out)
		}
	}
	if strings.Contains(line, "\n") {
		t.Errorf("event line spans lines: %q", line)
	}
}

func TestFormatEventLine(t *testing.T) {
	t.Parallel()
	ev := event("alpha", 3)
	ev.Error = "boom"
	got := audit.FormatEventLine(ev)
	want := ev.Time.Local().Format("2006-01-02 15:04:05.000") +
		` alpha allowed POST api.anthropic.com/v1/messages 200 injected rule=n3 up=1.2K down=55.5K 812ms error="boom"`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}
