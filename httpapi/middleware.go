package httpapi

import (
	"net/http"
	"time"

	"github.com/clauderon/clauderon"
)

// Middleware guards the API handler: it decides which requests reach the
// routes at all. The unix socket uses RefuseBrowsers; the web UI's TCP
// listener will use one that checks its session cookie and origin instead.
type Middleware func(http.Handler) http.Handler

// RefuseBrowsers refuses every request that carries an Origin header. Only
// browsers send one, and nothing on the daemon socket is meant for a browser:
// a page that reached the socket (through a local proxy, say) must not be able
// to drive sessions. Origin-bearing WebSocket handshakes are refused here too,
// before they could be upgraded.
func RefuseBrowsers(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, ok := r.Header["Origin"]; ok {
			writeJSON(w, http.StatusForbidden, errorBody{Error: errBrowser})
			return
		}
		next.ServeHTTP(w, r)
	})
}

var errBrowser = clauderon.Errorf(clauderon.EFORBIDDEN, "requests from browsers are not accepted on the daemon socket")

// Constant log attribute keys, so that log lines can be searched by key.
const (
	keyMethod   = "method"
	keyPath     = "path"
	keyStatus   = "status"
	keyBytes    = "bytes"
	keyDuration = "duration"
	keyErr      = "err"
	keySession  = "session"
)

// logRequests logs one debug line per request: method, path (never the query
// or the body: prompts may be private), status, size and duration.
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		s.log.DebugContext(r.Context(), "request",
			keyMethod, r.Method, keyPath, r.URL.Path, keyStatus, rec.status(),
			keyBytes, rec.bytes, keyDuration, time.Since(start))
	})
}

// statusRecorder remembers the status and size of a response. It exposes the
// underlying writer through Unwrap, so http.ResponseController can still
// flush streams and the WebSocket upgrade can still hijack the connection.
type statusRecorder struct {
	http.ResponseWriter
	code  int
	bytes int64
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(p []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (r *statusRecorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}
