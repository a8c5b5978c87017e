package httpapi

import (
	"context"
	"errors"
	"io"
	"net/http"
)

// logChunk is the most a single read from a log stream forwards at once.
const logChunk = 32 << 10

// handleLogs streams a session's output as raw bytes, each chunk flushed as
// soon as the backend produces it, so `logs -f` and `create --print` show
// output live. It ends when the stream ends, the client goes away or the
// daemon shuts down.
func (s *Server) handleLogs(w http.ResponseWriter, r *http.Request) error {
	follow, err := queryBool(r, "follow")
	if err != nil {
		return err
	}
	ctx, cancel := s.streamContext(r)
	defer cancel()
	stream, err := s.cfg.Sessions.Logs(ctx, r.PathValue("name"), follow)
	if err != nil {
		return err
	}
	// A backend's Read need not watch ctx; closing the stream unblocks it.
	stopClose := context.AfterFunc(ctx, func() { stream.Close() })
	defer func() {
		if stopClose() {
			stream.Close()
		}
	}()

	rc := startStream(w, contentBytes)
	buf := make([]byte, logChunk)
	for {
		n, rerr := stream.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return nil // the client left
			}
			if werr := rc.Flush(); werr != nil {
				return nil
			}
		}
		if rerr != nil {
			if ctx.Err() != nil && !errors.Is(rerr, io.EOF) {
				rerr = ctx.Err() // the read failed because we closed the stream
			}
			s.endStream(w, r, ctx, rerr)
			return nil
		}
	}
}
