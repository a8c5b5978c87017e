package proxy

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/clauderon/clauderon"
)

func TestProxyAuthenticationRequired(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, okHandler("ok"))
	h := startProxy(t, up, []clauderon.Credential{{Rule: oauthRule(), Secret: clauderon.NewSecret(canary(t, "sk-ant-oat01-"))}})
	cases := []struct{ name, auth string }{
		{"none", ""},
		{"wrong token", basicAuth("s1", "not-the-token")},
		{"right user, wrong password", basicAuth("s1", testToken+"x")},
		{"token as user name", basicAuth(testToken, "")},
		{"bearer scheme", "Bearer " + testToken},
		{"garbage", "Basic !!!"},
	}
	for _, tc := range cases {
		t.Run("CONNECT/"+tc.name, func(t *testing.T) {
			_, res := h.rawConnect(t, anthropicHost+":443", tc.auth)
			if res.StatusCode != http.StatusProxyAuthRequired || res.Header.Get("Proxy-Authenticate") != `Basic realm="clauderon"` {
				t.Errorf("got %d %v", res.StatusCode, res.Header)
			}
		})
		t.Run("GET/"+tc.name, func(t *testing.T) {
			c, err := net.Dial("tcp", h.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			req, _ := http.NewRequest(http.MethodGet, "http://"+anthropicHost+"/x?q=1", nil)
			if tc.auth != "" {
				req.Header.Set("Proxy-Authorization", tc.auth)
			}
			req.WriteProxy(c)
			res, err := http.ReadResponse(bufioReader(c), req)
			if err != nil {
				t.Fatal(err)
			}
			if res.StatusCode != http.StatusProxyAuthRequired {
				t.Errorf("got %d", res.StatusCode)
			}
		})
	}
	if n := len(up.requests()); n != 0 {
		t.Errorf("upstream reached %d times without authentication", n)
	}
	ev := h.audit.waitFor(t, "407", func(ev clauderon.AuditEvent) bool { return ev.Status == 407 && ev.Method == "GET" })
	if ev.Decision != clauderon.DecisionDenied || ev.Session != "" || ev.Host != anthropicHost || ev.Path != "/x" {
		t.Errorf("407 event %+v", ev)
	}
	// A Go client whose proxy URL has the right token gets through.
	if res, _ := get(t, h.client(testToken), "https://"+anthropicHost+"/"); res.StatusCode != 200 {
		t.Errorf("authenticated request: %d", res.StatusCode)
	}
}

