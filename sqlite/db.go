package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/clauderon/clauderon"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// MemoryPath opens a private in-memory database, for tests.
const MemoryPath = ":memory:"

// busyTimeout is how long a statement waits for another connection's write
// lock before failing with SQLITE_BUSY. Writes here take milliseconds, so
// five seconds means "something is stuck", not "the store is busy".
const busyTimeout = 5 * time.Second

// maxOpenConns bounds the connection pool. Writers queue in database/sql
// (fairly, honouring ctx) rather than all spinning in SQLite's busy handler;
// WAL lets the readers among them run alongside one writer.
const maxOpenConns = 4

// DB is the session store. It implements clauderon.SessionStore and is safe
// for concurrent use.
type DB struct {
	db   *sql.DB
	path string
}

// Open opens the database at path, creating it (mode 0600, directory 0700)
// if needed, and applies any migrations it has not seen. MemoryPath gives a
// private in-memory database. A database written by a newer clauderon is
// refused with an ECONFLICT error.
func Open(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, clauderon.Errorf(clauderon.EINVALID, "no database path given")
	}
	dsn, err := dataSourceName(path)
	if err != nil {
		return nil, err
	}
	sdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open session database %s: %w", path, err)
	}
	if path == MemoryPath {
		// Every connection to ":memory:" is a database of its own: keep
		// exactly one, forever.
		sdb.SetMaxOpenConns(1)
		sdb.SetConnMaxIdleTime(0)
		sdb.SetConnMaxLifetime(0)
	} else {
		sdb.SetMaxOpenConns(maxOpenConns)
		sdb.SetMaxIdleConns(maxOpenConns)
	}
	db := &DB{db: sdb, path: path}
	if err := db.init(ctx); err != nil {
		sdb.Close()
		return nil, err
	}
	return db, nil
}

// dataSourceName builds the driver's DSN. Pragmas go in the DSN, not in a
// statement after Open, because they are per connection and the pool opens
// new connections at any time. A file path becomes a file: URI so that any
// character in it ('?', '#', '%') is escaped rather than parsed.
func dataSourceName(path string) (string, error) {
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()))
	q.Add("_pragma", "foreign_keys(1)")
	if path == MemoryPath {
		return MemoryPath + "?" + q.Encode(), nil
	}
	// WAL: readers do not block the writer. synchronous=FULL: a commit
	// that returned is on disk, also in WAL mode, where NORMAL would
	// only protect against a crash of the process, not of the machine.
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)")
	// Transactions take the write lock at BEGIN, so two of them never
	// deadlock upgrading from read to write (which busy_timeout cannot
	// resolve).
	q.Set("_txlock", "immediate")
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("session database path %s: %w", path, err)
	}
	if err := createPrivate(abs); err != nil {
		return "", err
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: q.Encode()}
	return u.String(), nil
}

// createPrivate makes sure the database file exists with mode 0600 before
// SQLite opens it: SQLite would create it with the umask's permissions, and
// it gives the -wal and -shm files the database file's. Sessions hold prompts
// and token hashes, which are the user's alone.
func createPrivate(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create session database directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create session database: %w", err)
	}
	defer f.Close()
	if err := f.Chmod(0o600); err != nil {
		return fmt.Errorf("restrict session database permissions: %w", err)
	}
	return nil
}

// init checks that the connection settings took effect (a DSN mistake must
// not silently cost durability) and migrates the schema.
func (db *DB) init(ctx context.Context) error {
	if err := db.db.PingContext(ctx); err != nil {
		return fmt.Errorf("open session database %s: %w", db.path, err)
	}
	want := map[string]string{"foreign_keys": "1", "busy_timeout": fmt.Sprint(busyTimeout.Milliseconds())}
	if db.path != MemoryPath {
		want["journal_mode"] = "wal"
		want["synchronous"] = "2" // FULL
	}
	for pragma, value := range want {
		got, err := db.pragma(ctx, pragma)
		if err != nil {
			return err
		}
		if got != value {
			return fmt.Errorf("session database %s: PRAGMA %s is %q, want %q", db.path, pragma, got, value)
		}
	}
	if err := migrate(ctx, db.db, migrationFiles); err != nil {
		return fmt.Errorf("migrate session database %s: %w", db.path, err)
	}
	return nil
}

// pragma reads one pragma's value on one of the pool's connections.
func (db *DB) pragma(ctx context.Context, name string) (string, error) {
	var v string
	if err := db.db.QueryRowContext(ctx, "PRAGMA "+name).Scan(&v); err != nil {
		return "", fmt.Errorf("read PRAGMA %s: %w", name, err)
	}
	return v, nil
}

// Close closes the database. Sessions already committed are on disk whether
// or not Close is called.
func (db *DB) Close() error {
	if err := db.db.Close(); err != nil {
		return fmt.Errorf("close session database %s: %w", db.path, err)
	}
	return nil
}
