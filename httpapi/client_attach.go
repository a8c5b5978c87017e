package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/coder/websocket"

	"github.com/clauderon/clauderon"
)

// Attach connects to a session's terminal over a WebSocket. The terminal
// lasts until Close or until ctx ends; closing it detaches and leaves the
// session running. Read returns io.EOF when the session's terminal ends.
// Read must not be called concurrently with itself; Write, Resize and Close
// may be called from any goroutine.
func (c *Client) Attach(ctx context.Context, name string) (clauderon.Terminal, error) {
	conn, resp, err := websocket.Dial(ctx, "ws://clauderon"+sessionPath(name, "attach"), &websocket.DialOptions{
		HTTPClient: c.http,
	})
	if err != nil {
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols {
			return nil, responseError(resp)
		}
		return nil, c.transportError(ctx, err)
	}
	// Terminal output can come in large bursts (a full-screen redraw); the
	// daemon sends at most termChunk per message, so this is only a guard.
	conn.SetReadLimit(2 * termChunk)
	t := &wsTerminal{c: c, conn: conn, ctx: ctx}
	t.stop = context.AfterFunc(ctx, func() { conn.CloseNow() })
	return t, nil
}

// wsTerminal is a clauderon.Terminal over the attach WebSocket.
type wsTerminal struct {
	c    *Client
	conn *websocket.Conn
	ctx  context.Context
	stop func() bool

	msg       io.Reader // the rest of the current message, for Read
	closeOnce sync.Once
	closeErr  error
}

// Read returns terminal bytes. A message larger than p is returned over
// several calls.
func (t *wsTerminal) Read(p []byte) (int, error) {
	for {
		if t.msg == nil {
			typ, r, err := t.conn.Reader(t.ctx)
			if err != nil {
				return 0, t.readError(err)
			}
			if typ != websocket.MessageBinary {
				// The daemon sends only terminal bytes; skip anything else
				// a newer daemon might add.
				if _, err := io.Copy(io.Discard, r); err != nil {
					return 0, t.readError(err)
				}
				continue
			}
			t.msg = r
		}
		n, err := t.msg.Read(p)
		if errors.Is(err, io.EOF) {
			t.msg = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		if err != nil {
			return n, t.readError(err)
		}
		return n, nil
	}
}

// readError translates how the socket ended: a normal closure is the end of
// the terminal; the daemon shutting down and other closures carry the
// daemon's reason.
func (t *wsTerminal) readError(err error) error {
	var ce websocket.CloseError
	switch {
	case errors.As(err, &ce) && ce.Code == websocket.StatusNormalClosure:
		return io.EOF
	case errors.As(err, &ce) && ce.Code == websocket.StatusGoingAway:
		return clauderon.Errorf(clauderon.EUNAVAILABLE, "%s", ce.Reason)
	case errors.As(err, &ce) && ce.Code == websocket.StatusPolicyViolation:
		return clauderon.Errorf(clauderon.EINVALID, "the daemon refused a terminal message: %s", ce.Reason)
	case errors.As(err, &ce):
		return clauderon.Errorf(clauderon.EINTERNAL, "the daemon closed the terminal: %s", ce.Reason)
	}
	return t.c.transportError(t.ctx, err)
}

// Write sends keystrokes (or any bytes) to the terminal.
func (t *wsTerminal) Write(p []byte) (int, error) {
	if err := t.conn.Write(t.ctx, websocket.MessageBinary, p); err != nil {
		if t.ctx.Err() != nil {
			return 0, t.ctx.Err()
		}
		// Most likely the terminal ended or was closed; Read says which.
		return 0, fmt.Errorf("%w: %v", io.ErrClosedPipe, err)
	}
	return len(p), nil
}

// Resize tells the session's terminal its new size.
func (t *wsTerminal) Resize(ctx context.Context, cols, rows uint16) error {
	msg, err := json.Marshal(controlMessage{Type: controlResize, Cols: cols, Rows: rows})
	if err != nil {
		return err
	}
	if err := t.conn.Write(ctx, websocket.MessageText, msg); err != nil {
		return t.c.transportError(ctx, err)
	}
	return nil
}

// Close detaches from the terminal; the session goes on running.
func (t *wsTerminal) Close() error {
	t.closeOnce.Do(func() {
		t.stop()
		err := t.conn.Close(websocket.StatusNormalClosure, "detached")
		var ce websocket.CloseError
		if err != nil && !errors.As(err, &ce) {
			t.closeErr = err
		}
	})
	return t.closeErr
}
