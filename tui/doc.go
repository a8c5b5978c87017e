// Package tui is `clauderon tui`: a terminal interface over the daemon's API
// (httpapi.Client) and nothing else. It shows the live session list (from
// the events stream, never polling), filters it, creates sessions, stops,
// starts, archives and deletes them with confirmation, shows the selected
// session's latest audit lines, and attaches: the TUI steps aside, the
// session gets the terminal, and detaching comes back to the list.
//
// Attaching is not done here: the caller passes the CLI's attach (raw mode,
// resize, the detach keys), so both behave the same.
package tui
