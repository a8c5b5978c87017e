package proxy

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/clauderon/clauderon"
)

// serveProxy handles what arrives on the proxy listener: CONNECT for HTTPS,
// absolute-form requests for plain HTTP. Nothing passes without a valid
// proxy token.
func (p *Proxy) serveProxy(w http.ResponseWriter, r *http.Request) {
	ex := &exchange{start: time.Now(), method: r.Method, decision: clauderon.DecisionAllowed}
	w = &auditWriter{ResponseWriter: w, ex: ex}
	id, ok := p.authenticate(r)
	if !ok {
		ex.host, ex.path = requestHost(r), r.URL.Path
		if r.Method == http.MethodConnect {
			ex.path = ""
		}
		ex.decision, ex.reason = clauderon.DecisionDenied, "proxy authentication required"
		requireAuth(w)
		p.finish(ex)
		return
	}
	ex.id = id
	if r.Method == http.MethodConnect {
		p.serveConnect(w, r, ex)
		return
	}
	p.servePlain(w, r, ex)
}

// requestHost is the port-less host a proxy request names, for the audit log.
func requestHost(r *http.Request) string {
	if h, _, err := parseAuthority(r.Host, 0); err == nil {
		return h
	}
	return ""
}

// serveConnect decides between interception (the host owns a credential) and
// an opaque tunnel (everything else).
func (p *Proxy) serveConnect(w http.ResponseWriter, r *http.Request, ex *exchange) {
	host, port, err := parseAuthority(r.Host, -1)
	if err != nil {
		ex.deny(w, http.StatusBadRequest, "CONNECT needs HOST:PORT")
		p.finish(ex)
		return
	}
	ex.host = host
	ex.target = net.JoinHostPort(host, strconv.Itoa(port))
	if !p.ports[port] {
		ex.deny(w, http.StatusForbidden, "CONNECT to port "+strconv.Itoa(port)+" is not allowed")
		p.finish(ex)
		return
	}
	if !p.allowed(w, r, ex) {
		p.finish(ex)
		return
	}
	if !isIP(host) {
		if _, ok := p.credentials().Lookup(host); ok {
			p.intercept(w, ex, port)
			return
		}
	}
	p.tunnel(w, r, ex)
}

// allowed runs the optional policy hook; on refusal it answers 403.
func (p *Proxy) allowed(w http.ResponseWriter, r *http.Request, ex *exchange) bool {
	if p.cfg.Policy == nil {
		return true
	}
	if err := p.cfg.Policy(r.Context(), ex.id, r); err != nil {
		ex.deny(w, http.StatusForbidden, oneLine(clauderon.ErrorMessage(err)))
		return false
	}
	return true
}

// oneLine keeps a message to a single short line for a response and the log.
func oneLine(s string) string {
	if i := strings.IndexAny(s, "\r\n"); i >= 0 {
		s = s[:i]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

var errAuthority = errors.New("invalid authority")

// parseAuthority splits "host:port" (or "[v6]:port"), lower-cases the host and
// drops a trailing dot. A missing port takes defPort when defPort >= 0. Hosts
// must be IP literals or DNS-style names, so nothing odd ("user@host", a
// path, a zone) ever reaches the dialer or the rule matcher.
func parseAuthority(s string, defPort int) (host string, port int, err error) {
	h, ps, err := net.SplitHostPort(s)
	if err == nil {
		if port, err = parsePort(ps); err != nil {
			return "", 0, err
		}
	} else {
		if defPort < 0 {
			return "", 0, errAuthority
		}
		h, port = s, defPort
		if len(h) > 1 && h[0] == '[' && h[len(h)-1] == ']' {
			h = h[1 : len(h)-1]
		}
	}
	if strings.HasPrefix(s, "[") && !strings.Contains(h, ":") {
		return "", 0, errAuthority // brackets are for IPv6 literals only
	}
	// ASCII-only lower-casing: Unicode folding would turn look-alikes such
	// as the Kelvin sign into ASCII letters before validHostname sees them.
	h = asciiLower(strings.TrimSuffix(h, "."))
	if !isIP(h) && !validHostname(h) {
		return "", 0, errAuthority
	}
	return h, port, nil
}

// parsePort accepts 1-65535 in plain decimal digits.
func parsePort(s string) (int, error) {
	if s == "" || len(s) > 5 || s[0] == '0' {
		return 0, errAuthority
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errAuthority
		}
		n = n*10 + int(s[i]-'0')
	}
	if n > 65535 {
		return 0, errAuthority
	}
	return n, nil
}

func isIP(h string) bool { return net.ParseIP(h) != nil }

// validHostname accepts letters, digits, '-', '_' and dots between non-empty
// labels.
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// hostOnly is the port-less, lower-case form of a Host header or SNI, for
// comparing the three names an injection depends on.
func hostOnly(s string) string {
	if h, _, err := parseAuthority(s, 0); err == nil {
		return h
	}
	return ""
}

// asciiLower lower-cases ASCII letters and leaves every other byte alone.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
