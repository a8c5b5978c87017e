package sqlite

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/clauderon/clauderon"
)

// rawDB opens a file database with the store's settings but without its
// migrations, so tests can run their own.
func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	dsn, err := dataSourceName(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func count(t *testing.T, db *sql.DB, q string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

func TestOpenTwiceAppliesMigrationsOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	ms, err := loadMigrations(migrationFiles)
	if err != nil || len(ms) == 0 {
		t.Fatalf("embedded migrations: %v (%d)", err, len(ms))
	}
	for range 2 {
		db, err := Open(ctx, path)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db := rawDB(t, path)
	if n := count(t, db, `SELECT COUNT(*) FROM schema_migrations`); n != len(ms) {
		t.Errorf("schema_migrations has %d rows after two opens, want %d", n, len(ms))
	}
	var at string
	if err := db.QueryRow(`SELECT applied_at FROM schema_migrations WHERE version = 1`).Scan(&at); err != nil || at == "" {
		t.Errorf("applied_at not recorded: %q, %v", at, err)
	}
}

func TestMigrateInOrderOnceEachInOwnTransaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := rawDB(t, filepath.Join(t.TempDir(), "db"))
	v1 := fstest.MapFS{
		"migrations/0001_a.sql": {Data: []byte(`CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1);`)},
	}
	// 0002 and 0003 need 0001's table: they must run after it, and 0001
	// must not run again.
	v3 := fstest.MapFS{
		"migrations/0002_b.sql": {Data: []byte(`INSERT INTO t VALUES (2);`)},
		"migrations/0001_a.sql": v1["migrations/0001_a.sql"],
		"migrations/0003_c.sql": {Data: []byte(`INSERT INTO t VALUES (3);`)},
	}
	if err := migrate(ctx, db, v1); err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, v3); err != nil {
		t.Fatal(err)
	}
	if err := migrate(ctx, db, v3); err != nil {
		t.Fatal(err)
	}
	var got string
	if err := db.QueryRow(`SELECT group_concat(x, ',') FROM (SELECT x FROM t ORDER BY rowid)`).Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "1,2,3" {
		t.Errorf("rows = %s, want 1,2,3 (each migration once, in order)", got)
	}

	// A failing migration leaves nothing of itself behind, and the ones
	// before it stay applied.
	bad := fstest.MapFS{
		"migrations/0001_a.sql": v3["migrations/0001_a.sql"],
		"migrations/0002_b.sql": v3["migrations/0002_b.sql"],
		"migrations/0003_c.sql": v3["migrations/0003_c.sql"],
		"migrations/0004_d.sql": {Data: []byte(`INSERT INTO t VALUES (4);`)},
		"migrations/0005_e.sql": {Data: []byte(`INSERT INTO t VALUES (5); SELECT * FROM no_such_table;`)},
	}
	if err := migrate(ctx, db, bad); err == nil || !strings.Contains(err.Error(), "0005_e.sql") {
		t.Fatalf("migrate with a broken migration = %v, want an error naming it", err)
	}
	if n := count(t, db, `SELECT MAX(version) FROM schema_migrations`); n != 4 {
		t.Errorf("schema version %d after the failure, want 4", n)
	}
	if n := count(t, db, `SELECT COUNT(*) FROM t WHERE x = 5`); n != 0 {
		t.Errorf("the failed migration's insert was kept")
	}
}

func TestNewerSchemaIsClearError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "db")
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw := rawDB(t, path)
	if _, err := raw.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (999, 'later')`); err != nil {
		t.Fatal(err)
	}
	_, err = Open(ctx, path)
	if clauderon.ErrorCode(err) != clauderon.ECONFLICT || !strings.Contains(clauderon.ErrorMessage(err), "newer clauderon") {
		t.Fatalf("Open of a newer database = %v, want ECONFLICT saying it is newer", err)
	}
}

func TestLoadMigrationsRejectsGapsAndBadNames(t *testing.T) {
	t.Parallel()
	for name, fsys := range map[string]fstest.MapFS{
		"gap":      {"migrations/0001_a.sql": {}, "migrations/0003_c.sql": {}},
		"repeat":   {"migrations/0001_a.sql": {}, "migrations/001_b.sql": {}},
		"bad name": {"migrations/first.sql": {}},
		"zero":     {"migrations/0000_a.sql": {}},
	} {
		if _, err := loadMigrations(fsys); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
