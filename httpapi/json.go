package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/clauderon/clauderon"
)

// maxBodyBytes bounds every request body: the largest legitimate body is a
// CreateRequest with a long prompt, far below this.
const maxBodyBytes = 1 << 20

// decodeJSON reads r's body into v, strictly: one JSON object, no unknown
// fields, at most maxBodyBytes, sent as application/json. A typo in a field
// name is an error rather than a silently ignored option, and the content type
// check means a plain HTML form can never reach a handler. Every failure is an
// EINVALID error whose message says what was wrong. With optional, an empty
// body leaves v as it is.
func decodeJSON(w http.ResponseWriter, r *http.Request, v any, optional bool) error {
	body := http.MaxBytesReader(w, r.Body, maxBodyBytes)
	if ct := r.Header.Get("Content-Type"); ct != "" || r.ContentLength != 0 {
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != contentJSON {
			return clauderon.Errorf(clauderon.EINVALID, "request body must be JSON: send Content-Type: %s", contentJSON)
		}
	}
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if optional && errors.Is(err, io.EOF) {
			return nil
		}
		return bodyError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return bodyError(err)
		}
		return clauderon.Errorf(clauderon.EINVALID, "request body must hold a single JSON object")
	}
	return nil
}

// bodyError turns a decoding failure into a message a person can act on.
func bodyError(err error) error {
	var (
		tooBig    *http.MaxBytesError
		syntax    *json.SyntaxError
		wrongType *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &tooBig):
		return clauderon.Errorf(clauderon.EINVALID, "request body too large: the limit is %d bytes (1 MiB)", maxBodyBytes)
	case errors.Is(err, io.EOF):
		return clauderon.Errorf(clauderon.EINVALID, "request body is empty: want a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return clauderon.Errorf(clauderon.EINVALID, "malformed JSON in request body: it ends too early")
	case errors.As(err, &syntax):
		return clauderon.Errorf(clauderon.EINVALID, "malformed JSON in request body at byte %d: %v", syntax.Offset, syntax)
	case errors.As(err, &wrongType):
		if wrongType.Field == "" {
			return clauderon.Errorf(clauderon.EINVALID, "request body must be a JSON object, not %s", wrongType.Value)
		}
		return clauderon.Errorf(clauderon.EINVALID, "invalid value for field %q in request body: got %s, want %s", wrongType.Field, wrongType.Value, wrongType.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no type for this one; the message is stable.
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return clauderon.Errorf(clauderon.EINVALID, "unknown field %s in request body", field)
	}
	return clauderon.Errorf(clauderon.EINVALID, "invalid JSON in request body: %v", err)
}

// writeJSON sends v with status. Our values always encode, so a failure
// here means the client went away, and there is no one left to tell.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", contentJSON)
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
