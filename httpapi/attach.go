package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sync/atomic"

	"github.com/coder/websocket"

	"github.com/clauderon/clauderon"
)

// maxClientMessage bounds one message from an attached client: keystrokes,
// pastes and control messages, never a file.
const maxClientMessage = 64 << 10

// termChunk is the most terminal output sent in one WebSocket message.
const termChunk = 32 << 10

// acceptOptions are deliberately the library's strict defaults: a handshake
// with an Origin is accepted only from the request's own host. On the unix
// socket no Origin ever arrives (RefuseBrowsers turns it away first); on the
// web UI's TCP listener this is what stops other sites from opening a
// terminal. Never set InsecureSkipVerify here.
func acceptOptions() *websocket.AcceptOptions { return &websocket.AcceptOptions{} }

// handleAttach connects a WebSocket to a session's terminal. Binary messages
// carry terminal bytes both ways; text messages from the client are JSON
// control messages ({"type":"resize","cols":N,"rows":N}). When the terminal
// ends, the server closes with a normal closure; when the client goes away,
// the server closes the Terminal, which detaches and leaves the session
// running.
func (s *Server) handleAttach(w http.ResponseWriter, r *http.Request) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return errShuttingDown
	}
	s.terminals.Add(1)
	s.mu.Unlock()
	defer s.terminals.Done()

	// The terminal lives as long as this handler: the request context ends
	// when it returns. Shutdown is handled below, with a proper close frame.
	ctx := r.Context()
	name := r.PathValue("name")
	term, err := s.cfg.Sessions.Attach(ctx, name)
	if err != nil {
		return err // before the upgrade: an ordinary error response
	}
	conn, err := websocket.Accept(w, r, acceptOptions())
	if err != nil {
		term.Close()
		s.log.Debug("websocket upgrade refused", keySession, name, keyErr, err)
		return nil // Accept has answered the request
	}
	defer conn.CloseNow()
	conn.SetReadLimit(maxClientMessage)
	stopOnShutdown := context.AfterFunc(s.streams, func() {
		conn.Close(websocket.StatusGoingAway, errShuttingDown.Message)
	})
	defer stopOnShutdown()

	var detached atomic.Bool
	outputDone := make(chan struct{})
	go func() {
		defer close(outputDone)
		s.pumpOutput(ctx, conn, term, &detached, name)
	}()
	s.pumpInput(ctx, conn, term, name)
	detached.Store(true)
	term.Close() // detach: the session goes on without us
	<-outputDone
	return nil
}

// pumpOutput copies the terminal to the client until the terminal ends (a
// normal closure) or fails (an internal-error closure, with the detail
// logged here).
func (s *Server) pumpOutput(ctx context.Context, conn *websocket.Conn, term clauderon.Terminal, detached *atomic.Bool, name string) {
	buf := make([]byte, termChunk)
	for {
		n, err := term.Read(buf)
		if n > 0 {
			if werr := conn.Write(ctx, websocket.MessageBinary, buf[:n]); werr != nil {
				return
			}
		}
		if err == nil {
			continue
		}
		switch {
		case detached.Load():
			// We closed the terminal because the client left.
		case errors.Is(err, io.EOF):
			conn.Close(websocket.StatusNormalClosure, "the session's terminal ended")
		default:
			s.log.Error("session terminal failed", keySession, name, keyErr, err)
			conn.Close(websocket.StatusInternalError, "internal error")
		}
		return
	}
}

// pumpInput copies the client's keystrokes to the terminal and applies its
// control messages, until the client closes or breaks the protocol.
func (s *Server) pumpInput(ctx context.Context, conn *websocket.Conn, term clauderon.Terminal, name string) {
	for {
		typ, data, err := conn.Read(ctx)
		if err != nil {
			return
		}
		if typ == websocket.MessageBinary {
			if _, err := term.Write(data); err != nil {
				return // the terminal has ended; pumpOutput closes the socket
			}
			continue
		}
		msg, err := parseControl(data)
		if err != nil {
			conn.Close(websocket.StatusPolicyViolation, clauderon.ErrorMessage(err))
			return
		}
		if err := term.Resize(ctx, msg.Cols, msg.Rows); err != nil {
			// A failed resize is not worth ending the user's session over.
			s.log.Warn("resizing session terminal failed", keySession, name, keyErr, err)
		}
	}
}

// parseControl decodes and validates a control message strictly, like
// request bodies: the protocol is small and every client is ours.
func parseControl(data []byte) (controlMessage, error) {
	var msg controlMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&msg); err != nil {
		return msg, clauderon.Errorf(clauderon.EINVALID, "malformed control message")
	}
	if msg.Type != controlResize {
		return msg, clauderon.Errorf(clauderon.EINVALID, "unknown control message type")
	}
	if msg.Cols == 0 || msg.Rows == 0 {
		return msg, clauderon.Errorf(clauderon.EINVALID, "resize needs cols and rows above 0")
	}
	return msg, nil
}
