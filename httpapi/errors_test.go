package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/coder/websocket"

	"github.com/clauderon/clauderon"
)

// decodeErrorBody reads an error response as any client would.
func decodeErrorBody(t *testing.T, resp *http.Response) clauderon.Error {
	t.Helper()
	if ct := resp.Header.Get("Content-Type"); ct != contentJSON {
		t.Errorf("error Content-Type = %q, want %q", ct, contentJSON)
	}
	var body struct {
		Error clauderon.Error `json:"error"`
	}
	data, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(data, &body); err != nil {
		t.Fatalf("error body %q: %v", data, err)
	}
	return body.Error
}

func TestErrorCodesCrossTheWire(t *testing.T) {
	t.Parallel()
	cases := []struct {
		code   string
		status int
	}{
		{clauderon.EINVALID, 400},
		{clauderon.EUNAUTHORIZED, 401},
		{clauderon.EFORBIDDEN, 403},
		{clauderon.ENOTFOUND, 404},
		{clauderon.ECONFLICT, 409},
		{clauderon.EUNAVAILABLE, 503},
	}
	for _, tc := range cases {
		t.Run(tc.code, func(t *testing.T) {
			t.Parallel()
			env := newTestEnv(t)
			msg := "what went wrong with " + tc.code + ", and what to do"
			// Wrapped, as a service would: the *Error in the chain is what counts.
			env.svc.failWith(fmt.Errorf("session manager: %w", clauderon.Errorf(tc.code, "%s", msg)))

			resp := env.raw(t, "GET", "/v1/sessions/x", "", nil, nil)
			if resp.StatusCode != tc.status {
				t.Errorf("status = %d, want %d", resp.StatusCode, tc.status)
			}
			if got := decodeErrorBody(t, resp); got.Code != tc.code || got.Message != msg {
				t.Errorf("body = %+v, want {%s %q}", got, tc.code, msg)
			}

			_, err := env.client.Get(testContext(t), "x")
			var e *clauderon.Error
			if !errors.As(err, &e) || *e != (clauderon.Error{Code: tc.code, Message: msg}) {
				t.Errorf("client error = %#v, want {%s %q}", err, tc.code, msg)
			}
		})
	}
}

func TestInternalErrorIsMasked(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.svc.failWith(errors.New("open /home/u/.clauderon/db: disk on fire"))

	resp := env.raw(t, "GET", "/v1/sessions/x", "", nil, nil)
	if resp.StatusCode != 500 {
		t.Errorf("status = %d, want 500", resp.StatusCode)
	}
	if got := decodeErrorBody(t, resp); got != (clauderon.Error{Code: clauderon.EINTERNAL, Message: "internal error"}) {
		t.Errorf("body = %+v, want internal error", got)
	}
	_, err := env.client.Get(testContext(t), "x")
	e := mustAppError(t, err, clauderon.EINTERNAL, "internal error")
	if e.Message != "internal error" {
		t.Errorf("client message = %q, want exactly \"internal error\"", e.Message)
	}
	if log := env.log.String(); !strings.Contains(log, "disk on fire") {
		t.Errorf("the daemon log lacks the detail of the internal error:\n%s", log)
	}
}

func TestBrowsersAreRefused(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	env.mustCreate(t, "a")
	origin := http.Header{"Origin": {"http://evil.example"}}
	for _, r := range []struct{ method, path string }{
		{"GET", "/v1/sessions"},
		{"GET", "/v1/health"},
		{"POST", "/v1/sessions/a/stop"},
	} {
		resp := env.raw(t, r.method, r.path, "", nil, origin)
		if resp.StatusCode != 403 {
			t.Errorf("%s %s with Origin: status %d, want 403", r.method, r.path, resp.StatusCode)
		}
		want := clauderon.Error{Code: clauderon.EFORBIDDEN, Message: "requests from browsers are not accepted on the daemon socket"}
		if got := decodeErrorBody(t, resp); got != want {
			t.Errorf("%s %s with Origin: %+v, want %+v", r.method, r.path, got, want)
		}
	}
	env.svc.mu.Lock()
	stops := env.svc.stops
	env.svc.mu.Unlock()
	if stops != 0 {
		t.Errorf("a refused request reached the service (%d stops)", stops)
	}

	// The same for a WebSocket handshake, even one from the socket's own
	// "host": nothing on the socket is for a browser.
	_, resp, err := websocket.Dial(testContext(t), "ws://clauderon/v1/sessions/a/attach", &websocket.DialOptions{
		HTTPClient: env.client.http,
		HTTPHeader: http.Header{"Origin": {"http://clauderon"}},
	})
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("attach with Origin: %v, %v; want 403", resp, err)
	}
	select {
	case <-env.svc.terminals:
		t.Error("a refused attach reached the service")
	default:
	}
}

