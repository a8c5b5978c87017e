package sqlite_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/sqlite"
)

// TestConcurrentWritersAllSucceed has many goroutines creating and updating
// sessions at once, through the pool and, for a second process's worth of
// contention, through a second DB on the same file. With WAL and
// busy_timeout, every write waits its turn instead of failing SQLITE_BUSY.
func TestConcurrentWritersAllSucceed(t *testing.T) {
	t.Parallel()
	const workers, each = 16, 10
	path := tempPath(t)
	dbs := []*sqlite.DB{MustOpen(t, path), MustOpen(t, path)}
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		db := dbs[w%len(dbs)]
		wg.Go(func() {
			for i := range each {
				s := minimalSession(fmt.Sprintf("w%d-s%d", w, i))
				if err := db.CreateSession(ctx, s); err != nil {
					errs <- fmt.Errorf("create %s: %w", s.Name, err)
					continue
				}
				s.Status = clauderon.StatusRunning
				if err := db.UpdateSession(ctx, s); err != nil {
					errs <- fmt.Errorf("update %s: %w", s.Name, err)
				}
				if _, err := db.ListSessions(ctx, clauderon.SessionFilter{}); err != nil {
					errs <- fmt.Errorf("list: %w", err)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	ss, err := dbs[0].ListSessions(ctx, clauderon.SessionFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(ss) != workers*each {
		t.Fatalf("%d sessions, want %d", len(ss), workers*each)
	}
	for _, s := range ss {
		if s.Status != clauderon.StatusRunning {
			t.Errorf("%s: status %s, want running (update lost)", s.Name, s.Status)
		}
	}
}
