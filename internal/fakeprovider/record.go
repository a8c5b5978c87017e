package fakeprovider

import (
	"bytes"
	"io"
	"net/http"
	"strings"
)

// maxRecordedBody bounds what a Recorded keeps of a request body.
const maxRecordedBody = 1 << 20

// Recorded is one request the provider received, with the credential headers
// pulled out for assertions.
type Recorded struct {
	Method        string
	Host          string // the Host header
	SNI           string // the TLS server name the client asked for
	Path          string
	Query         string
	Authorization string
	XAPIKey       string // X-Api-Key (Anthropic)
	XGoogAPIKey   string // X-Goog-Api-Key (Gemini)
	Header        http.Header
	Body          []byte
}

// Credential is the credential the request carried: the bearer token, or
// else the x-api-key or x-goog-api-key value.
func (r Recorded) Credential() string {
	if t, ok := strings.CutPrefix(r.Authorization, "Bearer "); ok {
		return t
	}
	if r.XAPIKey != "" {
		return r.XAPIKey
	}
	return r.XGoogAPIKey
}

// Requests returns what was received so far, oldest first.
func (p *Provider) Requests() []Recorded {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Recorded(nil), p.requests...)
}

// record notes each request before next handles it; the body is buffered so
// next still reads all of it.
func (p *Provider) record(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, maxRecordedBody))
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := Recorded{
			Method:        r.Method,
			Host:          r.Host,
			Path:          r.URL.Path,
			Query:         r.URL.RawQuery,
			Authorization: r.Header.Get("Authorization"),
			XAPIKey:       r.Header.Get("X-Api-Key"),
			XGoogAPIKey:   r.Header.Get("X-Goog-Api-Key"),
			Header:        r.Header.Clone(),
			Body:          body,
		}
		if r.TLS != nil {
			rec.SNI = r.TLS.ServerName
		}
		p.mu.Lock()
		p.requests = append(p.requests, rec)
		p.mu.Unlock()
		if p.cfg.EchoCredential {
			w.Header().Set("X-Fake-Credential", rec.Credential())
		}
		next.ServeHTTP(w, r)
	})
}

// credentialOf is the credential r carries (see Recorded.Credential).
func credentialOf(r *http.Request) string {
	return Recorded{
		Authorization: r.Header.Get("Authorization"),
		XAPIKey:       r.Header.Get("X-Api-Key"),
		XGoogAPIKey:   r.Header.Get("X-Goog-Api-Key"),
	}.Credential()
}

// authorized reports whether r carries one of the configured credentials (or
// whether none are configured).
func (p *Provider) authorized(r *http.Request) bool {
	if len(p.cfg.Credentials) == 0 {
		return true
	}
	got := credentialOf(r)
	for _, c := range p.cfg.Credentials {
		if got == c {
			return true
		}
	}
	return false
}
