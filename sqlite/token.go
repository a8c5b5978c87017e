package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/clauderon/clauderon"
)

// SessionByTokenHash returns the session whose proxy token hashes to hash
// (sha256, hex), or an ENOTFOUND error. An empty hash matches nothing:
// sessions without a token must not authenticate.
func (db *DB) SessionByTokenHash(ctx context.Context, hash string) (*clauderon.Session, error) {
	if hash == "" {
		return nil, clauderon.Errorf(clauderon.ENOTFOUND, "no session for this proxy token")
	}
	row := db.db.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE token_hash = ?`, hash)
	s, err := scanSession(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, clauderon.Errorf(clauderon.ENOTFOUND, "no session for this proxy token: it was deleted, or never issued")
	}
	if err != nil {
		return nil, fmt.Errorf("look up proxy token: %w", err)
	}
	return s, nil
}

// ListTokenHashes returns every session that has a proxy token, keyed by the
// token's hash, archived ones included: the daemon rebuilds its token table
// from this on start and decides itself which statuses may use the proxy.
func (db *DB) ListTokenHashes(ctx context.Context) (map[string]*clauderon.Session, error) {
	ss, err := db.querySessions(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE token_hash != ''`)
	if err != nil {
		return nil, fmt.Errorf("list proxy tokens: %w", err)
	}
	out := make(map[string]*clauderon.Session, len(ss))
	for _, s := range ss {
		out[s.TokenHash] = s
	}
	return out, nil
}
