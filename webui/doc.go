// Package webui is clauderon's web interface: the daemon serves it on a TCP
// listener (127.0.0.1:3030 by default) next to the same /v1 API the CLI uses
// on the unix socket.
//
// The package holds three things: the front end (TypeScript with xterm.js,
// bundled by esbuild into dist/ at build time and embedded with go:embed when
// built with the webui tag; without it, a committed fallback page says how to
// build the UI), the login (a token exchanged for a session cookie), and the
// Guard that the API server runs in front of its routes on this listener.
//
// The threat model is a browser: another site the user visits must not be
// able to drive sessions (CSRF, cross-origin WebSockets, DNS rebinding), and
// off loopback, nobody without the token may. See Guard.
package webui
