// Package httpapi is the daemon's API: JSON over HTTP with versioned routes
// (/v1/...), served on a unix socket that only the user who runs the daemon
// can open, and the typed Client that the CLI (and later the TUI) use to talk
// to it.
//
// The server is a thin translation layer over clauderon.SessionService and
// clauderon.AuditReader: it decodes requests, calls the service and encodes
// the answer. Application errors cross the wire as {"error":{"code","message"}}
// and come back out of the Client as the same *clauderon.Error, so the CLI
// prints the daemon's message unchanged; any other error is logged in the
// daemon and reaches clients only as "internal error".
//
// Long-lived calls stream: logs as raw bytes, audit events as NDJSON, and a
// session's terminal over a WebSocket. Errors that happen after a stream has
// started travel in HTTP trailers, so a stream that ends with an error is
// never mistaken for one that simply finished.
//
// Browsers are kept out: on the unix socket every request that carries an
// Origin header is refused (see RefuseBrowsers). The web UI will get its own
// listener with its own authenticating Middleware over the same handler.
package httpapi
