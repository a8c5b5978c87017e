package webui

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"mime"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/clauderon/clauderon"
)

// Names the browser and the server agree on.
const (
	// CookieName holds the login session's random id.
	CookieName = "clauderon_session"
	// RequestHeader must be on every state-changing request. A page on another
	// site cannot set a custom header without a CORS preflight, which this
	// server never grants, so its presence proves the request came from our
	// own page (or from a program, which the cookie or loopback covers).
	RequestHeader = "X-Clauderon-Request"

	// sessionLifetime is how long a login lasts.
	sessionLifetime = 7 * 24 * time.Hour
	// maxSessions bounds the login table; the oldest logins go first.
	maxSessions = 1000
	// maxLoginBody bounds POST /login.
	maxLoginBody = 4 << 10
)

// AuthConfig configures logins on the web listener.
type AuthConfig struct {
	// Token returns the login token. It is read at each login, so a rotated
	// token applies at once. Nil or an empty token with LoginRequired is a
	// configuration error (NewAuth refuses it).
	Token func() (clauderon.Secret, error)
	// LoginRequired is true off loopback: every API request then needs the
	// session cookie. On loopback the UI runs without login, but requests
	// must still name a loopback host (no DNS rebinding) and come from our
	// own origin.
	LoginRequired bool
	Now           func() time.Time
}

// Auth is the web listener's access control: logins, the session cookie and
// the Guard in front of the API. It is safe for concurrent use.
type Auth struct {
	cfg AuthConfig

	mu       sync.Mutex
	sessions map[[32]byte]time.Time // sha256 of a cookie value -> expiry
}

// NewAuth checks cfg and returns an Auth.
func NewAuth(cfg AuthConfig) (*Auth, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.LoginRequired {
		if cfg.Token == nil {
			return nil, errNoToken
		}
		tok, err := cfg.Token()
		if err != nil {
			return nil, err
		}
		if tok.IsZero() {
			return nil, errNoToken
		}
	}
	return &Auth{cfg: cfg, sessions: map[[32]byte]time.Time{}}, nil
}

var errNoToken = clauderon.Errorf(clauderon.EINVALID,
	"the web UI listens beyond loopback and so needs a login token: run `clauderon web token` to create one (or set [web] token in config.toml), or listen on 127.0.0.1")

// LoginRequired reports whether requests need the session cookie.
func (a *Auth) LoginRequired() bool { return a.cfg.LoginRequired }

