package clauderon

import (
	"encoding/base64"
	"fmt"
	"net"
	"strings"
)

// HostPattern names the hosts a rule applies to: an exact host name
// ("api.github.com") or a wildcard "*.example.com", which matches any name
// below example.com but not example.com itself, so that a rule for a provider's
// subdomains never quietly covers its apex. Patterns are lower case and carry
// no port.
type HostPattern string

// ParseHostPattern validates and normalises s. Only ASCII host names are
// accepted (IDNs in their xn-- form): Unicode case folding maps characters
// such as the Kelvin sign onto ASCII letters, which would let a look-alike
// name match a rule.
func ParseHostPattern(s string) (HostPattern, error) {
	p := asciiLower(strings.TrimSpace(s))
	name, wild := strings.CutPrefix(p, "*.")
	if wild && validHostName(name) && !strings.Contains(name, ".") {
		// *.com would hand the credential to every .com site.
		return "", Errorf(EINVALID, "host pattern %q covers a whole top-level domain: name the provider's domain, e.g. *.example.com", s)
	}
	if !validHostName(name) || net.ParseIP(name) != nil {
		return "", Errorf(EINVALID, "invalid host pattern %q: want an ASCII host name like api.example.com or *.example.com (international names in their xn-- form; no IP addresses)", s)
	}
	return HostPattern(p), nil
}

// validHostName checks an ASCII DNS name: labels of letters, digits, '-' and
// '_', 1-63 characters each, 253 in all.
func validHostName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	for _, label := range strings.Split(name, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
				return false
			}
		}
	}
	return true
}

// asciiLower lower-cases ASCII letters only, leaving every other byte as it is
// (so a non-ASCII host never turns into an ASCII one).
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'A' && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// Match reports whether host (a name without port; any case) is covered.
// Hosts that are not plain ASCII names never match.
func (p HostPattern) Match(host string) bool {
	host = asciiLower(strings.TrimSuffix(host, "."))
	if !validHostName(host) {
		return false
	}
	if suffix, ok := strings.CutPrefix(string(p), "*"); ok { // suffix keeps its leading dot
		return len(host) > len(suffix) && strings.HasSuffix(host, suffix)
	}
	return host == string(p)
}

// Rule binds a credential to the hosts that own it: on a request to one of
// Hosts, the proxy removes every header in Strip and sets Header to Template
// with the secret filled in.
//
// Template placeholders: "${secret}" is the secret itself; "${basic:USER}" is
// the base64 of "USER:secret", for HTTP Basic (git over HTTPS).
type Rule struct {
	Name        string        `json:"name" toml:"name"`
	Hosts       []HostPattern `json:"hosts" toml:"hosts"`
	Header      string        `json:"header" toml:"header"`
	Template    string        `json:"template" toml:"template"`
	Strip       []string      `json:"strip,omitempty" toml:"strip"`
	Source      string        `json:"source" toml:"source"`                     // where the secret comes from: env:NAME, file:PATH, cmd:COMMAND
	Placeholder string        `json:"placeholder,omitempty" toml:"placeholder"` // what containers hold instead
	EnvVars     []string      `json:"env,omitempty" toml:"env"`                 // container variables that get the placeholder
}

// Matches reports whether the rule covers host.
func (r Rule) Matches(host string) bool {
	for _, p := range r.Hosts {
		if p.Match(host) {
			return true
		}
	}
	return false
}

// Credential is a Rule whose secret has been read.
type Credential struct {
	Rule   Rule
	Secret Secret
}

// HeaderValue renders the header value to send upstream. The result holds the
// real secret: it must go only onto the wire to a host the rule matches.
func (c Credential) HeaderValue() string {
	out := c.Rule.Template
	for {
		i := strings.Index(out, "${basic:")
		if i < 0 {
			break
		}
		j := strings.Index(out[i:], "}")
		if j < 0 {
			break
		}
		user := out[i+len("${basic:") : i+j]
		enc := base64.StdEncoding.EncodeToString([]byte(user + ":" + c.Secret.Reveal()))
		out = out[:i] + enc + out[i+j+1:]
	}
	return strings.ReplaceAll(out, "${secret}", c.Secret.Reveal())
}

