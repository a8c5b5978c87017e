package sqlite_test

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/sqlite"
)

func TestSessionRoundTripsEveryField(t *testing.T) {
	t.Parallel()
	// Guard the fixture: a field added to Session must be set here, or this
	// test could not notice that the store drops it.
	in := fullSession("every-field")
	v := reflect.ValueOf(*in)
	for i := range v.NumField() {
		if v.Field(i).IsZero() {
			t.Fatalf("fullSession leaves %s zero; set it so the round trip covers it", v.Type().Field(i).Name)
		}
	}
	stores(t, func(t *testing.T, db *sqlite.DB) {
		ctx := context.Background()
		in := fullSession("every-field")
		if err := db.CreateSession(ctx, in); err != nil {
			t.Fatal(err)
		}
		out, err := db.GetSession(ctx, in.Name)
		if err != nil {
			t.Fatal(err)
		}
		assertSameSession(t, out, in)
		if out.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt in %v, want UTC", out.CreatedAt.Location())
		}
		// Zero values come back as zero values; a nil exit code stays nil
		// (not exited) rather than becoming 0 (exited fine).
		min := minimalSession("minimal")
		if err := db.CreateSession(ctx, min); err != nil {
			t.Fatal(err)
		}
		got, err := db.GetSession(ctx, "minimal")
		if err != nil {
			t.Fatal(err)
		}
		if got.ExitCode != nil {
			t.Errorf("ExitCode = %d, want nil", *got.ExitCode)
		}
		if got.ID == "" || got.ID != min.ID || got.CreatedAt.IsZero() || !got.UpdatedAt.Equal(got.CreatedAt) {
			t.Errorf("defaults not filled: id %q (caller saw %q), created %v, updated %v", got.ID, min.ID, got.CreatedAt, got.UpdatedAt)
		}
		assertSameSession(t, got, min)
	})
}

// assertSameSession compares sessions field by field, times by Equal.
func assertSameSession(t *testing.T, got, want *clauderon.Session) {
	t.Helper()
	if !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("times: got %v / %v, want %v / %v", got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt)
	}
	g, w := *got, *want
	g.CreatedAt, g.UpdatedAt, w.CreatedAt, w.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("session differs:\n got %+v\nwant %+v", g, w)
	}
}

func TestCreateNameTakenIsConflict(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, db *sqlite.DB) {
		ctx := context.Background()
		if err := db.CreateSession(ctx, minimalSession("taken")); err != nil {
			t.Fatal(err)
		}
		again := minimalSession("taken")
		err := db.CreateSession(ctx, again)
		if clauderon.ErrorCode(err) != clauderon.ECONFLICT {
			t.Fatalf("err = %v (code %q), want ECONFLICT", err, clauderon.ErrorCode(err))
		}
		if want := `session "taken" already exists`; !strings.Contains(clauderon.ErrorMessage(err), want) {
			t.Errorf("message %q lacks %q", clauderon.ErrorMessage(err), want)
		}
		if again.ID != "" || !again.CreatedAt.IsZero() {
			t.Errorf("failed create changed the caller's session: %+v", again)
		}
		if ss, _ := db.ListSessions(ctx, clauderon.SessionFilter{}); len(ss) != 1 {
			t.Errorf("%d sessions after the clash, want 1", len(ss))
		}
	})
}

func TestCreateRejectsInvalidName(t *testing.T) {
	t.Parallel()
	db := MustOpen(t, sqlite.MemoryPath)
	for _, name := range []string{"", "Upper", "-dash", "a b", strings.Repeat("a", 64)} {
		if err := db.CreateSession(context.Background(), minimalSession(name)); clauderon.ErrorCode(err) != clauderon.EINVALID {
			t.Errorf("name %q: err = %v, want EINVALID", name, err)
		}
	}
}

func TestUnknownSessionIsNotFound(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, db *sqlite.DB) {
		ctx := context.Background()
		_, err := db.GetSession(ctx, "ghost")
		assertNotFound(t, "Get", err)
		if !strings.Contains(clauderon.ErrorMessage(err), `no session named "ghost"`) ||
			!strings.Contains(clauderon.ErrorMessage(err), "clauderon list") {
			t.Errorf("Get message = %q", clauderon.ErrorMessage(err))
		}
		assertNotFound(t, "Update", db.UpdateSession(ctx, minimalSession("ghost")))
		assertNotFound(t, "Delete", db.DeleteSession(ctx, "ghost"))
	})
}

