package webui_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/httpapi"
	"github.com/clauderon/clauderon/webui"
)

const testToken = "0123456789abcdef-test-token"

// stubService answers List and Get; everything else is not found. The API's
// own behaviour is httpapi's to test: here only the guard matters.
type stubService struct{ clauderon.SessionService }

func (stubService) List(context.Context, clauderon.SessionFilter) ([]*clauderon.Session, error) {
	return []*clauderon.Session{{Name: "s1", Status: clauderon.StatusRunning}}, nil
}

func (stubService) Stop(_ context.Context, name string) (*clauderon.Session, error) {
	return &clauderon.Session{Name: name, Status: clauderon.StatusExited}, nil
}

func (stubService) SetAccessMode(_ context.Context, name string, m clauderon.AccessMode) (*clauderon.Session, error) {
	return &clauderon.Session{Name: name, Status: clauderon.StatusRunning, AccessMode: m}, nil
}

func (stubService) ProxyEnv(_ context.Context, name string) (*clauderon.ProxyEnv, error) {
	if name == "" {
		name = "manual-abc123"
	}
	return &clauderon.ProxyEnv{Session: name, Token: "tok-" + name, Args: []string{"-e", "HTTPS_PROXY=http://" + name + ":tok-" + name + "@proxy:1"}}, nil
}

func (stubService) Reconcile(context.Context) ([]*clauderon.Session, error) {
	return []*clauderon.Session{}, nil
}

func (stubService) Attach(context.Context, string) (clauderon.Terminal, error) {
	return nil, clauderon.Errorf(clauderon.ENOTFOUND, "no terminal in this test")
}

