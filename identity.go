package clauderon

import (
	"net/netip"
	"strings"
)

// Identity is who is talking to the proxy: the session a proxy token belongs
// to. It travels with every request into rules, policy and the audit log.
type Identity struct {
	Session    string     // session name, as shown to users
	AccessMode AccessMode // what the session may do on credentialed hosts
	// Allow are the host names the session may reach besides the
	// configured defaults: its agent's provider hosts and create --allow.
	Allow []HostPattern
	// AllowAddrs are addresses a rule names explicitly (create --allow
	// 10.1.2.3 or 10.1.2.0/24): the only private, loopback or link-local
	// destinations the session may reach, and the only IP literals it may
	// CONNECT to.
	AllowAddrs []netip.Prefix
}

// Authenticator maps a proxy token to an identity. Implementations compare in
// constant time (or compare hashes), so the token cannot be guessed byte by byte.
type Authenticator interface {
	Authenticate(token string) (Identity, bool)
}

// ParseAllow splits egress allow entries (create --allow) into host patterns
// and address prefixes. An entry is a host pattern (api.example.com,
// *.example.com), an IP address (10.1.2.3, fd00::1) or a CIDR prefix
// (10.1.2.0/24). Prefixes wider than /8 (IPv4) or /16 (IPv6) are refused:
// they would open whole address families, which is never what a user means.
func ParseAllow(entries []string) ([]HostPattern, []netip.Prefix, error) {
	var hosts []HostPattern
	var addrs []netip.Prefix
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if pfx, err := netip.ParsePrefix(e); err == nil {
			pfx = pfx.Masked()
			if min := map[bool]int{true: 8, false: 16}[pfx.Addr().Is4()]; pfx.Bits() < min {
				return nil, nil, Errorf(EINVALID, "allow %q is too wide: name an address or a prefix of at least /%d", e, min)
			}
			addrs = append(addrs, pfx)
			continue
		}
		if a, err := netip.ParseAddr(e); err == nil {
			if a.Zone() != "" {
				return nil, nil, Errorf(EINVALID, "allow %q: drop the zone (%%%s)", e, a.Zone())
			}
			a = a.Unmap()
			addrs = append(addrs, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := ParseHostPattern(e)
		if err != nil && strings.HasPrefix(e, "*.") {
			return nil, nil, err // says what is wrong with the wildcard
		}
		if err != nil {
			return nil, nil, Errorf(EINVALID, "invalid allow entry %q: want a host (api.example.com), a wildcard (*.example.com), an IP address or a CIDR prefix", e)
		}
		hosts = append(hosts, p)
	}
	return hosts, addrs, nil
}
