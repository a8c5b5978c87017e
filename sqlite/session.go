package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/clauderon/clauderon"
	sqlitedrv "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sessionColumns is the column list every query reads, in scanSession's order.
const sessionColumns = `id, name, agent, backend, image, repo, worktree, branch, prompt, mode,
	access_mode, status, container_id, token_hash, exit_code, cpus, memory_bytes, manual, error,
	created_at, updated_at, allow`

// CreateSession stores a new session. It fills in what the caller left
// unset: an ID (random), CreatedAt (now) and UpdatedAt (CreatedAt), and
// normalises times to UTC; s is changed only on success. An invalid name is
// an EINVALID error, a name already taken ECONFLICT. When it returns nil the
// session is on disk.
func (db *DB) CreateSession(ctx context.Context, s *clauderon.Session) error {
	if err := clauderon.ValidateSessionName(s.Name); err != nil {
		return err
	}
	c := *s // s changes only if the session is stored
	if c.ID == "" {
		id, err := newID()
		if err != nil {
			return err
		}
		c.ID = id
	}
	if c.CreatedAt.IsZero() {
		c.CreatedAt = now()
	}
	if c.UpdatedAt.IsZero() {
		c.UpdatedAt = c.CreatedAt
	}
	created, err := unixNano(c.CreatedAt)
	if err != nil {
		return err
	}
	updated, err := unixNano(c.UpdatedAt)
	if err != nil {
		return err
	}
	c.CreatedAt, c.UpdatedAt = fromUnixNano(created), fromUnixNano(updated)
	_, err = db.db.ExecContext(ctx, `INSERT INTO sessions (`+sessionColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.ID, c.Name, c.Agent, c.Backend, c.Image, c.Repo, c.Worktree, c.Branch, c.Prompt, string(c.Mode),
		string(c.AccessMode), string(c.Status), c.ContainerID, c.TokenHash, exitCode(c.ExitCode), c.CPUs, c.MemoryBytes, c.Manual, c.Error,
		created, updated, allowJSON(c.Allow))
	if err != nil {
		if column, ok := uniqueViolation(err); ok {
			switch column {
			case "sessions.name":
				return clauderon.Errorf(clauderon.ECONFLICT, "session %q already exists: choose another name, or delete it with 'clauderon delete %s'", c.Name, c.Name)
			case "sessions.id":
				return clauderon.Errorf(clauderon.ECONFLICT, "a session with id %q already exists", c.ID)
			}
		}
		return fmt.Errorf("create session %q: %w", c.Name, err)
	}
	*s = c
	return nil
}

// GetSession returns the named session, or an ENOTFOUND error.
func (db *DB) GetSession(ctx context.Context, name string) (*clauderon.Session, error) {
	row := db.db.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE name = ?`, name)
	s, err := scanSession(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(name)
	}
	if err != nil {
		return nil, fmt.Errorf("get session %q: %w", name, err)
	}
	return s, nil
}

// ListSessions returns sessions oldest first (by creation time, then name);
// archived ones only when f.Archived is set.
func (db *DB) ListSessions(ctx context.Context, f clauderon.SessionFilter) ([]*clauderon.Session, error) {
	q := `SELECT ` + sessionColumns + ` FROM sessions`
	var args []any
	if !f.Archived {
		q += ` WHERE status != ?`
		args = append(args, string(clauderon.StatusArchived))
	}
	q += ` ORDER BY created_at, name`
	return db.querySessions(ctx, q, args...)
}

// querySessions runs a query selecting sessionColumns and scans every row.
func (db *DB) querySessions(ctx context.Context, q string, args ...any) ([]*clauderon.Session, error) {
	rows, err := db.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	defer rows.Close()
	var out []*clauderon.Session
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("list sessions: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	return out, nil
}

// UpdateSession saves every field of s, found by name, except ID, Name and
// CreatedAt, which never change. It sets s.UpdatedAt to now. An unknown name
// is an ENOTFOUND error.
func (db *DB) UpdateSession(ctx context.Context, s *clauderon.Session) error {
	updatedAt := now()
	updated, err := unixNano(updatedAt)
	if err != nil {
		return err
	}
	res, err := db.db.ExecContext(ctx, `UPDATE sessions SET
		agent = ?, backend = ?, image = ?, repo = ?, worktree = ?, branch = ?, prompt = ?, mode = ?,
		access_mode = ?, status = ?, container_id = ?, token_hash = ?, exit_code = ?, cpus = ?,
		memory_bytes = ?, manual = ?, error = ?, updated_at = ?, allow = ?
		WHERE name = ?`,
		s.Agent, s.Backend, s.Image, s.Repo, s.Worktree, s.Branch, s.Prompt, string(s.Mode),
		string(s.AccessMode), string(s.Status), s.ContainerID, s.TokenHash, exitCode(s.ExitCode), s.CPUs,
		s.MemoryBytes, s.Manual, s.Error, updated, allowJSON(s.Allow),
		s.Name)
	if err != nil {
		return fmt.Errorf("update session %q: %w", s.Name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("update session %q: %w", s.Name, err)
	} else if n == 0 {
		return notFound(s.Name)
	}
	s.UpdatedAt = updatedAt
	return nil
}

// DeleteSession removes the named session, or returns an ENOTFOUND error.
// Its proxy token stops working once the daemon drops it from its table.
func (db *DB) DeleteSession(ctx context.Context, name string) error {
	res, err := db.db.ExecContext(ctx, `DELETE FROM sessions WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("delete session %q: %w", name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("delete session %q: %w", name, err)
	} else if n == 0 {
		return notFound(name)
	}
	return nil
}

