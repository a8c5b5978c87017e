-- Sessions: one row per agent run. Times are unix nanoseconds, UTC, so they
-- sort and round-trip exactly. Text columns are NOT NULL with '' for "unset"
-- so Go strings map one to one; exit_code alone is nullable (not exited yet
-- is not the same as exit code 0).
CREATE TABLE sessions (
	id           TEXT    NOT NULL PRIMARY KEY,
	name         TEXT    NOT NULL UNIQUE,
	agent        TEXT    NOT NULL DEFAULT '',
	backend      TEXT    NOT NULL DEFAULT '',
	image        TEXT    NOT NULL DEFAULT '',
	repo         TEXT    NOT NULL DEFAULT '',
	worktree     TEXT    NOT NULL DEFAULT '',
	branch       TEXT    NOT NULL DEFAULT '',
	prompt       TEXT    NOT NULL DEFAULT '',
	mode         TEXT    NOT NULL DEFAULT '',
	access_mode  TEXT    NOT NULL DEFAULT '',
	status       TEXT    NOT NULL DEFAULT '',
	container_id TEXT    NOT NULL DEFAULT '',
	-- sha256 of the proxy token, hex; the token itself is never stored.
	token_hash   TEXT    NOT NULL DEFAULT '',
	exit_code    INTEGER,
	cpus         REAL    NOT NULL DEFAULT 0,
	memory_bytes INTEGER NOT NULL DEFAULT 0,
	manual       INTEGER NOT NULL DEFAULT 0 CHECK (manual IN (0, 1)),
	error        TEXT    NOT NULL DEFAULT '',
	-- Extra hosts the session may reach, as a JSON array of host patterns.
	allow        TEXT    NOT NULL DEFAULT '[]' CHECK (json_valid(allow) AND json_type(allow) = 'array'),
	created_at   INTEGER NOT NULL,
	updated_at   INTEGER NOT NULL
) STRICT;

CREATE INDEX sessions_created_at ON sessions (created_at, name);

-- A proxy token identifies exactly one session; sessions without one ('')
-- are not indexed.
CREATE UNIQUE INDEX sessions_token_hash ON sessions (token_hash) WHERE token_hash != '';
