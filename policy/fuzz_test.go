package policy_test

import (
	"bufio"
	"context"
	"net/http"
	"net/netip"
	"strings"
	"testing"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/policy"
	"github.com/clauderon/clauderon/session"
)

// FuzzCheck feeds request heads a container could send (CONNECT,
// absolute-form, origin-form) to the policy. Invariants: no panic; a request
// the policy allows names a host on an allow list or an address a rule
// names; a read-only session never gets a write method through to a
// credentialed host.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"CONNECT api.anthropic.com:443 HTTP/1.1\r\nHost: api.anthropic.com:443\r\n\r\n",
		"CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n",
		"CONNECT 10.1.2.3:443 HTTP/1.1\r\nHost: 10.1.2.3:443\r\n\r\n",
		"GET http://169.254.169.254/latest HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /v1/messages HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: API.ANTHROPIC.COM.\r\nUpgrade: websocket\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: api.anthropic.com.evil.example\r\n\r\n",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, head string, readOnly bool) {
		r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
		if err != nil {
			return
		}
		mode := clauderon.AccessReadWrite
		if readOnly {
			mode = clauderon.AccessReadOnly
		}
		tokens := session.NewTokens()
		tokens.Set("h", clauderon.Identity{Session: "s", AccessMode: mode,
			Allow:      []clauderon.HostPattern{"api.anthropic.com"},
			AllowAddrs: []netip.Prefix{netip.MustParsePrefix("10.1.2.0/24")}})
		p := policy.New(policy.Config{Allow: []clauderon.HostPattern{"*.npmjs.org"}, Current: tokens.Current,
			Credentialed: func(h string) bool { return h == "api.anthropic.com" }})
		err = p.Check(context.Background(), clauderon.Identity{Session: "s"}, r)
		if err != nil {
			if strings.ContainsAny(clauderon.ErrorMessage(err), "\r\n") {
				t.Fatalf("multi-line reason %q", clauderon.ErrorMessage(err))
			}
			return
		}
		hp := r.Host
		if r.Method != http.MethodConnect && r.URL.IsAbs() {
			hp = r.URL.Host
		}
		host := strings.ToLower(strings.TrimSuffix(strings.Trim(strings.Split(strings.TrimPrefix(hp, "["), "]")[0], "."), "."))
		if h, _, ok := strings.Cut(hp, ":"); ok && !strings.HasPrefix(hp, "[") {
			host = strings.ToLower(strings.TrimSuffix(h, "."))
		}
		if a, err := netip.ParseAddr(host); err == nil {
			if !netip.MustParsePrefix("10.1.2.0/24").Contains(a.Unmap()) {
				t.Fatalf("allowed IP destination %q (%q)", host, hp)
			}
		} else if host != "api.anthropic.com" && !strings.HasSuffix(host, ".npmjs.org") {
			t.Fatalf("allowed host %q (from %q)", host, hp)
		}
		if readOnly && r.Method != http.MethodConnect && host == "api.anthropic.com" {
			switch r.Method {
			case "GET", "HEAD", "OPTIONS":
			default:
				t.Fatalf("read-only session let %s through to %s", r.Method, host)
			}
		}
	})
}
