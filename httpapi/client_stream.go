package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/clauderon/clauderon"
)

// Logs streams a session's output; with follow it goes on until the session
// stops. Reading returns bytes as the daemon sends them. If the stream ends
// with an error in the daemon, the last Read returns it as a *clauderon.Error
// instead of io.EOF. Cancel ctx or Close the stream to stop early.
func (c *Client) Logs(ctx context.Context, name string, follow bool) (clauderon.LogStream, error) {
	var q url.Values
	if follow {
		q = url.Values{"follow": {"true"}}
	}
	resp, err := c.send(ctx, http.MethodGet, sessionPath(name, "logs"), q, nil)
	if err != nil {
		return nil, err
	}
	return &streamBody{c: c, ctx: ctx, resp: resp}, nil
}

// Audit returns the audit events that match f, oldest first.
func (c *Client) Audit(ctx context.Context, f clauderon.AuditFilter) ([]clauderon.AuditEvent, error) {
	var events []clauderon.AuditEvent
	if err := c.call(ctx, http.MethodGet, "/v1/audit", auditQuery(f, false), nil, &events); err != nil {
		return nil, err
	}
	return events, nil
}

// FollowAudit calls fn with each matching audit event written from now on,
// until ctx ends (it then returns ctx's error), fn returns an error (it then
// returns that error) or the daemon ends the stream (a *clauderon.Error, for
// instance when it shuts down). f.Limit does not apply to a follow.
func (c *Client) FollowAudit(ctx context.Context, f clauderon.AuditFilter, fn func(clauderon.AuditEvent) error) error {
	f.Limit = 0
	resp, err := c.send(ctx, http.MethodGet, "/v1/audit", auditQuery(f, true), nil)
	if err != nil {
		return err
	}
	body := &streamBody{c: c, ctx: ctx, resp: resp}
	defer body.Close()
	dec := json.NewDecoder(body)
	for {
		var ev clauderon.AuditEvent
		if err := dec.Decode(&ev); err != nil {
			if errors.Is(err, io.EOF) {
				// A follow ends by the client's choice or with an error
				// trailer; an end without either is the daemon's doing.
				return clauderon.Errorf(clauderon.EUNAVAILABLE, "the clauderon daemon ended the audit stream")
			}
			return err
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
}

func auditQuery(f clauderon.AuditFilter, follow bool) url.Values {
	q := url.Values{}
	if f.Session != "" {
		q.Set("session", f.Session)
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if follow {
		q.Set("follow", "true")
	}
	return q
}

// streamBody reads a streamed response and, at its end, turns the error
// trailers (if the daemon set them) into the *clauderon.Error they carry.
type streamBody struct {
	c    *Client
	ctx  context.Context
	resp *http.Response
}

func (b *streamBody) Read(p []byte) (int, error) {
	n, err := b.resp.Body.Read(p)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		if code := b.resp.Trailer.Get(trailerErrorCode); code != "" {
			err = &clauderon.Error{Code: code, Message: b.resp.Trailer.Get(trailerErrorMessage)}
		}
	default:
		err = b.c.transportError(b.ctx, err)
	}
	return n, err
}

func (b *streamBody) Close() error { return b.resp.Body.Close() }