// newWeb serves the web handler over the real API server with auth.
func newWeb(t *testing.T, loginRequired, tls bool) (*httptest.Server, *webui.Auth) {
	t.Helper()
	auth, err := webui.NewAuth(webui.AuthConfig{
		LoginRequired: loginRequired,
		Token:         func() (clauderon.Secret, error) { return clauderon.NewSecret(testToken), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	api := httpapi.NewServer(httpapi.ServerConfig{Sessions: stubService{}, Guard: auth.Guard})
	h := webui.Handler(api.Handler(), auth)
	var srv *httptest.Server
	if tls {
		srv = httptest.NewTLSServer(h)
	} else {
		srv = httptest.NewServer(h)
	}
	t.Cleanup(srv.Close)
	return srv, auth
}

type req struct {
	method, path, body string
	header             map[string]string
	cookie             *http.Cookie
}

func do(t *testing.T, srv *httptest.Server, r req) *http.Response {
	t.Helper()
	hr, err := http.NewRequest(r.method, srv.URL+r.path, strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range r.header {
		if k == "Host" {
			hr.Host = v
			continue
		}
		hr.Header.Set(k, v)
	}
	if r.cookie != nil {
		hr.AddCookie(r.cookie)
	}
	resp, err := srv.Client().Do(hr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	if v := resp.Header.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("%s %s: Access-Control-Allow-Origin %q: the web UI must never grant CORS", r.method, r.path, v)
	}
	return resp
}

func wantStatus(t *testing.T, resp *http.Response, status int, bodyHas string) {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || !strings.Contains(string(b), bodyHas) {
		t.Fatalf("%s %s = %d %s, want %d with %q", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, b, status, bodyHas)
	}
}

func login(t *testing.T, srv *httptest.Server, token string) *http.Response {
	t.Helper()
	return do(t, srv, req{method: "POST", path: "/login", body: `{"token":"` + token + `"}`,
		header: map[string]string{"Content-Type": "application/json", webui.RequestHeader: "1", "Origin": srv.URL}})
}

func TestLoopbackWithoutLogin(t *testing.T) {
	t.Parallel()
	srv, _ := newWeb(t, false, false)
	wantStatus(t, do(t, srv, req{method: "GET", path: "/v1/sessions"}), 200, `"s1"`)
	wantStatus(t, do(t, srv, req{method: "GET", path: "/v1/sessions", header: map[string]string{"Origin": srv.URL}}), 200, `"s1"`)
	wantStatus(t, do(t, srv, req{method: "POST", path: "/v1/sessions/s1/stop",
		header: map[string]string{webui.RequestHeader: "1", "Origin": srv.URL}}), 200, `"exited"`)
	// A DNS-rebinding page reaches 127.0.0.1 under its own name.
	wantStatus(t, do(t, srv, req{method: "GET", path: "/v1/sessions", header: map[string]string{"Host": "evil.example:3030"}}), 403, "localhost")
	wantStatus(t, do(t, srv, req{method: "GET", path: "/v1/sessions", header: map[string]string{"Host": "localhost:3030"}}), 200, `"s1"`)
}

func TestCrossOriginRefused(t *testing.T) {
	t.Parallel()
	for _, loginRequired := range []bool{false, true} {
		srv, _ := newWeb(t, loginRequired, false)
		var cookie *http.Cookie
		if loginRequired {
			cookie = sessionCookie(t, login(t, srv, testToken))
		}
		evil := map[string]string{"Origin": "http://evil.example", webui.RequestHeader: "1"}
		wantStatus(t, do(t, srv, req{method: "GET", path: "/v1/sessions", header: evil, cookie: cookie}), 403, "cross-origin")
		wantStatus(t, do(t, srv, req{method: "POST", path: "/v1/sessions/s1/stop", header: evil, cookie: cookie}), 403, "cross-origin")
		wantStatus(t, do(t, srv, req{method: "POST", path: "/login", body: `{"token":"` + testToken + `"}`,
			header: map[string]string{"Origin": "http://evil.example", webui.RequestHeader: "1", "Content-Type": "application/json"}}), 403, "cross-origin")
		// "null" is what sandboxed frames and some redirects send.
		wantStatus(t, do(t, srv, req{method: "GET", path: "/v1/sessions", header: map[string]string{"Origin": "null"}, cookie: cookie}), 403, "cross-origin")
		// Without the custom header, a plain form post (which needs no
		// preflight) is refused even from our own origin.
		wantStatus(t, do(t, srv, req{method: "POST", path: "/v1/sessions/s1/stop", header: map[string]string{"Origin": srv.URL}, cookie: cookie}), 403, webui.RequestHeader)
		wantStatus(t, do(t, srv, req{method: "DELETE", path: "/v1/sessions/s1", cookie: cookie}), 403, webui.RequestHeader)
	}
}

func TestWebSocketCrossOriginRefused(t *testing.T) {
	t.Parallel()
	srv, _ := newWeb(t, false, false)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := "ws" + strings.TrimPrefix(srv.URL, "http") + "/v1/sessions/s1/attach"
	_, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"http://evil.example"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin WebSocket: err %v, resp %v; want 403", err, resp)
	}
	// Same origin gets through the guard to the route (which has no terminal).
	_, resp, err = websocket.Dial(ctx, u, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {srv.URL}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("same-origin WebSocket: err %v, resp %v; want the route's 404", err, resp)
	}
}

func sessionCookie(t *testing.T, resp *http.Response) *http.Cookie {
	t.Helper()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("login = %d %s, want 204", resp.StatusCode, b)
	}
	for _, c := range resp.Cookies() {
		if c.Name == webui.CookieName {
			return c
		}
	}
	t.Fatalf("login set no %s cookie: %v", webui.CookieName, resp.Header["Set-Cookie"])
	return nil
}

func TestLoginRequired(t *testing.T) {
	t.Parallel()
	srv, _ := newWeb(t, true, false)
	// No cookie: 401, also for streams and the terminal.
	wantStatus(t, do(t, srv, req{method: "GET", path: "/v1/sessions"}), 401, "log in")
	wantStatus(t, do(t, srv, req{method: "GET", path: "/v1/events"}), 401, "log in")
	wantStatus(t, do(t, srv, req{method: "GET", path: "/v1/sessions/s1/attach"}), 401, "log in")
	// The pages themselves are public: they hold no data.
	wantStatus(t, do(t, srv, req{method: "GET", path: "/"}), 200, "<html")

	// Wrong token: 401 and no cookie.
	resp := login(t, srv, "wrong-token-0123456789")
	if len(resp.Cookies()) != 0 {
		t.Errorf("a wrong token got a cookie: %v", resp.Header["Set-Cookie"])
	}
	wantStatus(t, resp, 401, "wrong token")
	wantStatus(t, do(t, srv, req{method: "POST", path: "/login", body: "token=" + testToken,
		header: map[string]string{"Content-Type": "application/x-www-form-urlencoded", webui.RequestHeader: "1"}}), 400, "JSON")

	c := sessionCookie(t, login(t, srv, testToken))
	raw := login(t, srv, testToken).Header.Get("Set-Cookie")
	for _, flag := range []string{"HttpOnly", "SameSite=Strict", "Path=/", "Max-Age="} {
		if !strings.Contains(raw, flag) {
			t.Errorf("cookie %q lacks %s", raw, flag)
		}
	}
	if strings.Contains(raw, "Secure") {
		t.Errorf("cookie %q is Secure on plain HTTP: the browser would never send it back", raw)
	}
	if c.Value == testToken || strings.Contains(raw, testToken) {
		t.Fatal("the cookie carries the token itself")
	}
	wantStatus(t, do(t, srv, req{method: "GET", path: "/v1/sessions", cookie: c}), 200, `"s1"`)
	wantStatus(t, do(t, srv, req{method: "GET", path: "/v1/sessions", cookie: &http.Cookie{Name: webui.CookieName, Value: "forged"}}), 401, "log in")

	// Logout ends that session.
	resp = do(t, srv, req{method: "POST", path: "/logout", cookie: c, header: map[string]string{webui.RequestHeader: "1"}})
	wantStatus(t, resp, 204, "")
	if raw := resp.Header.Get("Set-Cookie"); !strings.Contains(raw, "Max-Age=0") {
		t.Errorf("logout did not clear the cookie: %q", raw)
	}
	wantStatus(t, do(t, srv, req{method: "GET", path: "/v1/sessions", cookie: c}), 401, "log in")
}

func TestCookieSecureOverTLS(t *testing.T) {
	t.Parallel()
	srv, _ := newWeb(t, true, true)
	raw := login(t, srv, testToken).Header.Get("Set-Cookie")
	if !strings.Contains(raw, "Secure") || !strings.Contains(raw, "HttpOnly") || !strings.Contains(raw, "SameSite=Strict") {
		t.Fatalf("cookie over TLS = %q, want Secure, HttpOnly, SameSite=Strict", raw)
	}
}

func TestLoginExpires(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	clock := &now
	auth, err := webui.NewAuth(webui.AuthConfig{LoginRequired: true,
		Token: func() (clauderon.Secret, error) { return clauderon.NewSecret(testToken), nil },
		Now:   func() time.Time { return *clock }})
	if err != nil {
		t.Fatal(err)
	}
	api := httpapi.NewServer(httpapi.ServerConfig{Sessions: stubService{}, Guard: auth.Guard})
	srv := httptest.NewServer(webui.Handler(api.Handler(), auth))
	defer srv.Close()
	c := sessionCookie(t, login(t, srv, testToken))
	wantStatus(t, do(t, srv, req{method: "GET", path: "/v1/sessions", cookie: c}), 200, "s1")
	later := now.Add(8 * 24 * time.Hour)
	clock = &later
	wantStatus(t, do(t, srv, req{method: "GET", path: "/v1/sessions", cookie: c}), 401, "log in")
}

func TestNewAuthNeedsTokenOffLoopback(t *testing.T) {
	t.Parallel()
	none := func() (clauderon.Secret, error) { return clauderon.Secret{}, nil }
	for _, cfg := range []webui.AuthConfig{{LoginRequired: true}, {LoginRequired: true, Token: none}} {
		if _, err := webui.NewAuth(cfg); clauderon.ErrorCode(err) != clauderon.EINVALID || !strings.Contains(err.Error(), "clauderon web token") {
			t.Errorf("NewAuth without a token = %v, want EINVALID naming `clauderon web token`", err)
		}
	}
	if _, err := webui.NewAuth(webui.AuthConfig{Token: none}); err != nil {
		t.Errorf("loopback without a token: %v", err)
	}
}

func TestIsLoopback(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1:3030": true, "127.1.2.3:0": true, "[::1]:3030": true, "localhost:3030": true,
		"0.0.0.0:3030": false, ":3030": false, "[::]:3030": false, "192.168.1.5:3030": false,
		"example.com:3030": false, "nonsense": false,
	} {
		if got := webui.IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

func TestTokenFile(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	if tok, err := webui.TokenSource(home, clauderon.Secret{})(); err != nil || !tok.IsZero() {
		t.Fatalf("no file: %v %v, want a zero token", tok, err)
	}
	a, err := webui.EnsureToken(home, false)
	if err != nil || a.Len() != 64 {
		t.Fatalf("EnsureToken = %d chars, %v", a.Len(), err)
	}
	fi, err := os.Stat(filepath.Join(home, webui.TokenFile))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("token file: %v %v, want mode 0600", fi.Mode(), err)
	}
	b, _ := webui.EnsureToken(home, false)
	if b.Reveal() != a.Reveal() {
		t.Fatal("EnsureToken changed an existing token")
	}
	c, _ := webui.EnsureToken(home, true)
	if c.Reveal() == a.Reveal() {
		t.Fatal("rotate kept the token")
	}
	if got, _ := webui.TokenSource(home, clauderon.Secret{})(); got.Reveal() != c.Reveal() {
		t.Fatal("TokenSource does not read the rotated token")
	}
	if got, _ := webui.TokenSource(home, clauderon.NewSecret("configured-token-123"))(); got.Reveal() != "configured-token-123" {
		t.Fatal("the configured token does not win over the file")
	}
}

func TestPagesAndHeaders(t *testing.T) {
	t.Parallel()
	srv, _ := newWeb(t, false, false)
	for _, path := range []string{"/", "/index.html", "/no/such/page"} {
		resp := do(t, srv, req{method: "GET", path: path})
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !bytes.Contains(b, []byte("<html")) {
			t.Fatalf("GET %s = %d", path, resp.StatusCode)
		}
		if !webui.Built && !bytes.Contains(b, []byte("make build")) {
			t.Errorf("the fallback page does not say how to build the UI:\n%s", b)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("CSP = %q", csp)
		}
		if resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("X-Frame-Options = %q", resp.Header.Get("X-Frame-Options"))
		}
	}
	// A preflight gets no CORS grant (do checks every answer for that).
	resp := do(t, srv, req{method: "OPTIONS", path: "/v1/sessions", header: map[string]string{
		"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}})
	if resp.StatusCode/100 == 2 {
		t.Errorf("preflight = %d, want a refusal", resp.StatusCode)
	}
}

// TestUICallsThroughTheGuard sends the calls the web UI makes besides the
// list and the lifecycle buttons (set-access-mode, proxy-env, reconcile) the
// way the page sends them, and as another site's page or a plain form would:
// only the first is served, and no answer may be cached (proxy-env's carries
// a token the daemon shows only once).
func TestUICallsThroughTheGuard(t *testing.T) {
	t.Parallel()
	for _, loginRequired := range []bool{false, true} {
		srv, _ := newWeb(t, loginRequired, false)
		var cookie *http.Cookie
		if loginRequired {
			cookie = sessionCookie(t, login(t, srv, testToken))
		}
		page := map[string]string{"Origin": srv.URL, webui.RequestHeader: "1", "Content-Type": "application/json"}
		evil := map[string]string{"Origin": "http://evil.example", webui.RequestHeader: "1", "Content-Type": "application/json"}
		form := map[string]string{"Origin": srv.URL, "Content-Type": "application/json"}
		calls := []struct{ method, path, body, want string }{
			{"PUT", "/v1/sessions/s1/access-mode", `{"access_mode":"read-only"}`, `"access_mode":"read-only"`},
			{"POST", "/v1/proxy-env", `{"name":"by-hand"}`, `"token":"tok-by-hand"`},
			{"POST", "/v1/proxy-env", ``, `"session":"manual-abc123"`},
			{"POST", "/v1/reconcile", ``, `[]`},
		}
		for _, c := range calls {
			resp := do(t, srv, req{method: c.method, path: c.path, body: c.body, header: page, cookie: cookie})
			if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("%s %s: Cache-Control %q, want no-store", c.method, c.path, cc)
			}
			wantStatus(t, resp, 200, c.want)
			wantStatus(t, do(t, srv, req{method: c.method, path: c.path, body: c.body, header: evil, cookie: cookie}), 403, "cross-origin")
			wantStatus(t, do(t, srv, req{method: c.method, path: c.path, body: c.body, header: form, cookie: cookie}), 403, webui.RequestHeader)
			if loginRequired {
				wantStatus(t, do(t, srv, req{method: c.method, path: c.path, body: c.body, header: page}), 401, "")
			}
		}
		// The page always names the mode: an empty body is refused rather
		// than read as the default (read-write).
		wantStatus(t, do(t, srv, req{method: "PUT", path: "/v1/sessions/s1/access-mode", body: `{}`, header: page, cookie: cookie}), 400, "access_mode is required")
	}
}