func TestTokenAuth(t *testing.T) {
	t.Parallel()
	a := NewTokenAuth("tok", clauderon.Identity{Session: "s"})
	if id, ok := a.Authenticate("tok"); !ok || id.Session != "s" {
		t.Errorf("right token refused")
	}
	for _, bad := range []string{"", "to", "tok ", "TOK", "tokk"} {
		if _, ok := a.Authenticate(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, ok := NewTokenAuth("", clauderon.Identity{}).Authenticate(""); ok {
		t.Errorf("empty token accepted")
	}
}

func TestNewRequiresCollaborators(t *testing.T) {
	t.Parallel()
	ca := mustCA(t, "ca")
	full := Config{GetCertificate: ca.getCertificate(), Auth: NewTokenAuth("t", clauderon.Identity{}),
		Credentials: func() *clauderon.CredentialSet { return nil }, Audit: newMemAudit()}
	if _, err := New(full); err != nil {
		t.Fatal(err)
	}
	for name, breakIt := range map[string]func(*Config){
		"no auth":        func(c *Config) { c.Auth = nil },
		"no certs":       func(c *Config) { c.GetCertificate = nil },
		"no credentials": func(c *Config) { c.Credentials = nil },
		"no audit":       func(c *Config) { c.Audit = nil },
		"bad port":       func(c *Config) { c.ConnectPorts = []int{0} },
		"bad resolve":    func(c *Config) { c.Resolve = map[string]string{"host": "1.2.3.4:1"} },
	} {
		c := full
		breakIt(&c)
		if _, err := New(c); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestConnectRefusals(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, okHandler("ok"))
	h := startProxy(t, up, []clauderon.Credential{{Rule: oauthRule(), Secret: clauderon.NewSecret(canary(t, "sk-ant-oat01-"))}})
	cases := []struct {
		authority string
		status    int
		decision  string
	}{
		{anthropicHost + ":8443", http.StatusForbidden, clauderon.DecisionDenied},
		{tunnelHost + ":22", http.StatusForbidden, clauderon.DecisionDenied},
		{"localhost:443", http.StatusForbidden, clauderon.DecisionDenied}, // the host's loopback
		{"169.254.169.254:443", http.StatusForbidden, clauderon.DecisionDenied},
		{"user@" + anthropicHost + ":443", http.StatusBadRequest, clauderon.DecisionDenied},
		{anthropicHost, http.StatusBadRequest, clauderon.DecisionDenied},
	}
	for _, tc := range cases {
		t.Run(tc.authority, func(t *testing.T) {
			_, res := h.rawConnect(t, tc.authority, basicAuth("s1", testToken))
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != tc.status {
				t.Errorf("got %d %s", res.StatusCode, body)
			}
			// net/http itself refuses a Host with userinfo, before the proxy sees it.
			ours := strings.HasPrefix(string(body), "clauderon proxy: ") && strings.Count(string(body), "\n") == 1
			if !ours && !strings.Contains(tc.authority, "@") {
				t.Errorf("body %q: want one line from the proxy", body)
			}
		})
	}
	ev := h.audit.waitFor(t, "port refusal", func(ev clauderon.AuditEvent) bool { return ev.Host == tunnelHost })
	if ev.Decision != clauderon.DecisionDenied || ev.Status != 403 || ev.Session != "s1" || ev.Method != "CONNECT" {
		t.Errorf("refusal event %+v", ev)
	}
}

func TestConfiguredConnectPorts(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, okHandler("ok"))
	h := startProxy(t, up, nil, func(c *Config) { c.ConnectPorts = []int{443, 8443} })
	if res, body := get(t, h.client(testToken, up.ca), "https://"+tunnelHost+":8443/"); res.StatusCode != 200 || body != "ok" {
		t.Errorf("CONNECT to a configured port: %d %q", res.StatusCode, body)
	}
}

func TestUpstreamUnreachable(t *testing.T) {
	t.Parallel()
	secret := canary(t, "sk-ant-oat01-")
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := ln.Addr().String()
	ln.Close()
	h := startProxy(t, nil, []clauderon.Credential{{Rule: oauthRule(), Secret: clauderon.NewSecret(secret)}},
		func(c *Config) {
			c.Resolve = map[string]string{anthropicHost + ":443": dead, tunnelHost + ":443": dead}
		})
	res, body := get(t, h.client(testToken), "https://"+anthropicHost+"/v1/messages?k=v")
	if res.StatusCode != http.StatusBadGateway || strings.Contains(body, secret) || strings.Contains(body, dead) {
		t.Errorf("got %d %q", res.StatusCode, body)
	}
	ev := h.audit.waitFor(t, "502", func(ev clauderon.AuditEvent) bool { return ev.Method == "GET" })
	if ev.Decision != clauderon.DecisionError || ev.Status != 502 || ev.Error == "" || ev.Path != "/v1/messages" {
		t.Errorf("502 event %+v", ev)
	}
	_, res2 := h.rawConnect(t, tunnelHost+":443", basicAuth("s1", testToken))
	if res2.StatusCode != http.StatusBadGateway {
		t.Errorf("tunnel to a dead upstream: %d", res2.StatusCode)
	}
	h.assertNoCanary(t, secret)
}

func TestPolicyHook(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, okHandler("ok"))
	var sawSession string
	h := startProxy(t, up, []clauderon.Credential{{Rule: oauthRule(), Secret: clauderon.NewSecret(canary(t, "sk-ant-oat01-"))}},
		func(c *Config) {
			c.Policy = func(_ context.Context, id clauderon.Identity, r *http.Request) error {
				sawSession = id.Session
				if r.Method == http.MethodDelete {
					return clauderon.Errorf(clauderon.EFORBIDDEN, "session %s is read-only\nsecond line", id.Session)
				}
				return nil
			}
		})
	c := h.client(testToken)
	req, _ := http.NewRequest(http.MethodDelete, "https://"+anthropicHost+"/v1/files/1", nil)
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden || string(body) != "clauderon proxy: session s1 is read-only\n" {
		t.Errorf("got %d %q", res.StatusCode, body)
	}
	if res, _ := get(t, c, "https://"+anthropicHost+"/v1/files/1"); res.StatusCode != 200 {
		t.Errorf("allowed request: %d", res.StatusCode)
	}
	if sawSession != "s1" {
		t.Errorf("policy saw session %q", sawSession)
	}
	if got := up.requests(); len(got) != 1 || got[0].Method != "GET" {
		t.Errorf("upstream got %+v", got)
	}
	ev := h.audit.waitFor(t, "policy refusal", func(ev clauderon.AuditEvent) bool { return ev.Method == "DELETE" })
	if ev.Decision != clauderon.DecisionDenied || ev.Status != 403 || ev.Error != "session s1 is read-only" || ev.AuthInjected {
		t.Errorf("policy event %+v", ev)
	}
}

// TestShutdownClosesHijackedConnections: a stream in flight and an open
// tunnel end when Shutdown's context is already done.
func TestShutdownClosesHijackedConnections(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{}, 1)
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "event: start\n\n")
		http.NewResponseController(w).Flush()
		started <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	h := startProxy(t, up, []clauderon.Credential{{Rule: oauthRule(), Secret: clauderon.NewSecret(canary(t, "sk-ant-oat01-"))}})
	res, err := h.client(testToken).Get("https://" + anthropicHost + "/v1/messages")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	<-started
	tunnel, cres := h.rawConnect(t, tunnelHost+":443", basicAuth("s1", testToken))
	if cres.StatusCode != 200 {
		t.Fatalf("CONNECT: %d", cres.StatusCode)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h.p.Shutdown(ctx)
	if _, err := io.ReadAll(res.Body); err == nil {
		t.Errorf("stream still open after Shutdown")
	}
	if _, err := tunnel.Read(make([]byte, 1)); err == nil {
		t.Errorf("tunnel still open after Shutdown")
	}
}