// IsLoopback reports whether a listen address (HOST:PORT) accepts only local
// connections. An empty host or 0.0.0.0 is every interface: not loopback.
func IsLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	return isLoopbackHost(host)
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Guard is the httpapi Middleware for the web listener. In order, it refuses:
//   - a Host that is not loopback while no login is required (a DNS-rebinding
//     page reaches 127.0.0.1 under its own name: it must not get the API);
//   - an Origin other than this server's own (another site's page, including
//     its WebSocket handshakes, which browsers always send with an Origin);
//   - a state-changing request (anything but GET and HEAD) without
//     RequestHeader;
//   - when login is required, a request without a valid session cookie.
//
// There is no CORS: no Access-Control-* header is ever sent, so a browser
// never lets another origin read an answer or send a preflighted request.
func (a *Auth) Guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.check(r); err != nil {
			writeError(w, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (a *Auth) check(r *http.Request) *clauderon.Error {
	if err := a.checkOrigin(r); err != nil {
		return err
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead && r.Header.Get(RequestHeader) == "" {
		return errNoRequestHeader
	}
	if a.cfg.LoginRequired && !a.validCookie(r) {
		return errLogin
	}
	return nil
}

// checkOrigin applies the Host and Origin rules shared by the API and login.
func (a *Auth) checkOrigin(r *http.Request) *clauderon.Error {
	if !a.cfg.LoginRequired {
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		if !isLoopbackHost(host) {
			return errHost
		}
	}
	if origin, ok := r.Header["Origin"]; ok && (len(origin) != 1 || origin[0] != ownOrigin(r)) {
		return errOrigin
	}
	return nil
}

var (
	errHost = clauderon.Errorf(clauderon.EFORBIDDEN,
		"the web UI answers only to localhost, 127.0.0.1 or [::1] when it runs without login")
	errOrigin = clauderon.Errorf(clauderon.EFORBIDDEN,
		"cross-origin request refused: the clauderon web UI accepts requests from its own pages only")
	errNoRequestHeader = clauderon.Errorf(clauderon.EFORBIDDEN,
		"state-changing requests must carry the %s header (the web UI's pages send it)", RequestHeader)
	errLogin = clauderon.Errorf(clauderon.EUNAUTHORIZED,
		"log in first: the token comes from `clauderon web token`")
	errBadToken = clauderon.Errorf(clauderon.EUNAUTHORIZED,
		"wrong token: `clauderon web token` prints the right one")
)

// ownOrigin is the origin of pages this server serves, as a browser writes it.
func ownOrigin(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func (a *Auth) validCookie(r *http.Request) bool {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return false
	}
	key := sha256.Sum256([]byte(c.Value))
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, ok := a.sessions[key]
	if !ok {
		return false
	}
	if !a.cfg.Now().Before(exp) {
		delete(a.sessions, key)
		return false
	}
	return true
}

// loginRequest is the body of POST /login.
type loginRequest struct {
	Token string `json:"token"`
}

// handleLogin exchanges the token for a session cookie: HttpOnly (no script
// reads it), SameSite=Strict (no other site's request carries it), Secure
// when the listener speaks TLS. Without a required login it answers 204 and
// sets nothing.
func (a *Auth) handleLogin(w http.ResponseWriter, r *http.Request) {
	if err := a.checkOrigin(r); err != nil {
		writeError(w, err)
		return
	}
	if r.Header.Get(RequestHeader) == "" {
		writeError(w, errNoRequestHeader)
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, clauderon.Errorf(clauderon.EINVALID, "send the token as JSON: {\"token\": \"...\"}"))
		return
	}
	if !a.cfg.LoginRequired {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var req loginRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxLoginBody)).Decode(&req); err != nil {
		writeError(w, clauderon.Errorf(clauderon.EINVALID, "send the token as JSON: {\"token\": \"...\"}"))
		return
	}
	want, err := a.cfg.Token()
	if err != nil || want.IsZero() {
		writeError(w, clauderon.Errorf(clauderon.EUNAVAILABLE, "the login token cannot be read: run `clauderon web token` on the daemon's machine"))
		return
	}
	// Compare hashes, so the comparison's time says nothing about the token,
	// not even its length.
	got, exp := sha256.Sum256([]byte(req.Token)), sha256.Sum256([]byte(want.Reveal()))
	if subtle.ConstantTimeCompare(got[:], exp[:]) != 1 {
		writeError(w, errBadToken)
		return
	}
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		writeError(w, clauderon.Errorf(clauderon.EINTERNAL, "internal error"))
		return
	}
	value := base64.RawURLEncoding.EncodeToString(id)
	expiry := a.cfg.Now().Add(sessionLifetime)
	a.remember(sha256.Sum256([]byte(value)), expiry)
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: value, Path: "/", MaxAge: int(sessionLifetime / time.Second),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	w.WriteHeader(http.StatusNoContent)
}

// remember records a login, dropping expired ones and, past maxSessions, the
// one that expires first.
func (a *Auth) remember(key [32]byte, expiry time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.cfg.Now()
	for k, exp := range a.sessions {
		if !now.Before(exp) {
			delete(a.sessions, k)
		}
	}
	for len(a.sessions) >= maxSessions {
		var oldest [32]byte
		var first time.Time
		for k, exp := range a.sessions {
			if first.IsZero() || exp.Before(first) {
				oldest, first = k, exp
			}
		}
		delete(a.sessions, oldest)
	}
	a.sessions[key] = expiry
}

// handleLogout forgets the session and clears the cookie.
func (a *Auth) handleLogout(w http.ResponseWriter, r *http.Request) {
	if err := a.checkOrigin(r); err != nil {
		writeError(w, err)
		return
	}
	if r.Header.Get(RequestHeader) == "" {
		writeError(w, errNoRequestHeader)
		return
	}
	if c, err := r.Cookie(CookieName); err == nil {
		key := sha256.Sum256([]byte(c.Value))
		a.mu.Lock()
		delete(a.sessions, key)
		a.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	w.WriteHeader(http.StatusNoContent)
}

// writeError answers with the API's error body and the status for its code.
func writeError(w http.ResponseWriter, e *clauderon.Error) {
	status := http.StatusForbidden
	switch e.Code {
	case clauderon.EUNAUTHORIZED:
		status = http.StatusUnauthorized
	case clauderon.EINVALID:
		status = http.StatusBadRequest
	case clauderon.EUNAVAILABLE:
		status = http.StatusServiceUnavailable
	case clauderon.EINTERNAL:
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error *clauderon.Error `json:"error"`
	}{e})
}
