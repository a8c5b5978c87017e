// Package proxy is clauderon's credential-injecting forward proxy: the only
// place where a real credential meets the network.
//
// Containers hold placeholders and reach the internet through this proxy as an
// HTTP/1.1 forward proxy, authenticating with a per-session token in
// Proxy-Authorization. A CONNECT to a host that owns a credential is
// intercepted: the proxy terminates TLS with a certificate from the clauderon
// CA, removes the placeholder headers from each request, adds the real
// credential and forwards the request to the real host over verified TLS. Every
// other CONNECT is tunnelled as opaque bytes, and plain-HTTP requests are
// forwarded untouched. Responses pass through a leak guard that replaces any
// real secret value with its placeholder, and every request (or tunnel) becomes
// one audit event.
//
// The package takes its collaborators as plain values in Config (a
// GetCertificate func instead of the pki package, a Credentials func instead of
// the secret package, a clauderon.AuditLog instead of the audit package), so
// cmd/clauderon wires it and tests run it against httptest upstreams.
package proxy
