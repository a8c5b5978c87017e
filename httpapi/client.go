package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"syscall"

	"github.com/clauderon/clauderon"
)

// baseURL is the URL every request goes to; the host is a placeholder, since
// the transport always dials the socket.
const baseURL = "http://clauderon"

// maxErrorBody bounds how much of an error response the client reads.
const maxErrorBody = 64 << 10

// errDaemonNotRunning is what every command says when there is no daemon.
var errDaemonNotRunning = clauderon.Errorf(clauderon.EUNAVAILABLE,
	"the clauderon daemon is not running: start it with `clauderon daemon` (or `make run`)")

// Client talks to the daemon over its unix socket. It implements
// clauderon.SessionService, so the CLI uses it exactly as the daemon uses
// the real service. Every error it returns for a failed call is a
// *clauderon.Error carrying the daemon's code and message, or the context's
// error when the caller gave up. It is safe for concurrent use.
//
// There are no timeouts besides the caller's context: creating a session may
// pull an image, and streams last as long as the caller wants.
type Client struct {
	socket string
	http   *http.Client
}

var _ clauderon.SessionService = (*Client)(nil)

// NewClient returns a client for the daemon listening on socketPath. It does
// not connect until the first call.
func NewClient(socketPath string) *Client {
	c := &Client{socket: socketPath}
	c.http = &http.Client{Transport: &http.Transport{
		DialContext: c.dial,
		// Never through an HTTP proxy from the environment: the daemon is
		// local and a proxy would see every prompt.
		Proxy:               nil,
		DisableCompression:  true, // streams must not wait on a compressor
		MaxIdleConnsPerHost: 4,
	}}
	return c
}

// dial connects to the socket, whatever address the request names, and turns
// "nothing there" into the message that tells the user what to do.
func (c *Client) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", c.socket)
	switch {
	case err == nil:
		return conn, nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ECONNREFUSED):
		return nil, errDaemonNotRunning
	case errors.Is(err, fs.ErrPermission):
		return nil, clauderon.Errorf(clauderon.EUNAVAILABLE,
			"cannot connect to the clauderon daemon at %s: permission denied (is it another user's daemon?)", c.socket)
	}
	return nil, err
}

// Health asks the daemon who it is.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	err := c.call(ctx, http.MethodGet, "/v1/health", nil, nil, &h)
	return h, err
}

// call sends a request with an optional JSON body and decodes a JSON answer
// into out (when out is not nil).
func (c *Client) call(ctx context.Context, method, path string, query url.Values, body, out any) error {
	resp, err := c.send(ctx, method, path, query, body)
	if err != nil {
		return err
	}
	defer func() {
		// Drain what is left (a newline) so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
	}()
	if out == nil {
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return clauderon.Errorf(clauderon.EINTERNAL, "unreadable answer from the clauderon daemon to %s %s: %v", method, path, err)
	}
	return nil
}

// send performs a request and returns the response when it succeeded (2xx).
// A failure comes back as a *clauderon.Error (or the context's error).
func (c *Client) send(ctx context.Context, method, path string, query url.Values, body any) (*http.Response, error) {
	u := baseURL + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, fmt.Errorf("encode request to %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return nil, fmt.Errorf("build request %s %s: %w", method, path, err)
	}
	if body != nil {
		req.Header.Set("Content-Type", contentJSON)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	if resp.StatusCode/100 != 2 {
		defer resp.Body.Close()
		return nil, responseError(resp)
	}
	return resp, nil
}

// transportError explains a failure to talk to the daemon at all.
func (c *Client) transportError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	var appErr *clauderon.Error
	if errors.As(err, &appErr) {
		return appErr
	}
	return clauderon.Errorf(clauderon.EUNAVAILABLE,
		"lost the connection to the clauderon daemon at %s (%v): check that it is still running", c.socket, err)
}

// responseError turns an error response back into the *clauderon.Error the
// daemon sent. A response without a proper error body (something other than
// the daemon answered) gets a code from its status.
func responseError(resp *http.Response) *clauderon.Error {
	var body errorBody
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	if err := json.Unmarshal(data, &body); err == nil && body.Error != nil && body.Error.Code != "" {
		return body.Error
	}
	return clauderon.Errorf(codeForStatus(resp.StatusCode),
		"unexpected answer from the clauderon daemon: %s", resp.Status)
}

// sessionPath is the path of a named session's resource.
func sessionPath(name string, rest ...string) string {
	p := "/v1/sessions/" + url.PathEscape(name)
	for _, r := range rest {
		p += "/" + r
	}
	return p
}
