package proxy

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/clauderon/clauderon"
)

// TokenAuth authenticates a single proxy token, as `clauderon proxy
// --session-token` needs. It keeps only the token's SHA-256 and compares
// digests in constant time, so neither the token's bytes nor its length can be
// learned from response timing.
type TokenAuth struct {
	digest [sha256.Size]byte
	id     clauderon.Identity
}

// NewTokenAuth returns an Authenticator that accepts token and answers id.
// An empty token accepts nothing.
func NewTokenAuth(token string, id clauderon.Identity) *TokenAuth {
	a := &TokenAuth{id: id}
	if token != "" {
		a.digest = sha256.Sum256([]byte(token))
	}
	return a
}

// Authenticate implements clauderon.Authenticator.
func (a *TokenAuth) Authenticate(token string) (clauderon.Identity, bool) {
	var zero [sha256.Size]byte
	d := sha256.Sum256([]byte(token))
	if a.digest == zero || subtle.ConstantTimeCompare(d[:], a.digest[:]) != 1 {
		return clauderon.Identity{}, false
	}
	return a.id, true
}

// proxyToken extracts the token from "Proxy-Authorization: Basic
// base64(NAME:TOKEN)". The user name is ignored: clients put the session name
// there for humans, but only the token identifies.
func proxyToken(h http.Header) (string, bool) {
	v := h.Get("Proxy-Authorization")
	scheme, enc, ok := strings.Cut(v, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		return "", false
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return "", false
	}
	_, token, ok := strings.Cut(string(raw), ":")
	return token, ok && token != ""
}

// authenticate maps the request's proxy credentials to an identity.
func (p *Proxy) authenticate(r *http.Request) (clauderon.Identity, bool) {
	token, ok := proxyToken(r.Header)
	if !ok {
		return clauderon.Identity{}, false
	}
	return p.cfg.Auth.Authenticate(token)
}

// requireAuth answers 407 so that clients retry with their proxy URL's
// credentials.
func requireAuth(w http.ResponseWriter) {
	w.Header().Set("Proxy-Authenticate", `Basic realm="clauderon"`)
	refuse(w, http.StatusProxyAuthRequired, "proxy authentication required: use the session's proxy URL http://NAME:TOKEN@HOST:PORT")
}

// refuse writes a one-line plain-text answer. The message is written by the
// proxy itself and never carries request or upstream data.
func refuse(w http.ResponseWriter, code int, msg string) {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(code)
	w.Write([]byte("clauderon proxy: " + msg + "\n")) //nolint:errcheck // client gone is fine
}
