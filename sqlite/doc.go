// Package sqlite is clauderon's session store: a SQLite database in
// $CLAUDERON_HOME, through modernc.org/sqlite (pure Go, no cgo), in WAL mode.
//
// The daemon records a session here before it tells the user the session
// exists, and it rebuilds its proxy token table from here when it starts, so
// the store's promise is durability: a CreateSession that returned survives a
// crash of the process or of the machine (synchronous=FULL).
//
// The schema lives in migrations/*.sql, embedded in the binary and applied in
// order, each once, when the database is opened.
package sqlite
