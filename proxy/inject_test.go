package proxy

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptrace"
	"os/exec"
	"strings"
	"testing"

	"github.com/clauderon/clauderon"
)

func okHandler(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, body)
	})
}

// get sends a request the way Claude Code does, placeholder credential and all.
func get(t *testing.T, c *http.Client, url string, hdr ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(b)
}

func TestInjectsCredentialForItsHost(t *testing.T) {
	t.Parallel()
	oauth, key := canary(t, "sk-ant-oat01-"), canary(t, "sk-ant-api03-")
	cases := []struct {
		name       string
		creds      []clauderon.Credential
		wantHeader string
		wantValue  string
		absent     string
		wantRule   string
	}{
		{"oauth token as Bearer", []clauderon.Credential{{Rule: oauthRule(), Secret: clauderon.NewSecret(oauth)}},
			"Authorization", "Bearer " + oauth, "X-Api-Key", "anthropic-oauth"},
		{"api key as x-api-key", []clauderon.Credential{{Rule: apiKeyRule(), Secret: clauderon.NewSecret(key)}},
			"X-Api-Key", key, "Authorization", "anthropic-api-key"},
		{"oauth wins over api key", []clauderon.Credential{
			{Rule: oauthRule(), Secret: clauderon.NewSecret(oauth)},
			{Rule: apiKeyRule(), Secret: clauderon.NewSecret(key)}},
			"Authorization", "Bearer " + oauth, "X-Api-Key", "anthropic-oauth"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up := startUpstream(t, okHandler(`{"ok":true}`))
			h := startProxy(t, up, tc.creds)
			res, body := get(t, h.client(testToken), "https://"+anthropicHost+"/v1/messages?beta=true&key=q",
				"Authorization", "Bearer "+oauthPH, "X-Api-Key", apiKeyPH, "Accept-Encoding", "gzip")
			if res.StatusCode != 200 || body != `{"ok":true}` {
				t.Fatalf("got %d %q", res.StatusCode, body)
			}
			got := up.requests()
			if len(got) != 1 {
				t.Fatalf("upstream got %d requests", len(got))
			}
			r := got[0]
			if v := r.Header.Get(tc.wantHeader); v != tc.wantValue {
				t.Errorf("upstream %s = %q, want the real credential", tc.wantHeader, v)
			}
			if v := r.Header.Values(tc.wantHeader); len(v) != 1 {
				t.Errorf("upstream %s has %d values", tc.wantHeader, len(v))
			}
			if v := r.Header.Get(tc.absent); v != "" {
				t.Errorf("upstream %s = %q, want it stripped", tc.absent, v)
			}
			for k, vs := range r.Header {
				for _, v := range vs {
					if strings.Contains(v, "placeholder") {
						t.Errorf("upstream saw placeholder in %s", k)
					}
				}
			}
			if r.Header.Get("Proxy-Authorization") != "" || r.Header.Get("Accept-Encoding") != "" {
				t.Errorf("upstream saw proxy or encoding headers: %v", r.Header)
			}
			if r.Host != anthropicHost || r.TLSServerName != anthropicHost || r.Path != "/v1/messages" || r.RawQuery != "beta=true&key=q" {
				t.Errorf("upstream request %+v", r)
			}
			if r.Proto != 1 {
				t.Errorf("upstream spoke HTTP/%d, want HTTP/1.1 (what agents speak) even when h2 is offered", r.Proto)
			}
			ev := h.audit.waitFor(t, "the request", func(ev clauderon.AuditEvent) bool { return ev.Method == "GET" })
			want := clauderon.AuditEvent{Session: "s1", Method: "GET", Host: anthropicHost, Path: "/v1/messages",
				Status: 200, AuthInjected: true, Rule: tc.wantRule, BytesDown: int64(len(body)), Decision: clauderon.DecisionAllowed}
			ev.Time, ev.DurationMS = want.Time, 0
			if ev != want {
				t.Errorf("audit event\n got %+v\nwant %+v", ev, want)
			}
			h.assertNoCanary(t, oauth)
			h.assertNoCanary(t, key)
		})
	}
}

