// Package audit writes and reads clauderon's audit log: one JSON line per
// request (or tunnel) through the credential-injecting proxy, in
// $CLAUDERON_HOME/audit.jsonl.
//
// The proxy records an event for every request it handles, allowed or not, so
// the user can see afterwards what each session reached and whether a real
// credential was added. The log therefore never holds a secret value or a
// query string: Log.Record strips a query even when the caller forgot to.
//
// Log is the writer (it implements clauderon.AuditLog), rotating by size to
// path.1 … path.N. Records are grouped into one write(2) per batch, and
// writes are spaced (Options.Spacing, a millisecond by default): a Record
// that finds no writer busy and no write in the last Spacing returns after
// its line has reached the operating system, while a line recorded sooner is
// left to the Record already writing, to the first Record after Spacing, or
// to a timer 2×Spacing after the last write (see Log). Close writes what is
// pending; the file is synced on rotation and on Close. Reader reads the
// current file and the rotated ones back (clauderon.AuditReader), and
// follows the log across rotations.
// FormatTable and FormatEventLine render events for `clauderon audit`.
package audit
