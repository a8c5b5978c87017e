package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"sync"

	"github.com/clauderon/clauderon"
)

// Tokens is the proxy's table of session tokens. It holds only SHA-256 hashes:
// a token is looked up by its hash, so neither the table nor the store can
// hand a token back, and the lookup leaks nothing useful through timing.
type Tokens struct {
	mu     sync.RWMutex
	m      map[string]clauderon.Identity
	byName map[string]string // session name -> token hash
}

// NewTokens returns an empty table.
func NewTokens() *Tokens {
	return &Tokens{m: map[string]clauderon.Identity{}, byName: map[string]string{}}
}

// Current returns the live identity of the named session, and false once its
// token was revoked (deleted or archived). The proxy's policy calls it for
// every request, so that an access-mode change or a revocation applies at
// once, also on connections opened before it.
func (t *Tokens) Current(session string) (clauderon.Identity, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	h, ok := t.byName[session]
	if !ok {
		return clauderon.Identity{}, false
	}
	id, ok := t.m[h]
	return id, ok
}

// Authenticate implements clauderon.Authenticator.
func (t *Tokens) Authenticate(token string) (clauderon.Identity, bool) {
	if token == "" {
		return clauderon.Identity{}, false
	}
	h := HashToken(token)
	t.mu.RLock()
	id, ok := t.m[h]
	t.mu.RUnlock()
	return id, ok
}

// Set adds or replaces the identity for a token hash. It takes effect on the
// next request, including on connections already open.
func (t *Tokens) Set(hash string, id clauderon.Identity) {
	t.mu.Lock()
	if old, ok := t.byName[id.Session]; ok && old != hash {
		delete(t.m, old) // one live token per session
	}
	if prev, ok := t.m[hash]; ok && prev.Session != id.Session {
		delete(t.byName, prev.Session)
	}
	t.m[hash] = id
	t.byName[id.Session] = hash
	t.mu.Unlock()
}

// Remove revokes a token at once.
func (t *Tokens) Remove(hash string) {
	t.mu.Lock()
	if id, ok := t.m[hash]; ok && t.byName[id.Session] == hash {
		delete(t.byName, id.Session)
	}
	delete(t.m, hash)
	t.mu.Unlock()
}

// Len is the number of live tokens.
func (t *Tokens) Len() int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return len(t.m)
}

// HashToken is how tokens are stored: hex SHA-256. Tokens are 256 random bits,
// so a plain hash is enough (there is nothing to brute-force).
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// NewToken mints a proxy token (256 random bits, URL-safe so it fits in a
// proxy URL's password without escaping) and its hash.
func NewToken() (token, hash string) {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on Linux; it panics rather than return short
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token)
}

// newID returns a random session id.
func newID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
