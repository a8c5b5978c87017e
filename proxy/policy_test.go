package proxy

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/policy"
	"github.com/clauderon/clauderon/session"
)

// These tests run the real policy (package policy) and the real token table
// (package session) in the proxy, on the wire, the way the daemon wires them.

const policyToken = "policy-session-token-0123456789"

// withPolicy authenticates policyToken as session "s1" through a live token
// table and plugs in the policy. The table is returned so tests change it as
// set-access-mode and delete do.
func withPolicy(tb testing.TB, id clauderon.Identity) (*session.Tokens, harnessOpt) {
	tokens := session.NewTokens()
	tokens.Set(session.HashToken(policyToken), id)
	return tokens, func(c *Config) {
		c.Auth = tokens
		creds := c.Credentials
		pol := policy.New(policy.Config{
			Allow:   []clauderon.HostPattern{"allowed.test"},
			Current: tokens.Current,
			Credentialed: func(h string) bool {
				_, ok := creds().Lookup(h)
				return ok
			},
		})
		c.Policy = pol.Check
		c.AllowAddr = pol.AllowAddr
	}
}

// TestPolicyDeniesUnlistedHost: a CONNECT to a host on no allow list gets 403
// with a one-line reason, nothing is dialled, and the refusal is audited.
func TestPolicyDeniesUnlistedHost(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	_, opt := withPolicy(t, clauderon.Identity{Session: "s1", Allow: []clauderon.HostPattern{anthropicHost}})
	h := startProxy(t, up, nil, opt)
	_, res := h.rawConnect(t, tunnelHost+":443", basicAuth("s1", policyToken))
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("CONNECT %s: %d, want 403", tunnelHost, res.StatusCode)
	}
	if lines := strings.Count(strings.TrimSpace(string(body)), "\n"); lines != 0 || !strings.Contains(string(body), "allow list") {
		t.Fatalf("reason %q: want one line naming the allow list", body)
	}
	ev := h.audit.waitFor(t, "the denied CONNECT", func(ev clauderon.AuditEvent) bool { return ev.Host == tunnelHost })
	if ev.Decision != clauderon.DecisionDenied || ev.Status != http.StatusForbidden || !strings.Contains(ev.Error, "allow list") {
		t.Fatalf("audit %+v: want denied, 403, the reason", ev)
	}
	if n := len(up.requests()); n != 0 {
		t.Fatalf("upstream got %d requests", n)
	}
}

