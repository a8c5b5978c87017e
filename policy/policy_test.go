package policy_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/policy"
	"github.com/clauderon/clauderon/session"
)

// table is a live token table with two sessions: "rw" (claude, read-write,
// --allow extra.example and 10.1.2.0/24) and "ro" (claude, read-only).
func table(t *testing.T) *session.Tokens {
	t.Helper()
	tokens := session.NewTokens()
	tokens.Set("hash-rw", clauderon.Identity{Session: "rw", AccessMode: clauderon.AccessReadWrite,
		Allow:      []clauderon.HostPattern{"api.anthropic.com", "extra.example"},
		AllowAddrs: []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24")}})
	tokens.Set("hash-ro", clauderon.Identity{Session: "ro", AccessMode: clauderon.AccessReadOnly,
		Allow: []clauderon.HostPattern{"api.anthropic.com"}})
	return tokens
}

func newPolicy(tokens *session.Tokens) *policy.Policy {
	return policy.New(policy.Config{
		Allow:        policy.DefaultAllow(),
		Current:      tokens.Current,
		Credentialed: func(h string) bool { return h == "api.anthropic.com" || h == "api.github.com" },
	})
}

func connect(authority string) *http.Request {
	return &http.Request{Method: http.MethodConnect, Host: authority, URL: &url.URL{Host: authority}, Header: http.Header{}}
}

// inner is a request inside an intercepted connection: origin-form, Host set.
func inner(method, host string, hdr ...string) *http.Request {
	r := httptest.NewRequest(method, "/v1/x", nil)
	r.Host = host
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	return r
}

func TestCheck(t *testing.T) {
	t.Parallel()
	p := newPolicy(table(t))
	rw, ro := clauderon.Identity{Session: "rw"}, clauderon.Identity{Session: "ro"}
	cases := []struct {
		name string
		id   clauderon.Identity
		r    *http.Request
		deny string // "" allows; else a substring of the reason
	}{
		{"agent host", rw, connect("api.anthropic.com:443"), ""},
		{"agent host upper case, trailing dot", rw, connect("API.Anthropic.COM.:443"), ""},
		{"default registry", ro, connect("registry.npmjs.org:443"), ""},
		{"default github", ro, connect("github.com:443"), ""},
		{"session allow", rw, connect("extra.example:443"), ""},
		{"other session's allow", ro, connect("extra.example:443"), "not on session ro's allow list"},
		{"unlisted host", rw, connect("evil.example:443"), "not on session rw's allow list"},
		{"suffix trick", rw, connect("api.anthropic.com.evil.example:443"), "allow list"},
		{"ip literal", rw, connect("93.184.216.34:443"), "IP address"},
		{"loopback literal", rw, connect("127.0.0.1:443"), "IP address"},
		{"v6 loopback literal", rw, connect("[::1]:443"), "IP address"},
		{"mapped v4 literal", rw, connect("[::ffff:127.0.0.1]:443"), "IP address"},
		{"metadata literal", rw, connect("169.254.169.254:80"), "IP address"},
		{"allowed prefix", rw, connect("10.1.2.3:443"), ""},
		{"outside allowed prefix", rw, connect("10.1.3.3:443"), "IP address"},
		{"not a host", rw, connect("a b:443"), "no valid destination"},
		{"unicode look-alike", rw, connect("api.anthropic.co\u212a:443"), "no valid destination"},
		{"plain http to unlisted", rw, httptest.NewRequest("GET", "http://evil.example/x", nil), "allow list"},
		{"plain http to metadata", rw, httptest.NewRequest("GET", "http://169.254.169.254/latest", nil), "IP address"},
		{"read-write POST", rw, inner("POST", "api.anthropic.com"), ""},
		{"read-only GET", ro, inner("GET", "api.anthropic.com"), ""},
		{"read-only HEAD", ro, inner("HEAD", "api.anthropic.com"), ""},
		{"read-only OPTIONS", ro, inner("OPTIONS", "api.anthropic.com"), ""},
		{"read-only POST", ro, inner("POST", "api.anthropic.com"), "read-only"},
		{"read-only DELETE", ro, inner("DELETE", "api.github.com"), "read-only"},
		{"read-only PUT", ro, inner("PUT", "api.anthropic.com"), "read-only"},
		{"read-only upgrade", ro, inner("GET", "api.anthropic.com", "Upgrade", "websocket"), "upgrades"},
		{"read-only POST uncredentialed", ro, inner("POST", "registry.npmjs.org"), ""},
		{"read-only CONNECT", ro, connect("api.anthropic.com:443"), ""},
		{"unknown session", clauderon.Identity{Session: "gone"}, connect("api.anthropic.com:443"), "no longer exists"},
		// The identity the proxy captured says read-write; the live one
		// says read-only, and wins.
		{"stale identity", clauderon.Identity{Session: "ro", AccessMode: clauderon.AccessReadWrite}, inner("POST", "api.anthropic.com"), "read-only"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := p.Check(context.Background(), c.id, c.r)
			switch {
			case c.deny == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.deny != "" && err == nil:
				t.Fatalf("allowed; want a refusal mentioning %q", c.deny)
			case c.deny != "":
				msg := clauderon.ErrorMessage(err)
				if !strings.Contains(msg, c.deny) || strings.ContainsAny(msg, "\r\n") {
					t.Fatalf("reason %q: want one line mentioning %q", msg, c.deny)
				}
				if clauderon.ErrorCode(err) != clauderon.EFORBIDDEN {
					t.Fatalf("code %s, want forbidden", clauderon.ErrorCode(err))
				}
			}
		})
	}
}

// TestModeChangeAndRevocationApplyAtOnce changes the live table between two
// checks of the same captured identity, as set-access-mode and delete do.
func TestModeChangeAndRevocationApplyAtOnce(t *testing.T) {
	t.Parallel()
	tokens := table(t)
	p := newPolicy(tokens)
	captured := clauderon.Identity{Session: "rw", AccessMode: clauderon.AccessReadWrite}
	if err := p.Check(context.Background(), captured, inner("POST", "api.anthropic.com")); err != nil {
		t.Fatalf("read-write POST refused: %v", err)
	}
	tokens.Set("hash-rw", clauderon.Identity{Session: "rw", AccessMode: clauderon.AccessReadOnly,
		Allow: []clauderon.HostPattern{"api.anthropic.com"}})
	if err := p.Check(context.Background(), captured, inner("POST", "api.anthropic.com")); err == nil {
		t.Fatal("POST allowed after the switch to read-only")
	}
	tokens.Remove("hash-rw")
	if err := p.Check(context.Background(), captured, inner("GET", "api.anthropic.com")); err == nil {
		t.Fatal("GET allowed after the session's token was revoked")
	}
	if p.AllowAddr(captured, netip.MustParseAddr("10.1.2.3")) {
		t.Fatal("AllowAddr true for a revoked session")
	}
}

func TestAllowAddr(t *testing.T) {
	t.Parallel()
	p := newPolicy(table(t))
	rw, ro := clauderon.Identity{Session: "rw"}, clauderon.Identity{Session: "ro"}
	for _, c := range []struct {
		id   clauderon.Identity
		addr string
		want bool
	}{
		{rw, "10.1.2.3", true},
		{rw, "::ffff:10.1.2.3", true},
		{rw, "10.1.3.1", false},
		{rw, "127.0.0.1", false},
		{ro, "10.1.2.3", false},
	} {
		if got := p.AllowAddr(c.id, netip.MustParseAddr(c.addr)); got != c.want {
			t.Errorf("AllowAddr(%s, %s) = %v, want %v", c.id.Session, c.addr, got, c.want)
		}
	}
}

// TestDefaultAllowAddrs: config.toml's allow addresses hold for every
// session, IP-literal CONNECTs included, and nothing beyond them.
func TestDefaultAllowAddrs(t *testing.T) {
	t.Parallel()
	tokens := table(t)
	p := policy.New(policy.Config{
		Allow:      policy.DefaultAllow(),
		AllowAddrs: []netip.Prefix{netip.MustParsePrefix("192.168.7.0/24")},
		Current:    tokens.Current,
	})
	ro := clauderon.Identity{Session: "ro"}
	if !p.AllowAddr(ro, netip.MustParseAddr("192.168.7.9")) || p.AllowAddr(ro, netip.MustParseAddr("192.168.8.1")) {
		t.Error("default allow addresses not applied as configured")
	}
	if err := p.Check(context.Background(), ro, connect("192.168.7.9:443")); err != nil {
		t.Errorf("CONNECT to a default-allowed address: %v", err)
	}
	if err := p.Check(context.Background(), ro, connect("192.168.8.1:443")); err == nil {
		t.Error("CONNECT to an address outside the defaults allowed")
	}
}

func TestDefaultAllowIsACopy(t *testing.T) {
	t.Parallel()
	d := policy.DefaultAllow()
	d[0] = "evil.example"
	if policy.DefaultAllow()[0] == "evil.example" {
		t.Fatal("DefaultAllow hands out its backing array")
	}
}
