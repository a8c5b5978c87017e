package audit_test

import (
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/audit"
)

// A write cut short (here by a file size limit, as a full disk would) leaves
// part of a line; the next line must still stand on its own, and so must the
// first line a new Open appends after such a file. The limit is set in a
// child process, so no other test's writes are cut.
func TestTornLineIsEndedBeforeTheNextLine(t *testing.T) {
	if path := os.Getenv("AUDIT_TORN_CHILD"); path != "" {
		tornChild(t, path)
		return
	}
	t.Parallel()
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	cmd := exec.Command(os.Args[0], "-test.run=^TestTornLineIsEndedBeforeTheNextLine$", "-test.v")
	cmd.Env = append(os.Environ(), "AUDIT_TORN_CHILD="+path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("want 5 lines (before, a torn part, after, a torn part, reopened), got %d:\n%s", len(lines), data)
	}
	for _, i := range []int{1, 3} {
		if !strings.HasPrefix(lines[i], "{") || strings.HasSuffix(lines[i], "}") {
			t.Errorf("line %d should be the torn start of a line: %q", i+1, lines[i])
		}
	}
	for i, want := range map[int]string{0: "before", 2: "after", 4: "reopened"} {
		if ev := decode(t, lines[i]); ev.Session != want {
			t.Errorf("line %d: session %q, want %q", i+1, ev.Session, want)
		}
	}
	// Readers skip the torn part and keep every whole event.
	var got []string
	for _, ev := range readAll(t, path, clauderon.AuditFilter{}) {
		got = append(got, ev.Session)
	}
	if strings.Join(got, ",") != "before,after,reopened" {
		t.Errorf("reader returned %v", got)
	}
}

func tornChild(t *testing.T, path string) {
	signal.Ignore(syscall.SIGXFSZ) // a write past the limit fails with EFBIG instead
	l, err := audit.Open(path, audit.Options{Spacing: -1})
	if err != nil {
		t.Fatal(err)
	}
	l.Record(event("before", 1))
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	cut := lim
	cut.Cur = uint64(fi.Size()) + 40 // 40 bytes of the next line fit
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &cut); err != nil {
		t.Fatal(err)
	}
	l.Record(event("cut", 2))
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Fatal(err)
	}
	l.Record(event("after", 3))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}

	// A file that ends in a torn line, as a crash mid-write leaves it, gets
	// its end before the next line too.
	cutFile(t, path)
	l, err = audit.Open(path, audit.Options{Spacing: -1})
	if err != nil {
		t.Fatal(err)
	}
	l.Record(event("reopened", 4))
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

// cutFile appends a torn start of a line to the file, as a crash would leave
// it.
func cutFile(t *testing.T, path string) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(`{"ts":"2026-11-28T20:00:00Z","sess`); err != nil {
		t.Fatal(err)
	}
}