// TestAccessModeSwitchOnOpenConnection: one kept-alive intercepted
// connection; between two POSTs the session turns read-only. The second
// POST is refused on the same connection, audited, and never reaches the
// upstream; GET still works. Then the session is deleted: the next request
// on the same connection is refused too.
func TestAccessModeSwitchOnOpenConnection(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	secret := canary(t, "sk-ant-oat01-")
	rw := clauderon.Identity{Session: "s1", AccessMode: clauderon.AccessReadWrite, Allow: []clauderon.HostPattern{anthropicHost}}
	tokens, opt := withPolicy(t, rw)
	h := startProxy(t, up, []clauderon.Credential{{Rule: oauthRule(), Secret: clauderon.NewSecret(secret)}}, opt)

	conn, res := h.rawConnect(t, anthropicHost+":443", basicAuth("s1", policyToken))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %d", res.StatusCode)
	}
	pool := x509.NewCertPool()
	pool.AddCert(h.ca.cert)
	tc := tls.Client(conn, &tls.Config{ServerName: anthropicHost, RootCAs: pool, NextProtos: []string{"http/1.1"}})
	br := bufio.NewReader(tc)
	do := func(method string) int {
		t.Helper()
		req, _ := http.NewRequest(method, "https://"+anthropicHost+"/v1/messages", strings.NewReader("{}"))
		if err := req.Write(tc); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(br, req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if c := do("POST"); c != 200 {
		t.Fatalf("read-write POST: %d", c)
	}
	ro := rw
	ro.AccessMode = clauderon.AccessReadOnly
	tokens.Set(session.HashToken(policyToken), ro)
	if c := do("POST"); c != http.StatusForbidden {
		t.Fatalf("POST after the switch to read-only: %d, want 403", c)
	}
	if c := do("GET"); c != 200 {
		t.Fatalf("read-only GET: %d", c)
	}
	posts := 0
	for _, r := range up.requests() {
		if r.Method == "POST" {
			posts++
		}
	}
	if posts != 1 {
		t.Fatalf("upstream got %d POSTs, want 1 (the one before the switch)", posts)
	}
	h.audit.waitFor(t, "the refused POST", func(ev clauderon.AuditEvent) bool {
		return ev.Method == "POST" && ev.Decision == clauderon.DecisionDenied && strings.Contains(ev.Error, "read-only")
	})
	tokens.Remove(session.HashToken(policyToken))
	if c := do("GET"); c != http.StatusForbidden {
		t.Fatalf("GET on an open connection after the token was revoked: %d, want 403", c)
	}
	h.assertNoCanary(t, secret)
}

// TestOtherSessionNameDoesNotChangeIdentity: the user name in
// Proxy-Authorization is another session's; the token decides, so the other
// session's allow list does not apply.
func TestOtherSessionNameDoesNotChangeIdentity(t *testing.T) {
	t.Parallel()
	tokens, opt := withPolicy(t, clauderon.Identity{Session: "s1"})
	tokens.Set(session.HashToken("victim-token-0123456789abcdef"), clauderon.Identity{Session: "victim", Allow: []clauderon.HostPattern{tunnelHost}})
	h := startProxy(t, nil, nil, opt)
	_, res := h.rawConnect(t, tunnelHost+":443", basicAuth("victim", policyToken))
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("CONNECT with the victim's name and our token: %d, want 403", res.StatusCode)
	}
	_, res = h.rawConnect(t, tunnelHost+":443", basicAuth("s1", "not-"+policyToken))
	if res.StatusCode != http.StatusProxyAuthRequired {
		t.Fatalf("CONNECT with a wrong token: %d, want 407", res.StatusCode)
	}
}

// TestPrivateAddressesRefusedAfterResolution: names the policy allows but
// that resolve to loopback or private addresses are refused at connect
// time, unless the session's rule names the address; the proof that the
// refusal is the dialer's is that naming the address lets the same tunnel
// through to a real listener.
func TestPrivateAddressesRefusedAfterResolution(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 8)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			c.Close()
		}
	}()
	port := ln.Addr().(*net.TCPAddr).Port
	ports := func(c *Config) { c.ConnectPorts = []int{443, port} }
	for _, tc := range []struct {
		name  string
		addrs []netip.Prefix
		want  int
	}{
		{"no rule", nil, http.StatusForbidden},
		{"other address named", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, http.StatusForbidden},
		{"rule names loopback", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, opt := withPolicy(t, clauderon.Identity{Session: "s1", Allow: []clauderon.HostPattern{"localhost"}, AllowAddrs: tc.addrs})
			h := startProxy(t, nil, nil, opt, ports)
			conn, res := h.rawConnect(t, "localhost:"+strconv.Itoa(port), basicAuth("s1", policyToken))
			if res.StatusCode != tc.want {
				t.Fatalf("CONNECT localhost:%d: %d, want %d", port, res.StatusCode, tc.want)
			}
			conn.Close()
			if tc.want == http.StatusOK {
				<-accepted // the tunnel was dialled to the loopback listener
				return
			}
			h.audit.waitFor(t, "the refused dial", func(ev clauderon.AuditEvent) bool {
				return ev.Decision == clauderon.DecisionDenied && ev.Error == "destination address not allowed"
			})
		})
	}
}

func TestInternalAddr(t *testing.T) {
	t.Parallel()
	for addr, want := range map[string]bool{
		"127.0.0.1": true, "::1": true, "10.2.3.4": true, "172.16.0.1": true, "192.168.1.1": true,
		"169.254.169.254": true, "fe80::1": true, "fd00::2": true, "100.64.0.1": true, "0.1.2.3": true,
		"64:ff9b::a00:1": true, "::ffff:10.0.0.1": true,
		"93.184.216.34": false, "2606:4700::1111": false, "64:ff9b::5db8:d822": false,
	} {
		if got := internalAddr(netip.MustParseAddr(addr).Unmap()); got != want {
			t.Errorf("internalAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}
