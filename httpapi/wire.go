package httpapi

import "github.com/clauderon/clauderon"

// Wire types shared by the server and the client. Domain types
// (clauderon.Session, clauderon.CreateRequest, ...) cross the wire as they are;
// these carry the few shapes that exist only on the API.

// Health is what GET /v1/health answers: enough for a client to tell which
// daemon it reached.
type Health struct {
	Version string `json:"version"`
	PID     int    `json:"pid"`
}

// errorBody is the JSON body of every error response.
type errorBody struct {
	Error *clauderon.Error `json:"error"`
}

// accessModeRequest is the body of PUT /v1/sessions/{name}/access-mode.
type accessModeRequest struct {
	AccessMode clauderon.AccessMode `json:"access_mode"`
}

// proxyEnvRequest is the body of POST /v1/proxy-env; an empty Name asks the
// service to pick one.
type proxyEnvRequest struct {
	Name string `json:"name,omitempty"`
}

// controlMessage is a text message from the client on the attach WebSocket.
// Binary messages are terminal bytes; text messages are always one of these.
type controlMessage struct {
	Type string `json:"type"`
	Cols uint16 `json:"cols,omitempty"`
	Rows uint16 `json:"rows,omitempty"`
}

// controlResize is the only control message type so far.
const controlResize = "resize"

// Trailers that report an error after a stream has started (the status line
// has already said 200 by then).
const (
	trailerErrorCode    = "Clauderon-Error-Code"
	trailerErrorMessage = "Clauderon-Error-Message"
)

// Content types used on the wire.
const (
	contentJSON   = "application/json"
	contentNDJSON = "application/x-ndjson"
	contentBytes  = "application/octet-stream"
)
