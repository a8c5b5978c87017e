package clauderon

import (
	"context"
	"time"
)

// Decisions recorded in the audit log.
const (
	DecisionAllowed   = "allowed"   // intercepted and forwarded
	DecisionDenied    = "denied"    // refused by the proxy (auth, policy, mismatch)
	DecisionTunnelled = "tunnelled" // passed through as opaque bytes
	DecisionError     = "error"     // forwarding failed (upstream unreachable, bad TLS, ...)
)

// AuditEvent is one line of the audit log: one request (or one tunnel) through
// the proxy. It never holds a secret value or a query string, which often
// carries tokens.
type AuditEvent struct {
	Time         time.Time `json:"ts"`
	Session      string    `json:"session"`
	Method       string    `json:"method"`
	Host         string    `json:"host"`
	Path         string    `json:"path"`
	Status       int       `json:"status"`
	AuthInjected bool      `json:"auth_injected"`
	Rule         string    `json:"rule"`
	BytesUp      int64     `json:"bytes_up"`
	BytesDown    int64     `json:"bytes_down"`
	DurationMS   float64   `json:"duration_ms"`
	Decision     string    `json:"decision"`
	Error        string    `json:"error"`
}

// AuditLog receives audit events. Record must be safe for concurrent use and
// must not block the request for long; failures to write are the log's own to
// report (a request is not failed because its audit line could not be written).
type AuditLog interface {
	Record(AuditEvent)
}

// AuditFilter selects events when reading the log back.
type AuditFilter struct {
	Session string // only this session, if set
	Limit   int    // at most this many of the newest events, if > 0
}

// AuditReader reads the audit log back.
type AuditReader interface {
	// Read returns the matching events, oldest first.
	Read(ctx context.Context, f AuditFilter) ([]AuditEvent, error)
	// Follow sends each matching event written after the call until ctx ends.
	Follow(ctx context.Context, f AuditFilter, fn func(AuditEvent) error) error
}
