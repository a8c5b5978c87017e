package clauderon

import (
	"errors"
	"fmt"
)

// Application error codes. They cross the API unchanged, so the CLI can tell a
// missing session from a daemon failure and print the message as it is.
const (
	ECONFLICT     = "conflict"     // the action conflicts with the current state (name taken, uncommitted work)
	EFORBIDDEN    = "forbidden"    // the caller may not do this
	EINTERNAL     = "internal"     // a bug or an unexpected failure; details are in the daemon's log
	EINVALID      = "invalid"      // the request is malformed or a value is out of range
	ENOTFOUND     = "not_found"    // the named thing does not exist
	EUNAVAILABLE  = "unavailable"  // a dependency (Docker, the cluster, the daemon) cannot be reached
	EUNAUTHORIZED = "unauthorized" // no or wrong credentials
)

// Error is an error meant for the user: its Message is safe to show and says
// what to do. Any other error is internal and reaches users as "internal error".
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for
// any other error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err: the Message of the first
// *Error in its chain, or "internal error" so that internal detail (paths,
// addresses, wrapped causes) never leaks to a client.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
