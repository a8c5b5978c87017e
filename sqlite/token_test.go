package sqlite_test

import (
	"context"
	"testing"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/sqlite"
)

func TestTokenHashLookup(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, db *sqlite.DB) {
		ctx := context.Background()
		withToken := func(name, hash string, status clauderon.SessionStatus) {
			s := minimalSession(name)
			s.TokenHash, s.Status = hash, status
			if err := db.CreateSession(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		withToken("one", "aaaa", clauderon.StatusRunning)
		withToken("two", "bbbb", clauderon.StatusArchived)
		withToken("none", "", clauderon.StatusRunning)
		withToken("none2", "", clauderon.StatusRunning) // many sessions may lack a token

		s, err := db.SessionByTokenHash(ctx, "bbbb")
		if err != nil || s.Name != "two" {
			t.Fatalf("SessionByTokenHash(bbbb) = %v, %v; want two", s, err)
		}
		for _, h := range []string{"cccc", ""} {
			if _, err := db.SessionByTokenHash(ctx, h); clauderon.ErrorCode(err) != clauderon.ENOTFOUND {
				t.Errorf("SessionByTokenHash(%q) = %v, want ENOTFOUND", h, err)
			}
		}

		m, err := db.ListTokenHashes(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(m) != 2 || m["aaaa"] == nil || m["aaaa"].Name != "one" || m["bbbb"] == nil || m["bbbb"].Name != "two" {
			t.Errorf("ListTokenHashes = %v, want aaaa→one, bbbb→two", m)
		}

		// A deleted session's token is gone; a token is unique.
		if err := db.DeleteSession(ctx, "one"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.SessionByTokenHash(ctx, "aaaa"); clauderon.ErrorCode(err) != clauderon.ENOTFOUND {
			t.Errorf("token of a deleted session still found: %v", err)
		}
		dup := minimalSession("dup")
		dup.TokenHash = "bbbb"
		if err := db.CreateSession(ctx, dup); err == nil {
			t.Error("two sessions share a token hash")
		}
	})
}