// ValidateTemplate checks that a template uses only the placeholders
// HeaderValue knows, and uses the secret at least once.
func ValidateTemplate(t string) error {
	rest := t
	uses := 0
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			break
		}
		j := strings.Index(rest[i:], "}")
		if j < 0 {
			return Errorf(EINVALID, "template %q: unterminated ${", t)
		}
		ph := rest[i+2 : i+j]
		if ph != "secret" && !strings.HasPrefix(ph, "basic:") {
			return Errorf(EINVALID, "template %q: unknown placeholder ${%s}; use ${secret} or ${basic:USER}", t, ph)
		}
		uses++
		rest = rest[i+j+1:]
	}
	if uses == 0 {
		return Errorf(EINVALID, "template %q does not use ${secret}", t)
	}
	return nil
}

// CredentialSet is an immutable set of credentials, in priority order: for a
// host, the first credential whose rule matches wins. Swap a whole new set in
// to change it (for example on SIGHUP); connections in flight keep the set
// they started with only for the request at hand.
type CredentialSet struct {
	creds []Credential
}

// NewCredentialSet keeps creds with a non-empty secret, in order.
func NewCredentialSet(creds []Credential) *CredentialSet {
	s := &CredentialSet{}
	for _, c := range creds {
		if !c.Secret.IsZero() {
			s.creds = append(s.creds, c)
		}
	}
	return s
}

// Lookup returns the credential for host.
func (s *CredentialSet) Lookup(host string) (Credential, bool) {
	if s == nil {
		return Credential{}, false
	}
	for _, c := range s.creds {
		if c.Rule.Matches(host) {
			return c, true
		}
	}
	return Credential{}, false
}

// All returns the credentials in priority order. The slice must not be changed.
func (s *CredentialSet) All() []Credential {
	if s == nil {
		return nil
	}
	return s.creds
}

// Redactions returns, for every configured secret, the value and what to put
// in its place when it shows up where it must not (an upstream echoing it back).
// Each rendered header value is included too, since a Basic header holds the
// secret only in base64.
func (s *CredentialSet) Redactions() []Redaction {
	var out []Redaction
	seen := map[string]bool{}
	add := func(v, ph string) {
		if v == "" || seen[v] {
			return
		}
		seen[v] = true
		out = append(out, Redaction{Value: NewSecret(v), Placeholder: ph})
	}
	for _, c := range s.All() {
		ph := c.Rule.Placeholder
		if ph == "" {
			ph = PlaceholderPrefix + c.Rule.Name
		}
		add(c.Secret.Reveal(), ph)
		// A Basic header carries the secret only in base64: guard that form too.
		for _, user := range basicUsers(c.Rule.Template) {
			add(base64.StdEncoding.EncodeToString([]byte(user+":"+c.Secret.Reveal())), ph)
		}
	}
	return out
}

// basicUsers returns the USER of every ${basic:USER} in a template.
func basicUsers(t string) []string {
	var users []string
	for {
		i := strings.Index(t, "${basic:")
		if i < 0 {
			return users
		}
		t = t[i+len("${basic:"):]
		j := strings.Index(t, "}")
		if j < 0 {
			return users
		}
		users = append(users, t[:j])
		t = t[j+1:]
	}
}

// Redaction is one secret value and the placeholder that replaces it.
type Redaction struct {
	Value       Secret
	Placeholder string
}

// PlaceholderPrefix starts every placeholder clauderon hands a container, so a
// placeholder is recognisable in any log.
const PlaceholderPrefix = "clauderon-proxy-placeholder-"

// String describes the rule without its secret.
func (c Credential) String() string {
	return fmt.Sprintf("%s (%s from %s)", c.Rule.Name, c.Rule.Header, c.Rule.Source)
}