func notFound(name string) error {
	return clauderon.Errorf(clauderon.ENOTFOUND, "no session named %q: see 'clauderon list'", name)
}

// scanSession reads one row of sessionColumns.
func scanSession(row interface{ Scan(...any) error }) (*clauderon.Session, error) {
	var (
		s                  clauderon.Session
		mode, access, stat string
		exit               sql.NullInt64
		created, updated   int64
		allow              string
	)
	err := row.Scan(&s.ID, &s.Name, &s.Agent, &s.Backend, &s.Image, &s.Repo, &s.Worktree, &s.Branch, &s.Prompt, &mode,
		&access, &stat, &s.ContainerID, &s.TokenHash, &exit, &s.CPUs, &s.MemoryBytes, &s.Manual, &s.Error,
		&created, &updated, &allow)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(allow), &s.Allow); err != nil {
		return nil, fmt.Errorf("session %q: allow column: %w", s.Name, err)
	}
	if len(s.Allow) == 0 {
		s.Allow = nil // "[]" reads back as the nil the caller stored
	}
	s.Mode, s.AccessMode, s.Status = clauderon.Mode(mode), clauderon.AccessMode(access), clauderon.SessionStatus(stat)
	if exit.Valid {
		code := int(exit.Int64)
		s.ExitCode = &code
	}
	s.CreatedAt, s.UpdatedAt = fromUnixNano(created), fromUnixNano(updated)
	return &s, nil
}

// allowJSON is the allow column: a JSON array, "[]" when empty.
func allowJSON(allow []string) string {
	if len(allow) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(allow) // strings always marshal
	return string(b)
}

// exitCode maps "not exited yet" to NULL.
func exitCode(c *int) any {
	if c == nil {
		return nil
	}
	return int64(*c)
}

// uniqueViolation reports whether err is a UNIQUE or PRIMARY KEY constraint
// failure, and on which column ("sessions.name").
func uniqueViolation(err error) (string, bool) {
	var se *sqlitedrv.Error
	if !errors.As(err, &se) {
		return "", false
	}
	if se.Code() != sqlite3.SQLITE_CONSTRAINT_UNIQUE && se.Code() != sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY {
		return "", false
	}
	// The driver's message: "constraint failed: UNIQUE constraint failed:
	// sessions.name (2067)"; the column follows the last "failed: ".
	msg := se.Error()
	const marker = "constraint failed: "
	i := strings.LastIndex(msg, marker)
	if i < 0 {
		return "", true
	}
	column, _, _ := strings.Cut(msg[i+len(marker):], " ")
	return column, true
}

// now is the store's clock: UTC, without the monotonic reading, so a time
// handed back to the caller is exactly what a later read returns.
func now() time.Time { return time.Now().UTC().Round(0) }

// Stored times are unix nanoseconds, which cover 1678 to 2262.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

func unixNano(t time.Time) (int64, error) {
	if t.Before(minTime) || t.After(maxTime) {
		return 0, clauderon.Errorf(clauderon.EINVALID, "time %s is outside the years 1678 to 2262 the store can hold", t.Format(time.RFC3339))
	}
	return t.UnixNano(), nil
}

func fromUnixNano(n int64) time.Time { return time.Unix(0, n).UTC() }

// newID returns a random 128-bit session ID in hex.
func newID() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("session id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}
