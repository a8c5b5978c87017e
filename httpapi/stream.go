package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"

	"github.com/clauderon/clauderon"
)

// startStream sends the status line and headers of a streamed response at
// once, so that the client knows the stream is established before the first
// byte of content exists. The error trailers are declared here, as HTTP asks.
func startStream(w http.ResponseWriter, contentType string) *http.ResponseController {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	h.Set("Trailer", trailerErrorCode+", "+trailerErrorMessage)
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	_ = rc.Flush() // a failure means the client left; the next write says so
	return rc
}

// endStream reports how a stream ended. A clean end (nil or io.EOF) or a
// client that left needs nothing; otherwise the error goes into the trailers,
// where the client turns it back into a *clauderon.Error. Internal errors are
// logged and masked, as for ordinary responses.
func (s *Server) endStream(w http.ResponseWriter, r *http.Request, ctx context.Context, err error) {
	switch {
	case err == nil || errors.Is(err, io.EOF):
		return
	case endedByShutdown(ctx):
		err = errShuttingDown
	case r.Context().Err() != nil:
		s.log.Debug("client left a stream", keyPath, r.URL.Path)
		return
	}
	code := clauderon.ErrorCode(err)
	if code == clauderon.EINTERNAL {
		s.log.Error("stream failed", keyMethod, r.Method, keyPath, r.URL.Path, keyErr, err)
	}
	w.Header().Set(trailerErrorCode, code)
	w.Header().Set(trailerErrorMessage, headerSafe(clauderon.ErrorMessage(err)))
}
