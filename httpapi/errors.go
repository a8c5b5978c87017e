package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/clauderon/clauderon"
)

// codeStatus is the one table between application error codes and HTTP
// statuses. The server uses it to pick a status; the client uses it backwards
// only when a response carries no error body (a proxy or a bug in between).
var codeStatus = map[string]int{
	clauderon.EINVALID:      http.StatusBadRequest,
	clauderon.EUNAUTHORIZED: http.StatusUnauthorized,
	clauderon.EFORBIDDEN:    http.StatusForbidden,
	clauderon.ENOTFOUND:     http.StatusNotFound,
	clauderon.ECONFLICT:     http.StatusConflict,
	clauderon.EUNAVAILABLE:  http.StatusServiceUnavailable,
	clauderon.EINTERNAL:     http.StatusInternalServerError,
}

// statusForCode returns the HTTP status for an application error code; codes
// the table does not know are internal.
func statusForCode(code string) int {
	if s, ok := codeStatus[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// codeForStatus returns the application code for an HTTP status, for
// responses that carry no error body.
func codeForStatus(status int) string {
	for code, s := range codeStatus {
		if s == status {
			return code
		}
	}
	return clauderon.EINTERNAL
}

// errShuttingDown ends long-lived calls when the daemon stops.
var errShuttingDown = clauderon.Errorf(clauderon.EUNAVAILABLE, "the clauderon daemon is shutting down")

// writeError answers r with err. Application errors go out as they are;
// anything else is logged here, with its detail, and sent as "internal error",
// because wrapped causes carry paths and addresses that are not the client's
// business.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if r.Context().Err() != nil && errors.Is(err, context.Canceled) {
		// The client hung up (^C in the CLI) and the service gave up with
		// it: nobody is left to answer, and nothing went wrong.
		s.log.Debug("client left before the answer", keyMethod, r.Method, keyPath, r.URL.Path)
		return
	}
	code := clauderon.ErrorCode(err)
	if code == clauderon.EINTERNAL {
		s.log.Error("request failed", keyMethod, r.Method, keyPath, r.URL.Path, keyErr, err)
	}
	writeJSON(w, statusForCode(code), errorBody{Error: &clauderon.Error{
		Code:    code,
		Message: clauderon.ErrorMessage(err),
	}})
}

// headerSafe makes s fit in a header (a trailer) value: no control characters.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}