func TestHostWithoutRuleIsTunnelled(t *testing.T) {
	t.Parallel()
	secret := canary(t, "sk-ant-oat01-")
	up := startUpstream(t, okHandler("tunnelled"))
	h := startProxy(t, up, []clauderon.Credential{{Rule: oauthRule(), Secret: clauderon.NewSecret(secret)}})
	// The client trusts the upstream's own CA: a tunnel shows the real certificate.
	c := h.client(testToken, up.ca)
	var peer string
	c.Transport.(*http.Transport).TLSClientConfig.VerifyConnection = func(cs tls.ConnectionState) error {
		peer = cs.PeerCertificates[0].Issuer.CommonName
		return nil
	}
	res, body := get(t, c, "https://"+tunnelHost+"/x?secret=1", "Authorization", "Bearer "+oauthPH)
	if res.StatusCode != 200 || body != "tunnelled" {
		t.Fatalf("got %d %q", res.StatusCode, body)
	}
	if peer != "public test CA" {
		t.Errorf("client saw a certificate from %q: the connection was intercepted", peer)
	}
	if got := up.requests()[0].Header.Get("Authorization"); got != "Bearer "+oauthPH {
		t.Errorf("tunnelled request was altered: Authorization %q", got)
	}
	c.CloseIdleConnections() // ends the tunnel, which writes its event
	ev := h.audit.waitFor(t, "the tunnel", func(ev clauderon.AuditEvent) bool { return ev.Method == "CONNECT" })
	if ev.Decision != clauderon.DecisionTunnelled || ev.Host != tunnelHost || ev.Status != 200 ||
		ev.BytesUp == 0 || ev.BytesDown == 0 || ev.AuthInjected || ev.Path != "" || ev.Session != "s1" {
		t.Errorf("tunnel event %+v", ev)
	}
}

func TestIPLiteralIsNeverIntercepted(t *testing.T) {
	t.Parallel()
	secret := canary(t, "sk-ant-oat01-")
	rule := oauthRule()
	rule.Hosts = []clauderon.HostPattern{"127.0.0.1"} // unparseable as a pattern; a bug elsewhere must not matter
	up := startUpstream(t, okHandler("ip"))
	h := startProxy(t, up, []clauderon.Credential{{Rule: rule, Secret: clauderon.NewSecret(secret)}})
	res, _ := get(t, h.client(testToken, up.ca), "https://127.0.0.1/")
	if res.StatusCode != 200 {
		t.Fatalf("status %d", res.StatusCode)
	}
	if got := up.requests()[0].Header.Get("Authorization"); got != "" {
		t.Errorf("credential injected on an IP literal")
	}
}

func TestMisdirectedRequestRefused(t *testing.T) {
	t.Parallel()
	secret := canary(t, "sk-ant-oat01-")
	up := startUpstream(t, okHandler("no"))
	h := startProxy(t, up, []clauderon.Credential{
		{Rule: oauthRule(), Secret: clauderon.NewSecret(secret)},
		{Rule: openaiRule(), Secret: clauderon.NewSecret(canary(t, "sk-"))}})

	t.Run("Host differs from CONNECT and SNI", func(t *testing.T) {
		req, _ := http.NewRequest(http.MethodGet, "https://"+anthropicHost+"/v1/models", nil)
		req.Host = openaiHost
		res, err := h.client(testToken).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("status %d, want 421", res.StatusCode)
		}
	})
	t.Run("SNI differs from CONNECT and Host", func(t *testing.T) {
		c, res := h.rawConnect(t, anthropicHost+":443", basicAuth("s1", testToken))
		if res.StatusCode != 200 {
			t.Fatalf("CONNECT: %d", res.StatusCode)
		}
		tc := tls.Client(c, &tls.Config{ServerName: openaiHost, RootCAs: h.ca.pool, NextProtos: []string{"http/1.1"}})
		req, _ := http.NewRequest(http.MethodGet, "https://"+anthropicHost+"/v1/models", nil)
		if err := req.Write(tc); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufioReader(tc), req)
		if err != nil {
			t.Fatal(err)
		}
		if res.StatusCode != http.StatusMisdirectedRequest {
			t.Errorf("status %d, want 421", res.StatusCode)
		}
	})
	if n := len(up.requests()); n != 0 {
		t.Errorf("upstream got %d requests", n)
	}
	for i := 0; i < 2; i++ {
		ev := h.audit.waitFor(t, "421s", func(ev clauderon.AuditEvent) bool { return ev.Status == 421 })
		if ev.Decision != clauderon.DecisionDenied || ev.AuthInjected || ev.Host != anthropicHost {
			t.Errorf("421 event %+v", ev)
		}
	}
	h.assertNoCanary(t, secret)
}

func TestRedirectPassedThrough(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "https://"+anthropicHost+"/elsewhere", http.StatusFound)
	}))
	h := startProxy(t, up, []clauderon.Credential{{Rule: oauthRule(), Secret: clauderon.NewSecret(canary(t, "sk-ant-oat01-"))}})
	res, _ := get(t, h.client(testToken), "https://"+anthropicHost+"/start")
	if res.StatusCode != http.StatusFound || res.Header.Get("Location") != "https://"+anthropicHost+"/elsewhere" {
		t.Errorf("got %d Location %q", res.StatusCode, res.Header.Get("Location"))
	}
	if got := up.requests(); len(got) != 1 || got[0].Path != "/start" {
		t.Errorf("upstream requests %+v: the proxy followed the redirect", got)
	}
}

