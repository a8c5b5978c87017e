// Package fakeprovider is a local, real-TLS stand-in for the AI providers'
// APIs, for tests. One server, with a certificate for every provider host
// signed by its own CA, serves
//
//   - the Anthropic Messages API (POST /v1/messages, JSON and streaming), for
//     Claude Code;
//   - the OpenAI Responses API (POST /v1/responses, JSON and streaming), for
//     Codex, which first tries a WebSocket (GET /v1/responses with Upgrade):
//     the fake refuses it with 426 and Codex falls back to HTTP;
//   - the Gemini API (POST /v1beta/models/MODEL:generateContent,
//     :streamGenerateContent, :countTokens), for Gemini CLI;
//
// and answers {} to every other request (the CLIs' start-up calls). It
// records every request, auth headers pulled out, so tests can assert which
// credential reached the provider.
//
// A test points the proxy at it with --resolve HOST:443=Addr() for each
// provider host and --upstream-ca with the file from WriteCAFile.
package fakeprovider

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// Config tunes a Provider. The zero value is usable.
type Config struct {
	// Addr is the listen address; default "127.0.0.1:0".
	Addr string
	// Hosts are extra names or IP addresses for the server certificate.
	Hosts []string
	// Reply makes the model's answer to prompt; default DefaultReply.
	Reply func(prompt string) string
	// Credentials, when set, are the only credentials model calls may carry
	// (a bearer token, x-api-key or x-goog-api-key value); others get the
	// provider's 401. Empty accepts anything, and tests assert on Requests.
	Credentials []string
	// EchoCredential makes every answer hand back the credential its request
	// carried: the model's text ends with " [credential: VALUE]" and every
	// response has the header X-Fake-Credential. A proxy must turn a real
	// secret into its placeholder before an agent sees it; tests read what
	// the agent printed to prove it did.
	EchoCredential bool
}

// DefaultReply is the answer when Config.Reply is nil.
func DefaultReply(prompt string) string { return "fake-provider says: " + prompt }

// Provider is a running fake provider. Its methods are safe for concurrent
// use.
type Provider struct {
	cfg   Config
	caPEM []byte
	ln    net.Listener
	srv   *http.Server

	mu       sync.Mutex
	requests []Recorded
}

// Start listens and serves until Close.
func Start(cfg Config) (*Provider, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Reply == nil {
		cfg.Reply = DefaultReply
	}
	caPEM, leaf, err := newCertificates(cfg.Hosts)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, err
	}
	p := &Provider{cfg: cfg, caPEM: caPEM, ln: ln}
	p.srv = &http.Server{
		Handler:           p.routes(),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{leaf}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		// Agents' side calls (telemetry, update checks) tunnelled here fail
		// their handshake on purpose; the log would only say so.
		ErrorLog: log.New(io.Discard, "", 0),
	}
	go p.srv.ServeTLS(ln, "", "") // h2 and http/1.1, as the real APIs
	return p, nil
}

// MustStart starts a Provider that tb closes at its end.
func MustStart(tb testing.TB, cfg Config) *Provider {
	tb.Helper()
	p, err := Start(cfg)
	if err != nil {
		tb.Fatalf("start fake provider: %v", err)
	}
	tb.Cleanup(func() { p.Close() })
	return p
}

// routes is the API surface; new providers add their paths here.
func (p *Provider) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/messages", p.anthropicMessages)
	// No remote managed settings, as for an account without an organization
	// policy: Claude Code takes 204 as "none" and warns on {}.
	mux.HandleFunc("GET /api/claude_code/settings", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /v1/responses", p.openaiResponses)
	mux.HandleFunc("GET /v1/responses", p.openaiWebSocket)
	mux.HandleFunc("GET /v1/models", p.openaiModels)
	mux.HandleFunc("POST /v1beta/models/{call}", p.gemini)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("{}"))
	})
	return p.record(mux)
}

// reply is the model's answer to prompt in request r.
func (p *Provider) reply(r *http.Request, prompt string) string {
	text := p.cfg.Reply(prompt)
	if p.cfg.EchoCredential {
		text += " [credential: " + credentialOf(r) + "]"
	}
	return text
}

// Addr is the host:port the provider listens on.
func (p *Provider) Addr() string { return p.ln.Addr().String() }

// URL is https://Addr(), for clients that talk to it directly.
func (p *Provider) URL() string { return "https://" + p.Addr() }

// Resolve is the proxy's --resolve value that sends host's port 443 here.
func (p *Provider) Resolve(host string) string { return host + ":443=" + p.Addr() }

// CAPEM is the PEM certificate of the CA that signed the provider's
// certificate.
func (p *Provider) CAPEM() []byte { return append([]byte(nil), p.caPEM...) }

// WriteCAFile writes CAPEM to dir/fake-provider-ca.pem and returns the path.
func (p *Provider) WriteCAFile(dir string) (string, error) {
	path := filepath.Join(dir, "fake-provider-ca.pem")
	return path, os.WriteFile(path, p.caPEM, 0o644)
}

// Close stops serving and closes open connections.
func (p *Provider) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := p.srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = p.srv.Close()
	}
	return err
}
