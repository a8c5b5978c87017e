package proxy

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
)

func TestParseAuthority(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in       string
		def      int
		host     string
		port     int
		wantFail bool
	}{
		{"api.anthropic.com:443", -1, "api.anthropic.com", 443, false},
		{"API.Anthropic.COM.:443", -1, "api.anthropic.com", 443, false},
		{"[::1]:443", -1, "::1", 443, false},
		{"1.2.3.4:8443", -1, "1.2.3.4", 8443, false},
		{"api.anthropic.com", -1, "", 0, true},
		{"api.anthropic.com", 80, "api.anthropic.com", 80, false},
		{"[::1]", 80, "::1", 80, false},
		{"host:0", -1, "", 0, true},
		{"host:65536", -1, "", 0, true},
		{"host:+443", -1, "", 0, true},
		{"host:0443", -1, "", 0, true},
		{"user@host:443", -1, "", 0, true},
		{"host/path:443", -1, "", 0, true},
		{"[host]:443", -1, "", 0, true},
		{"[fe80::1%25eth0]:443", -1, "", 0, true},
		{":443", -1, "", 0, true},
		{"a..b:443", -1, "", 0, true},
		{"*.example.com:443", -1, "", 0, true},
	}
	for _, tc := range cases {
		h, p, err := parseAuthority(tc.in, tc.def)
		if (err != nil) != tc.wantFail || h != tc.host || p != tc.port {
			t.Errorf("parseAuthority(%q, %d) = %q, %d, %v", tc.in, tc.def, h, p, err)
		}
	}
}

// FuzzParseAuthority: whatever a CONNECT line carries, what comes out is a
// lower-case name or IP literal and a valid port that re-parse to the same.
func FuzzParseAuthority(f *testing.F) {
	for _, s := range []string{"api.anthropic.com:443", "[::1]:443", "1.2.3.4:80", "a:1", "x:65535", "Host.:443", "[a]:1", "\u212aey.example.com:443"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, p, err := parseAuthority(s, -1)
		if err != nil {
			return
		}
		if p < 1 || p > 65535 || h == "" || h != strings.ToLower(h) || strings.ContainsAny(h, "@/?#[] %*") {
			t.Fatalf("%q -> %q %d", s, h, p)
		}
		for i := 0; i < len(h); i++ {
			if h[i] >= 0x80 {
				t.Fatalf("%q -> non-ASCII host %q", s, h)
			}
		}
		if strings.ContainsRune(s, '\u212a') {
			t.Fatalf("%q (Kelvin sign) accepted as %q", s, h)
		}
		if !isIP(h) && strings.Contains(h, ":") {
			t.Fatalf("%q -> host %q with a colon", s, h)
		}
		h2, p2, err := parseAuthority(net.JoinHostPort(h, strconv.Itoa(p)), -1)
		if err != nil || h2 != h || p2 != p {
			t.Fatalf("%q -> %q %d does not round-trip: %q %d %v", s, h, p, h2, p2, err)
		}
	})
}

func FuzzProxyToken(f *testing.F) {
	f.Add(basicAuth("s1", "tok"))
	f.Add("Basic Og==")
	f.Add("basic   " + basicAuth("a", "b:c")[6:])
	f.Fuzz(func(t *testing.T, v string) {
		tok, ok := proxyToken(http.Header{"Proxy-Authorization": {v}})
		if ok && tok == "" {
			t.Fatalf("%q: empty token accepted", v)
		}
	})
}

// FuzzRequestHead sends arbitrary bytes as a request inside an intercepted
// TLS connection to api.anthropic.com. The proxy must not panic, must answer
// or close rather than hang, and a credential may reach the upstream only on a
// request for api.anthropic.com.
func FuzzRequestHead(f *testing.F) {
	for _, s := range []string{
		"GET /v1/models HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n",
		"GET /v1/models HTTP/1.1\r\nHost: api.openai.com\r\n\r\n",
		"GET http://api.openai.com/x HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n",
		"GET https://api.openai.com/x HTTP/1.1\r\nHost: api.anthropic.com\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: api.openai.com\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: api.anthropic.com\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
		"GET / HTTP/1.1\r\nHost: api.anthropic.com:443\r\nHost: api.openai.com\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: API.ANTHROPIC.COM.\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: api.anthropic.com\r\nX: a\nb\r\n\r\n",
		"\x00\xff",
	} {
		f.Add([]byte(s))
	}
	secret := canary(f, "sk-ant-oat01-")
	up := startUpstream(f, okHandler("ok"))
	h := startProxy(f, up, []clauderon.Credential{
		{Rule: oauthRule(), Secret: clauderon.NewSecret(secret)},
		{Rule: openaiRule(), Secret: clauderon.NewSecret(canary(f, "sk-"))}})
	f.Fuzz(func(t *testing.T, head []byte) {
		if len(head) > 64<<10 {
			t.Skip()
		}
		c, res := h.rawConnect(t, anthropicHost+":443", basicAuth("s1", testToken))
		if res.StatusCode != 200 {
			t.Fatalf("CONNECT: %d", res.StatusCode)
		}
		tc := tls.Client(c, &tls.Config{ServerName: anthropicHost, RootCAs: h.ca.pool})
		tc.SetDeadline(time.Now().Add(20 * time.Second))
		if _, err := tc.Write(head); err != nil {
			t.Fatal(err)
		}
		tc.CloseWrite()
		if _, err := io.Copy(io.Discard, tc); err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				t.Fatalf("proxy neither answered nor closed")
			}
		}
		tc.Close()
		for _, r := range up.requests() {
			if strings.Contains(strings.Join(r.Header.Values("Authorization"), " "), secret) &&
				(r.Host != anthropicHost || r.TLSServerName != anthropicHost) {
				t.Fatalf("credential sent for Host %q SNI %q", r.Host, r.TLSServerName)
			}
			if r.Header.Get("X-Api-Key") != "" || len(r.Header.Values("Authorization")) > 1 {
				t.Fatalf("upstream got %v", r.Header)
			}
		}
		if logs := h.logs.String(); strings.Contains(logs, "panic") {
			t.Fatalf("proxy panicked: %s", logs)
		}
	})
}
