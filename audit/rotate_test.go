package audit_test

import (
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/audit"
)

func TestRotationKeepsMaxFilesEachWithinMaxBytes(t *testing.T) {
	t.Parallel()
	const maxBytes, maxFiles, total = 2048, 3, 500
	l, path := MustOpen(t, audit.Options{MaxBytes: maxBytes, MaxFiles: maxFiles})
	for i := range total {
		l.Record(event("s", i))
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	// The current file and exactly maxFiles rotated ones; nothing older.
	names := []string{path}
	for i := 1; i <= maxFiles; i++ {
		names = append(names, path+"."+strconv.Itoa(i))
	}
	for _, name := range names {
		fi, err := os.Stat(name)
		if err != nil {
			t.Fatalf("expected %s: %v", name, err)
		}
		if fi.Size() > maxBytes {
			t.Errorf("%s is %d bytes, over MaxBytes %d", name, fi.Size(), maxBytes)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %o, want 600", name, fi.Mode().Perm())
		}
	}
	if _, err := os.Stat(path + "." + strconv.Itoa(maxFiles+1)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("file beyond MaxFiles kept (err %v)", err)
	}
	// What is kept is the newest events, contiguous, ending with the last.
	var lines []string
	for i := len(names) - 1; i >= 0; i-- {
		lines = append(lines, fileLines(t, names[i])...)
	}
	first := total - len(lines)
	for i, line := range lines {
		if got, want := decode(t, line).Rule, "n"+strconv.Itoa(first+i); got != want {
			t.Fatalf("line %d is event %s, want %s", i, got, want)
		}
	}
	if len(lines) < maxFiles*(maxBytes/len(lines[0])-1) {
		t.Errorf("only %d events kept; files were rotated before they were full", len(lines))
	}
}

func TestRotationUnderConcurrencyLosesNoLine(t *testing.T) {
	t.Parallel()
	const writers, each = 16, 500
	// Enough rotated files to hold everything, so any missing line is a loss.
	l, path := MustOpen(t, audit.Options{MaxBytes: 16 << 10, MaxFiles: 1000})
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				l.Record(event("w"+strconv.Itoa(w), i))
			}
		})
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	lines, rotated := rotatedLines(t, path)
	if rotated < 10 {
		t.Fatalf("only %d rotations: the test does not exercise rotation", rotated)
	}
	assertEveryEventOnce(t, lines, writers, each)

	// The Reader sees the same, oldest first.
	if evs := readAll(t, path, clauderon.AuditFilter{}); len(evs) != writers*each {
		t.Errorf("Reader returned %d events, want %d", len(evs), writers*each)
	}
}

func TestOversizedLineIsWrittenNotDropped(t *testing.T) {
	t.Parallel()
	l, path := MustOpen(t, audit.Options{MaxBytes: 100, MaxFiles: 2})
	l.Record(event("s", 1))
	big := event("s", 2)
	big.Error = strings.Repeat("e", 500)
	l.Record(big)
	l.Record(event("s", 3))
	evs := readAll(t, path, clauderon.AuditFilter{})
	if len(evs) != 3 || evs[1].Error != big.Error {
		t.Fatalf("got %d events, want 3 with the oversized one intact", len(evs))
	}
}
