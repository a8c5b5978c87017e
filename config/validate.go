package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/clauderon/clauderon"
)

// problems collects validation errors, each prefixed with its key.
type problems []string

func (p *problems) add(key, format string, args ...any) {
	*p = append(*p, key+": "+fmt.Sprintf(format, args...))
}

func (p *problems) addErr(key string, err error) {
	if err != nil {
		*p = append(*p, key+": "+clauderon.ErrorMessage(err))
	}
}

// Validate checks every value and returns a *clauderon.Error (EINVALID)
// listing each problem with its key, or nil.
func (c *Config) Validate() error {
	var p problems
	p.addErr("proxy_listen", checkListen(c.ProxyListen))
	p.addErr("http_listen", checkListen(c.HTTPListen))
	for i, f := range c.UpstreamCA {
		if strings.TrimSpace(f) == "" {
			p.add(fmt.Sprintf("upstream_ca[%d]", i), "empty file name")
		}
	}
	for i, r := range c.Resolve {
		if _, _, err := ParseResolve(r); err != nil {
			p.addErr(fmt.Sprintf("resolve[%d]", i), err)
		}
	}
	if len(c.ConnectPorts) == 0 {
		p.add("connect_ports", "empty: list at least 443, or the proxy can reach no HTTPS host")
	}
	for _, port := range c.ConnectPorts {
		if port < 1 || port > 65535 {
			p.add("connect_ports", "%d is not a port number (1-65535)", port)
		}
	}
	if _, err := clauderon.LookupAgent(c.DefaultAgent); err != nil || c.DefaultAgent == "" {
		p.add("default_agent", "unknown agent %q: use %s", c.DefaultAgent, strings.Join(clauderon.AgentNames(), ", "))
	}
	if strings.ContainsAny(c.DefaultImage, " \t\r\n") {
		p.add("default_image", "%q contains white space: give an image reference like ghcr.io/org/image:tag", c.DefaultImage)
	}
	if !slices.Contains(backends, c.DefaultBackend) {
		p.add("default_backend", "unknown backend %q: use %s", c.DefaultBackend, strings.Join(backends, " or "))
	}
	if c.Audit.MaxSizeMB < 1 {
		p.add("audit.max_size_mb", "%d: must be at least 1", c.Audit.MaxSizeMB)
	}
	if c.Audit.MaxFiles < 1 {
		p.add("audit.max_files", "%d: must be at least 1", c.Audit.MaxFiles)
	}
	names := map[string]int{}
	for i, rc := range c.Rules {
		if _, err := rc.rule(); err != nil {
			p.addErr(rc.key(i), err)
		}
		if j, dup := names[rc.Name]; dup && rc.Name != "" {
			p.add(rc.key(i), "name %q is also used by rule #%d: rule names must be unique", rc.Name, j+1)
		}
		names[rc.Name] = i
	}
	for i, a := range c.Allow {
		if _, _, err := clauderon.ParseAllow([]string{a}); err != nil {
			p.addErr(fmt.Sprintf("allow[%d]", i), err)
		}
	}
	if t := c.Web.Token; t != "" {
		// The token is never quoted in the message.
		if len(t) < minWebTokenLen || strings.ContainsFunc(t, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			p.add("web.token", "must be at least %d characters without spaces or control characters (or leave it out to have one generated)", minWebTokenLen)
		}
	}
	if !validDNSLabel(c.Kubernetes.Namespace) {
		p.add("kubernetes.namespace", "%q is not a namespace name: use 1-63 lower-case letters, digits and dashes", c.Kubernetes.Namespace)
	}
	if u := c.Kubernetes.ProxyURL; u != "" {
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" || pu.User != nil {
			p.add("kubernetes.proxy_url", "%q is not a proxy URL like http://10.0.0.5:18080 (no user or token in it)", u)
		}
	}
	if len(p) > 0 {
		return clauderon.Errorf(clauderon.EINVALID, "%s", strings.Join(p, "; "))
	}
	return nil
}

func checkListen(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return clauderon.Errorf(clauderon.EINVALID, "%q is not HOST:PORT, e.g. 127.0.0.1:18080", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return clauderon.Errorf(clauderon.EINVALID, "%q: port %q is not a number from 0 to 65535", addr, port)
	}
	if strings.ContainsAny(host, " \t/") {
		return clauderon.Errorf(clauderon.EINVALID, "%q: %q is not a host name or address", addr, host)
	}
	return nil
}

func validDNSLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// key names rule i in messages: its number, and its name when it has one.
func (rc RuleConfig) key(i int) string {
	if rc.Name == "" {
		return fmt.Sprintf("rule #%d", i+1)
	}
	return fmt.Sprintf("rule #%d (%q)", i+1, rc.Name)
}

// RuleList converts the [[rule]] tables into rules, in file order.
func (c *Config) RuleList() ([]clauderon.Rule, error) {
	out := make([]clauderon.Rule, 0, len(c.Rules))
	for i, rc := range c.Rules {
		r, err := rc.rule()
		if err != nil {
			return nil, clauderon.Errorf(clauderon.EINVALID, "%s: %s", rc.key(i), clauderon.ErrorMessage(err))
		}
		out = append(out, r)
	}
	return out, nil
}

// Headers a rule may not set: they frame the message, route it, or belong
// to the hop between the client and the proxy, so setting them would break
// or redirect requests rather than authenticate them.
var reservedHeaders = []string{
	"Host", "Content-Length", "Transfer-Encoding", "Connection", "Upgrade", "Keep-Alive", "Te", "Trailer",
	"Proxy-Authorization", "Proxy-Authenticate", "Proxy-Connection",
}

// Container variables a rule may not set: they carry the proxy settings.
var reservedEnv = []string{"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY"}

// rule validates rc and converts it. Errors name the key, not the rule.
func (rc RuleConfig) rule() (clauderon.Rule, error) {
	fail := func(key, format string, args ...any) (clauderon.Rule, error) {
		return clauderon.Rule{}, clauderon.Errorf(clauderon.EINVALID, "%s: %s", key, fmt.Sprintf(format, args...))
	}
	if !validRuleName(rc.Name) {
		return fail("name", "%q: use 1-63 lower-case letters, digits, '-', '_' or '.', starting with a letter or digit", rc.Name)
	}
	hosts := rc.Hosts
	switch {
	case rc.Host != "" && len(rc.Hosts) > 0:
		return fail("host", "set host or hosts, not both")
	case rc.Host != "":
		hosts = []string{rc.Host}
	case len(hosts) == 0:
		return fail("hosts", "missing: give the hosts that own this credential, e.g. hosts = [\"api.example.com\"]")
	}
	r := clauderon.Rule{Name: rc.Name}
	for _, h := range hosts {
		hp, err := clauderon.ParseHostPattern(h)
		if err != nil {
			return fail("hosts", "%s", clauderon.ErrorMessage(err))
		}
		r.Hosts = append(r.Hosts, hp)
	}
	header, err := headerName(rc.Header)
	if err != nil {
		return fail("header", "%s", clauderon.ErrorMessage(err))
	}
	r.Header = header
	if rc.Value == "" {
		return fail("value", "missing: give the header's value, e.g. value = \"Bearer ${secret}\"")
	}
	if err := clauderon.ValidateTemplate(rc.Value); err != nil {
		return fail("value", "%s", clauderon.ErrorMessage(err))
	}
	if hasControl(rc.Value) {
		return fail("value", "contains a line break or control character")
	}
	r.Template = rc.Value
	if _, err := clauderon.ParseSecretSource(rc.Secret); err != nil {
		return fail("secret", "%s", clauderon.ErrorMessage(err))
	}
	r.Source = strings.TrimSpace(rc.Secret)
	r.Placeholder = rc.Placeholder
	if r.Placeholder == "" {
		r.Placeholder = clauderon.PlaceholderPrefix + rc.Name
	} else if strings.ContainsFunc(r.Placeholder, func(c rune) bool { return c <= ' ' || c == 0x7f }) {
		return fail("placeholder", "must not contain spaces or control characters")
	}
	r.Strip = []string{header}
	for _, s := range rc.Strip {
		h, err := headerName(s)
		if err != nil {
			return fail("strip", "%s", clauderon.ErrorMessage(err))
		}
		if !slices.Contains(r.Strip, h) {
			r.Strip = append(r.Strip, h)
		}
	}
	for _, e := range rc.Env {
		if !clauderon.ValidEnvName(e) {
			return fail("env", "%q is not an environment variable name", e)
		}
		if slices.Contains(reservedEnv, strings.ToUpper(e)) {
			return fail("env", "%s carries the proxy settings and cannot hold a placeholder", e)
		}
		r.EnvVars = append(r.EnvVars, e)
	}
	return r, nil
}

