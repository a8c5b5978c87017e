package httpapi

import (
	"net/http"
	"strconv"

	"github.com/clauderon/clauderon"
)

// queryBool parses an optional boolean query parameter.
func queryBool(r *http.Request, name string) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	switch v {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, clauderon.Errorf(clauderon.EINVALID, "invalid value %q for query parameter %s: use true or false", v, name)
}

// queryLimit parses the optional, non-negative limit parameter.
func queryLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("limit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, clauderon.Errorf(clauderon.EINVALID, "invalid value %q for query parameter limit: want a whole number, 0 or more", v)
	}
	return n, nil
}
