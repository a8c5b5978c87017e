package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/sqlite"
)

// MustOpen opens the database at path and closes it when the test ends.
func MustOpen(tb testing.TB, path string) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("Open(%s): %v", path, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}

// tempPath is a database file in a fresh temp directory.
func tempPath(tb testing.TB) string {
	return filepath.Join(tb.TempDir(), "clauderon.db")
}

// stores runs fn against a file database and an in-memory one.
func stores(t *testing.T, fn func(t *testing.T, db *sqlite.DB)) {
	t.Helper()
	for name, path := range map[string]string{"file": tempPath(t), "memory": sqlite.MemoryPath} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, MustOpen(t, path))
		})
	}
}

// fullSession has every field set to a non-zero value (checked by the
// round-trip test), so a field the store forgets shows up as a difference.
func fullSession(name string) *clauderon.Session {
	exit := 3
	return &clauderon.Session{
		ID:          "id-" + name,
		Name:        name,
		Agent:       "codex",
		Backend:     "docker",
		Image:       "clauderon/agent:1.2",
		Repo:        "/home/u/src/repo",
		Worktree:    "/home/u/.clauderon/worktrees/" + name,
		Branch:      "clauderon/" + name,
		Prompt:      "fix the 'bug' — \"now\"\nplease",
		Mode:        clauderon.ModePrint,
		AccessMode:  clauderon.AccessReadOnly,
		Allow:       []string{"pypi.org", "*.corp.example", "10.1.2.0/24"},
		Status:      clauderon.StatusExited,
		ContainerID: "0123456789abcdef",
		TokenHash:   "hash-" + name,
		ExitCode:    &exit,
		CPUs:        1.5,
		MemoryBytes: 2 << 30,
		Manual:      true,
		Error:       "agent exited with status 3",
		CreatedAt:   time.Date(2026, 11, 28, 20, 1, 2, 123456789, time.FixedZone("X", 5*3600)),
		UpdatedAt:   time.Date(2026, 11, 28, 21, 1, 2, 987654321, time.UTC),
	}
}

// minimalSession has just what the daemon sets when it starts creating.
func minimalSession(name string) *clauderon.Session {
	return &clauderon.Session{
		Name: name, Agent: "claude", Backend: "docker", Image: "img",
		Mode: clauderon.ModeInteractive, AccessMode: clauderon.AccessReadWrite, Status: clauderon.StatusCreating,
	}
}
