package httpapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/clauderon/clauderon"
)

// Create asks the daemon for a new session.
func (c *Client) Create(ctx context.Context, req clauderon.CreateRequest) (*clauderon.Session, error) {
	var s clauderon.Session
	if err := c.call(ctx, http.MethodPost, "/v1/sessions", nil, req, &s); err != nil {
		return nil, err
	}
	return &s, nil
}

// Get returns the named session.
func (c *Client) Get(ctx context.Context, name string) (*clauderon.Session, error) {
	return c.session(ctx, http.MethodGet, sessionPath(name), nil)
}

// List returns the sessions, archived ones only when f asks for them.
func (c *Client) List(ctx context.Context, f clauderon.SessionFilter) ([]*clauderon.Session, error) {
	var q url.Values
	if f.Archived {
		q = url.Values{"archived": {"true"}}
	}
	var list []*clauderon.Session
	if err := c.call(ctx, http.MethodGet, "/v1/sessions", q, nil, &list); err != nil {
		return nil, err
	}
	return list, nil
}

// Start starts a stopped session's container again.
func (c *Client) Start(ctx context.Context, name string) (*clauderon.Session, error) {
	return c.session(ctx, http.MethodPost, sessionPath(name, "start"), nil)
}

// Stop stops a session's container, keeping the session.
func (c *Client) Stop(ctx context.Context, name string) (*clauderon.Session, error) {
	return c.session(ctx, http.MethodPost, sessionPath(name, "stop"), nil)
}

// Archive hides a session from the default listing.
func (c *Client) Archive(ctx context.Context, name string) (*clauderon.Session, error) {
	return c.session(ctx, http.MethodPost, sessionPath(name, "archive"), nil)
}

// Unarchive brings an archived session back.
func (c *Client) Unarchive(ctx context.Context, name string) (*clauderon.Session, error) {
	return c.session(ctx, http.MethodPost, sessionPath(name, "unarchive"), nil)
}

// SetAccessMode changes what the session may do on credentialed hosts.
func (c *Client) SetAccessMode(ctx context.Context, name string, m clauderon.AccessMode) (*clauderon.Session, error) {
	return c.session(ctx, http.MethodPut, sessionPath(name, "access-mode"), accessModeRequest{AccessMode: m})
}

// Delete removes a session; force drops uncommitted work.
func (c *Client) Delete(ctx context.Context, name string, force bool) error {
	var q url.Values
	if force {
		q = url.Values{"force": {"true"}}
	}
	return c.call(ctx, http.MethodDelete, sessionPath(name), q, nil, nil)
}

// Reconcile makes the daemon compare its sessions with the backend and
// returns them as they are afterwards.
func (c *Client) Reconcile(ctx context.Context) ([]*clauderon.Session, error) {
	var list []*clauderon.Session
	if err := c.call(ctx, http.MethodPost, "/v1/reconcile", nil, nil, &list); err != nil {
		return nil, err
	}
	return list, nil
}

// Wait blocks until the session's agent exits and returns the session then.
// Cancelling ctx hangs up, which also ends the wait in the daemon.
func (c *Client) Wait(ctx context.Context, name string) (*clauderon.Session, error) {
	return c.session(ctx, http.MethodGet, sessionPath(name, "wait"), nil)
}

// ProxyEnv mints a proxy token for a container started by hand; name may be
// empty for the daemon to choose one.
func (c *Client) ProxyEnv(ctx context.Context, name string) (*clauderon.ProxyEnv, error) {
	var env clauderon.ProxyEnv
	if err := c.call(ctx, http.MethodPost, "/v1/proxy-env", nil, proxyEnvRequest{Name: name}, &env); err != nil {
		return nil, err
	}
	return &env, nil
}

// session performs a call that answers one session.
func (c *Client) session(ctx context.Context, method, path string, body any) (*clauderon.Session, error) {
	var s clauderon.Session
	if err := c.call(ctx, method, path, nil, body, &s); err != nil {
		return nil, err
	}
	return &s, nil
}