func TestCredentialSwapOnOpenConnection(t *testing.T) {
	t.Parallel()
	first, second := canary(t, "sk-ant-oat01-"), canary(t, "sk-ant-oat01-")
	up := startUpstream(t, okHandler("ok"))
	h := startProxy(t, up, []clauderon.Credential{{Rule: oauthRule(), Secret: clauderon.NewSecret(first)}})
	c := h.client(testToken)
	reused := make([]bool, 0, 2)
	for _, swap := range []bool{false, true} {
		if swap {
			h.creds.Store(clauderon.NewCredentialSet([]clauderon.Credential{{Rule: oauthRule(), Secret: clauderon.NewSecret(second)}}))
		}
		req, _ := http.NewRequest(http.MethodGet, "https://"+anthropicHost+"/v1/models", nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { reused = append(reused, i.Reused) }}))
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
	}
	if len(reused) != 2 || !reused[1] {
		t.Fatalf("second request did not reuse the connection: %v", reused)
	}
	got := up.requests()
	if got[0].Header.Get("Authorization") != "Bearer "+first || got[1].Header.Get("Authorization") != "Bearer "+second {
		t.Errorf("credentials after swap: %q then %q", got[0].Header.Get("Authorization"), got[1].Header.Get("Authorization"))
	}
}

func TestPlainHTTPForwardedWithoutInjection(t *testing.T) {
	t.Parallel()
	secret := canary(t, "sk-ant-oat01-")
	var gotAuth, gotProxyAuth, gotHost string
	plain := startPlain(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotProxyAuth, gotHost = r.Header.Get("Authorization"), r.Header.Get("Proxy-Authorization"), r.Host
		io.WriteString(w, "plain")
	}))
	h := startProxy(t, nil, []clauderon.Credential{{Rule: oauthRule(), Secret: clauderon.NewSecret(secret)}},
		func(c *Config) { c.Resolve = map[string]string{anthropicHost + ":80": plain} })
	res, body := get(t, h.client(testToken), "http://"+anthropicHost+"/v1/models?token=abc", "Authorization", "Bearer "+oauthPH)
	if res.StatusCode != 200 || body != "plain" {
		t.Fatalf("got %d %q", res.StatusCode, body)
	}
	if gotAuth != "Bearer "+oauthPH || gotProxyAuth != "" || gotHost != anthropicHost {
		t.Errorf("upstream saw Authorization %q, Proxy-Authorization %q, Host %q", gotAuth, gotProxyAuth, gotHost)
	}
	ev := h.audit.waitFor(t, "plain request", func(ev clauderon.AuditEvent) bool { return ev.Method == "GET" })
	if ev.AuthInjected || ev.Decision != clauderon.DecisionAllowed || ev.Path != "/v1/models" || ev.Host != anthropicHost || ev.Status != 200 {
		t.Errorf("plain event %+v", ev)
	}
}

func TestCurl(t *testing.T) {
	t.Parallel()
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Fatal("curl is required: apt-get install curl")
	}
	secret := canary(t, "sk-ant-oat01-")
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "you sent "+r.Header.Get("Authorization"))
	}))
	h := startProxy(t, up, []clauderon.Credential{{Rule: oauthRule(), Secret: clauderon.NewSecret(secret)}})
	run := func(token string) (string, error) {
		out, err := exec.Command(curl, "-sS", "--max-time", "20", "-w", " %{http_code}",
			"--proxy", "http://s1:"+token+"@"+h.addr, "--cacert", h.caFile,
			"-H", "Authorization: Bearer "+oauthPH, "https://"+anthropicHost+"/v1/messages?beta=true").CombinedOutput()
		return string(out), err
	}
	out, err := run(testToken)
	if err != nil {
		t.Fatalf("curl: %v: %s", err, out)
	}
	if out != "you sent Bearer "+oauthPH+" 200" {
		t.Errorf("curl got %q: the echoed secret must come back as the placeholder", out)
	}
	if got := up.requests()[0].Header.Get("Authorization"); got != "Bearer "+secret {
		t.Errorf("upstream saw %q", got)
	}
	out, err = run("wrong")
	if err == nil || !strings.Contains(out, "407") {
		t.Errorf("curl with a wrong token: %v %q, want a 407 failure", err, out)
	}
	h.assertNoCanary(t, secret)
}
