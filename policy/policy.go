// Package policy decides what a session may do through the proxy: where it
// may connect (egress, deny by default) and what it may send to hosts that
// get a credential (access modes).
//
// It plugs into proxy.Config.Policy and proxy.Config.AllowAddr. Every
// decision looks the session up again (Config.Current), so that
// `clauderon set-access-mode` and `clauderon delete` apply to the very next
// request, also on connections opened before the change: the Identity the
// proxy captured at CONNECT is only used for its session name.
package policy

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"

	"github.com/clauderon/clauderon"
)

// defaultAllow are the hosts every session may reach unless config.toml's
// allow list replaces them: the package registries and the GitHub hosts an
// agent needs to install dependencies and fetch code. Documented in
// README.md and docs/SECURITY.md.
var defaultAllow = []clauderon.HostPattern{
	"registry.npmjs.org",
	"pypi.org",
	"files.pythonhosted.org",
	"proxy.golang.org",
	"sum.golang.org",
	"github.com",
	"api.github.com",
	"codeload.github.com",
	"objects.githubusercontent.com",
}

// DefaultAllow returns the built-in default allow list (a copy).
func DefaultAllow() []clauderon.HostPattern { return slices.Clone(defaultAllow) }

// Config wires a Policy.
type Config struct {
	// Allow are the hosts every session may reach (the defaults), besides
	// its own Identity.Allow.
	Allow []clauderon.HostPattern
	// AllowAddrs are the addresses every session may reach (config.toml's
	// allow entries that are IP addresses or prefixes), besides its own
	// Identity.AllowAddrs.
	AllowAddrs []netip.Prefix
	// Current returns a session's live identity by name, false once the
	// session is gone. nil trusts the identity the proxy hands in (for a
	// single static identity, as `clauderon proxy` has).
	Current func(session string) (clauderon.Identity, bool)
	// Credentialed reports whether the proxy injects a credential for host;
	// access modes apply to those hosts. nil means none is.
	Credentialed func(host string) bool
}

// Policy implements the proxy's policy hooks. It is safe for concurrent use
// and holds no state besides its Config.
type Policy struct{ cfg Config }

// New returns a Policy.
func New(cfg Config) *Policy { return &Policy{cfg: cfg} }

// readOnlyMethods are what a read-only session may send to a credentialed
// host: they do not change anything on the provider's side.
var readOnlyMethods = map[string]bool{http.MethodGet: true, http.MethodHead: true, http.MethodOptions: true}

// Check is proxy.Config.Policy. It refuses, with a one-line reason:
// a session that no longer exists; a destination outside the session's
// allow list (its agent's hosts, --allow, the defaults); an IP literal no
// rule names; and, for a read-only session, any method but GET, HEAD and
// OPTIONS (and any protocol upgrade) to a credentialed host.
func (p *Policy) Check(_ context.Context, id clauderon.Identity, r *http.Request) error {
	id, err := p.current(id)
	if err != nil {
		return err
	}
	host := requestHost(r)
	if host == "" {
		return clauderon.Errorf(clauderon.EFORBIDDEN, "request names no valid destination host")
	}
	if err := p.checkHost(id, host); err != nil {
		return err
	}
	if r.Method == http.MethodConnect {
		return nil // the requests inside an intercepted tunnel are checked one by one
	}
	if id.AccessMode == clauderon.AccessReadOnly && p.credentialed(host) {
		if !readOnlyMethods[r.Method] {
			return clauderon.Errorf(clauderon.EFORBIDDEN, "session %s is read-only: %s to %s refused (only GET, HEAD and OPTIONS; change it with `clauderon set-access-mode %s read-write`)", id.Session, r.Method, host, id.Session)
		}
		if r.Header.Get("Upgrade") != "" {
			return clauderon.Errorf(clauderon.EFORBIDDEN, "session %s is read-only: protocol upgrades to %s refused (change it with `clauderon set-access-mode %s read-write`)", id.Session, host, id.Session)
		}
	}
	return nil
}

// AllowAddr is proxy.Config.AllowAddr: whether the session may connect to a
// private, loopback or link-local address because a rule of its own names
// it (create --allow 10.1.2.3 or a CIDR prefix). Names never do: a name that
// resolves to such an address is refused (DNS rebinding).
func (p *Policy) AllowAddr(id clauderon.Identity, a netip.Addr) bool {
	id, err := p.current(id)
	if err != nil {
		return false
	}
	return p.addrAllowed(id, a)
}

func (p *Policy) current(id clauderon.Identity) (clauderon.Identity, error) {
	if p.cfg.Current == nil {
		return id, nil
	}
	cur, ok := p.cfg.Current(id.Session)
	if !ok {
		return id, clauderon.Errorf(clauderon.EFORBIDDEN, "session %s no longer exists (deleted or archived): its token is revoked", id.Session)
	}
	return cur, nil
}

func (p *Policy) credentialed(host string) bool {
	return p.cfg.Credentialed != nil && p.cfg.Credentialed(host)
}

// checkHost allows a name on the session's or the default allow list, and
// an IP literal only when a rule names its address.
func (p *Policy) checkHost(id clauderon.Identity, host string) error {
	if a, err := netip.ParseAddr(host); err == nil {
		if p.addrAllowed(id, a) {
			return nil
		}
		return clauderon.Errorf(clauderon.EFORBIDDEN, "%s is an IP address, not allowed for session %s: use a host name, or allow it with `clauderon create --allow %s`", host, id.Session, a.Unmap())
	}
	for _, pats := range [][]clauderon.HostPattern{id.Allow, p.cfg.Allow} {
		for _, pat := range pats {
			if pat.Match(host) {
				return nil
			}
		}
	}
	return clauderon.Errorf(clauderon.EFORBIDDEN, "%s is not on session %s's allow list: add it with `clauderon create --allow %s` or to allow in config.toml", host, id.Session, host)
}

func (p *Policy) addrAllowed(id clauderon.Identity, a netip.Addr) bool {
	a = a.WithZone("").Unmap()
	for _, list := range [][]netip.Prefix{id.AllowAddrs, p.cfg.AllowAddrs} {
		for _, pfx := range list {
			if pfx.Contains(a) {
				return true
			}
		}
	}
	return false
}

// requestHost is the destination a proxy request names, port-less and lower
// case: the CONNECT authority, the absolute URL's host (plain HTTP), or the
// Host header inside an intercepted connection (which the proxy has already
// checked against the CONNECT authority and SNI). "" when it is not a valid
// host.
func requestHost(r *http.Request) string {
	hp := r.Host
	if r.Method != http.MethodConnect && r.URL != nil && r.URL.IsAbs() {
		hp = r.URL.Host
	}
	return normalizeHost(hp)
}

// normalizeHost strips the port and brackets, lower-cases ASCII and drops a
// trailing dot. Anything that is neither an IP address nor an ASCII host
// name is "".
func normalizeHost(hp string) string {
	h := hp
	if host, _, err := net.SplitHostPort(hp); err == nil {
		h = host
	} else if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
		h = h[1 : len(h)-1]
	}
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return ""
		}
		return a.Unmap().String()
	}
	h = strings.TrimSuffix(h, ".")
	p, err := clauderon.ParseHostPattern(h)
	if err != nil || strings.HasPrefix(string(p), "*") {
		return ""
	}
	return string(p)
}