func validRuleName(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := 'a' <= c && c <= 'z' || '0' <= c && c <= '9'
		if !alnum && (i == 0 || c != '-' && c != '_' && c != '.') {
			return false
		}
	}
	return true
}

// headerName checks that s is an HTTP field name (an RFC 9110 token) that a
// rule may set, and returns it in canonical form.
func headerName(s string) (string, error) {
	if s == "" {
		return "", clauderon.Errorf(clauderon.EINVALID, "missing: give the header to set, e.g. Authorization")
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return "", clauderon.Errorf(clauderon.EINVALID, "%q is not a valid HTTP header name", s)
		}
	}
	h := textproto.CanonicalMIMEHeaderKey(s)
	if slices.Contains(reservedHeaders, h) {
		return "", clauderon.Errorf(clauderon.EINVALID, "%s cannot be set by a rule: it routes or frames the request", h)
	}
	return h, nil
}

func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f })
}

// ParseResolve parses a HOST:PORT=ADDR override, as in --resolve and the
// resolve key: connections to HOST:PORT dial ADDR instead. ADDR is HOST:PORT
// or a bare IP address, which means the same port. It returns HOST:PORT
// (host in lower case) and the address to dial, both ready for net.Dial.
func ParseResolve(s string) (hostport, addr string, err error) {
	bad := func(why string) (string, string, error) {
		return "", "", clauderon.Errorf(clauderon.EINVALID, "%q: %s; want HOST:PORT=ADDR, e.g. api.example.com:443=127.0.0.1:8443", s, why)
	}
	left, right, ok := strings.Cut(s, "=")
	if !ok {
		return bad("no =")
	}
	host, port, err := net.SplitHostPort(left)
	if err != nil || host == "" {
		return bad("the part before = is not HOST:PORT")
	}
	port, ok = parsePort(port)
	if !ok {
		return bad("the port before = is not a number from 1 to 65535")
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if ip.Zone() != "" {
			return bad("an address with a zone cannot be a host to override")
		}
		host = ip.String()
	} else if _, err := clauderon.ParseHostPattern(host); err != nil || strings.HasPrefix(host, "*") {
		return bad(strconv.Quote(host) + " is not a host name")
	} else {
		host = strings.ToLower(host)
	}
	hostport = net.JoinHostPort(host, port)

	bare := right
	if strings.HasPrefix(bare, "[") && strings.HasSuffix(bare, "]") {
		bare = bare[1 : len(bare)-1]
	}
	if ip, err := netip.ParseAddr(bare); err == nil {
		if ip.Zone() != "" {
			// A zone may hold any character, which would make the
			// result ambiguous; link-local upstreams are not a use case.
			return bad("addresses with a zone (%name) are not supported")
		}
		return hostport, net.JoinHostPort(ip.String(), port), nil
	}
	ah, ap, err := net.SplitHostPort(right)
	if err != nil || ah == "" {
		return bad("the part after = is neither HOST:PORT nor an IP address")
	}
	ap, ok = parsePort(ap)
	if !ok {
		return bad("the port after = is not a number from 1 to 65535")
	}
	if ip, err := netip.ParseAddr(ah); err == nil {
		if ip.Zone() != "" {
			return bad("addresses with a zone (%name) are not supported")
		}
		ah = ip.String()
	} else if _, err := clauderon.ParseHostPattern(ah); err != nil || strings.HasPrefix(ah, "*") {
		return bad(strconv.Quote(ah) + " is not a host name or IP address")
	} else {
		ah = strings.ToLower(ah)
	}
	return hostport, net.JoinHostPort(ah, ap), nil
}

// parsePort accepts decimal digits only and returns the canonical form
// ("0443" is "443").
func parsePort(p string) (string, bool) {
	if p == "" || len(p) > 5 || strings.Trim(p, "0123456789") != "" {
		return "", false
	}
	n, _ := strconv.Atoi(p)
	return strconv.Itoa(n), n >= 1 && n <= 65535
}