func TestBadRequestBodies(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	huge := `{"name":"big","prompt":"` + strings.Repeat("a", maxBodyBytes) + `"}`
	cases := []struct {
		name, path, ctype, body, want string
	}{
		{"unknown field", "/v1/sessions", contentJSON, `{"name":"a","promt":"typo"}`, `unknown field "promt"`},
		{"too large", "/v1/sessions", contentJSON, huge, "request body too large"},
		{"malformed", "/v1/sessions", contentJSON, `{"name":`, "malformed JSON"},
		{"syntax", "/v1/sessions", contentJSON, `{"name" "a"}`, "malformed JSON in request body at byte"},
		{"wrong type", "/v1/sessions", contentJSON, `{"name":5}`, `invalid value for field "name"`},
		{"not an object", "/v1/sessions", contentJSON, `[1]`, "must be a JSON object"},
		{"two objects", "/v1/sessions", contentJSON, `{"name":"a"}{"name":"b"}`, "a single JSON object"},
		{"empty", "/v1/sessions", contentJSON, ``, "request body is empty"},
		{"not JSON", "/v1/sessions", "application/x-www-form-urlencoded", `name=a`, "request body must be JSON"},
		{"access mode", "/v1/sessions/a/access-mode", contentJSON, `{"mode":"read-only"}`, `unknown field "mode"`},
	}
	for _, tc := range cases {
		method := "POST"
		if strings.HasSuffix(tc.path, "access-mode") {
			method = "PUT"
		}
		resp := env.raw(t, method, tc.path, tc.ctype, []byte(tc.body), nil)
		if resp.StatusCode != 400 {
			t.Errorf("%s: status %d, want 400", tc.name, resp.StatusCode)
			continue
		}
		got := decodeErrorBody(t, resp)
		if got.Code != clauderon.EINVALID || !strings.Contains(got.Message, tc.want) {
			t.Errorf("%s: %+v, want invalid with %q", tc.name, got, tc.want)
		}
	}
	env.svc.mu.Lock()
	n := len(env.svc.sessions)
	env.svc.mu.Unlock()
	if n != 0 {
		t.Errorf("a refused body created %d sessions", n)
	}
}

func TestBadQueryParameters(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	for path, want := range map[string]string{
		"/v1/sessions?archived=yes":     `invalid value "yes" for query parameter archived`,
		"/v1/audit?limit=-1":            `invalid value "-1" for query parameter limit`,
		"/v1/audit?limit=ten":           `invalid value "ten" for query parameter limit`,
		"/v1/sessions/a/logs?follow=on": `invalid value "on" for query parameter follow`,
	} {
		resp := env.raw(t, "GET", path, "", nil, nil)
		got := decodeErrorBody(t, resp)
		if resp.StatusCode != 400 || got.Code != clauderon.EINVALID || !strings.Contains(got.Message, want) {
			t.Errorf("GET %s: %d %+v, want 400 with %q", path, resp.StatusCode, got, want)
		}
	}
}

func TestUnknownRoute(t *testing.T) {
	t.Parallel()
	env := newTestEnv(t)
	for _, r := range []struct{ method, path string }{
		{"GET", "/v2/sessions"},
		{"DELETE", "/v1/health"},
		{"GET", "/"},
	} {
		resp := env.raw(t, r.method, r.path, "", nil, nil)
		got := decodeErrorBody(t, resp)
		if resp.StatusCode != 404 || got.Code != clauderon.ENOTFOUND || !strings.Contains(got.Message, "has no API route "+r.method+" "+r.path) {
			t.Errorf("%s %s: %d %+v, want 404 naming the route", r.method, r.path, resp.StatusCode, got)
		}
	}
}

func TestStatusWithoutErrorBody(t *testing.T) {
	t.Parallel()
	// Something other than the daemon answered: the status picks the code.
	resp := &http.Response{StatusCode: 409, Status: "409 Conflict", Body: io.NopCloser(strings.NewReader("<html>"))}
	got := responseError(resp)
	if got.Code != clauderon.ECONFLICT || !strings.Contains(got.Message, "409 Conflict") {
		t.Errorf("responseError = %+v, want conflict naming the status", got)
	}
	for code, status := range codeStatus {
		if statusForCode(code) != status || codeForStatus(status) != code {
			t.Errorf("code %s and status %d do not map both ways", code, status)
		}
	}
	if statusForCode("made-up") != 500 {
		t.Error("an unknown code must be a 500")
	}
}