func assertNotFound(t *testing.T, op string, err error) {
	t.Helper()
	if clauderon.ErrorCode(err) != clauderon.ENOTFOUND {
		t.Errorf("%s: err = %v (code %q), want ENOTFOUND", op, err, clauderon.ErrorCode(err))
	}
}

func TestUpdateSavesFieldsAndSetsUpdatedAt(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, db *sqlite.DB) {
		ctx := context.Background()
		s := minimalSession("upd")
		s.CreatedAt = time.Now().Add(-time.Hour)
		if err := db.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		created, before := s.CreatedAt, s.UpdatedAt
		changed := fullSession("upd")
		changed.ID, changed.CreatedAt = "ignored", time.Unix(0, 0) // never changed by Update
		if err := db.UpdateSession(ctx, changed); err != nil {
			t.Fatal(err)
		}
		if !changed.UpdatedAt.After(before) {
			t.Errorf("UpdatedAt %v not after %v", changed.UpdatedAt, before)
		}
		got, err := db.GetSession(ctx, "upd")
		if err != nil {
			t.Fatal(err)
		}
		want := *changed
		want.ID, want.CreatedAt = s.ID, created
		assertSameSession(t, got, &want)

		// And back: clearing the exit code stores NULL again.
		got.ExitCode = nil
		if err := db.UpdateSession(ctx, got); err != nil {
			t.Fatal(err)
		}
		if again, _ := db.GetSession(ctx, "upd"); again.ExitCode != nil {
			t.Errorf("ExitCode = %d after clearing it, want nil", *again.ExitCode)
		}
	})
}

func TestDeleteSession(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, db *sqlite.DB) {
		ctx := context.Background()
		for _, n := range []string{"keep", "drop"} {
			if err := db.CreateSession(ctx, minimalSession(n)); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.DeleteSession(ctx, "drop"); err != nil {
			t.Fatal(err)
		}
		_, err := db.GetSession(ctx, "drop")
		assertNotFound(t, "Get after Delete", err)
		if _, err := db.GetSession(ctx, "keep"); err != nil {
			t.Errorf("the other session went too: %v", err)
		}
		// The name is free again.
		if err := db.CreateSession(ctx, minimalSession("drop")); err != nil {
			t.Errorf("re-create after delete: %v", err)
		}
	})
}

func TestListSessionsOrderAndArchivedFilter(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, db *sqlite.DB) {
		ctx := context.Background()
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		// Created out of order; "c" and "b" share a time, so name breaks the tie.
		for _, c := range []struct {
			name   string
			at     time.Duration
			status clauderon.SessionStatus
		}{
			{"d", 3, clauderon.StatusRunning},
			{"a", 0, clauderon.StatusExited},
			{"old", -1, clauderon.StatusArchived},
			{"c", 1, clauderon.StatusFailed},
			{"b", 1, clauderon.StatusArchived},
		} {
			s := minimalSession(c.name)
			s.Status = c.status
			s.CreatedAt = base.Add(c.at * time.Nanosecond)
			if err := db.CreateSession(ctx, s); err != nil {
				t.Fatal(err)
			}
		}
		names := func(f clauderon.SessionFilter) string {
			ss, err := db.ListSessions(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, s := range ss {
				out = append(out, s.Name)
			}
			return strings.Join(out, ",")
		}
		if got, want := names(clauderon.SessionFilter{}), "a,c,d"; got != want {
			t.Errorf("List = %s, want %s", got, want)
		}
		if got, want := names(clauderon.SessionFilter{Archived: true}), "old,a,b,c,d"; got != want {
			t.Errorf("List(archived) = %s, want %s", got, want)
		}
	})
}

func TestListEmptyStore(t *testing.T) {
	t.Parallel()
	ss, err := MustOpen(t, sqlite.MemoryPath).ListSessions(context.Background(), clauderon.SessionFilter{Archived: true})
	if err != nil || len(ss) != 0 {
		t.Errorf("List = %v, %v; want nothing", ss, err)
	}
}
