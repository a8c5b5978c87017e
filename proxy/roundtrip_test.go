package proxy

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
)

// The tests below pin the proxy's own upstream client (roundtrip.go,
// upstream.go): connection reuse and its limits, recovery from connections
// the upstream closed, and what is forwarded in each direction.

// tokens authenticates several sessions, each by its own token.
type tokens map[string]clauderon.Identity

func (t tokens) Authenticate(token string) (clauderon.Identity, bool) {
	id, ok := t[token]
	return id, ok
}

func twoSessions(c *Config) {
	c.Auth = tokens{testToken: {Session: "s1"}, "token-two": {Session: "s2"}}
}

func oauthCreds(t *testing.T) []clauderon.Credential {
	return []clauderon.Credential{{Rule: oauthRule(), Secret: clauderon.NewSecret(canary(t, "sk-ant-oat01-"))}}
}

func TestUpstreamConnectionsReusedWithinASessionOnly(t *testing.T) {
	t.Parallel()
	h := startProxy(t, connUpstream(t), oauthCreds(t), twoSessions)
	one := h.client(testToken)
	for i := range 5 {
		if _, body := get(t, one, "https://"+anthropicHost+fmt.Sprintf("/r%d", i)); body != fmt.Sprintf("ok /r%d", i) {
			t.Fatalf("body %q", body)
		}
	}
	// Another client connection of the same session reuses the connection.
	if _, body := get(t, h.client(testToken), "https://"+anthropicHost+"/again"); body != "ok /again" {
		t.Fatalf("body %q", body)
	}
	got := h.up.requests()
	for _, r := range got[1:] {
		if r.RemoteAddr != got[0].RemoteAddr {
			t.Fatalf("session s1 used upstream connections %s and %s, want one", got[0].RemoteAddr, r.RemoteAddr)
		}
	}
	// Another session never gets s1's connection.
	if _, body := get(t, h.client("token-two"), "https://"+anthropicHost+"/two"); body != "ok /two" {
		t.Fatalf("body %q", body)
	}
	got = h.up.requests()
	if last := got[len(got)-1]; last.RemoteAddr == got[0].RemoteAddr {
		t.Fatalf("session s2 was given session s1's upstream connection %s", last.RemoteAddr)
	}
}

// TestUpstreamClosedIdleConnection: the upstream drops its idle connections.
// A request without a body is retried on a new connection; one with a body
// is never sent on the dead connection (the pool probes it first).
func TestUpstreamClosedIdleConnection(t *testing.T) {
	t.Parallel()
	h := connProxy(t)
	c := h.client(testToken)
	post := func(path string) string {
		t.Helper()
		res, err := c.Post("https://"+anthropicHost+path, "application/json", strings.NewReader(`{"q":1}`))
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(res.StatusCode, " ", readBody(t, res))
	}
	for _, step := range []struct {
		name string
		do   func() string
		want string
	}{
		{"GET", func() string { _, b := get(t, c, "https://"+anthropicHost+"/get"); return b }, "ok /get"},
		{"POST", func() string { return post("/echo") }, `200 {"q":1}`},
	} {
		get(t, c, "https://"+anthropicHost+"/warm") // an upstream connection goes idle
		before := len(h.up.requests())
		h.up.CloseClientConnections()
		time.Sleep(50 * time.Millisecond) // the close reaches the proxy's side
		if got := step.do(); got != step.want {
			t.Errorf("%s after the upstream closed the idle connection: %q, want %q", step.name, got, step.want)
		}
		if n := len(h.up.requests()) - before; n != 1 {
			t.Errorf("%s: the upstream saw %d requests, want 1", step.name, n)
		}
	}
	for _, ev := range h.audit.all() {
		if ev.Decision != clauderon.DecisionAllowed || ev.Status != http.StatusOK {
			t.Errorf("audit event %+v", ev)
		}
	}
}

// rawUpstream answers with bytes written by hand, after reading the request
// head (and a Content-Length body).
func rawUpstream(t *testing.T, answer func(path string, c net.Conn)) *upstream {
	return startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		c, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			t.Error(err)
			return
		}
		defer c.Close()
		brw.Flush()
		answer(r.URL.Path, c)
	}))
}

func TestUpstreamFailuresReachTheClientAsFailures(t *testing.T) {
	t.Parallel()
	secret := canary(t, "sk-ant-oat01-")
	up := rawUpstream(t, func(path string, c net.Conn) {
		switch path {
		case "/cut": // one chunk, then the connection drops: no last chunk
			io.WriteString(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n")
		case "/short": // fewer bytes than announced, past what is read whole
			fmt.Fprintf(c, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\nhello", smallBody+10)
		case "/short-small": // read whole before anything is sent: a 502
			io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")
		case "/huge-head":
			io.WriteString(c, "HTTP/1.1 200 OK\r\n")
			line := "X-Filler: " + strings.Repeat("a", 1000) + "\r\n"
			for range 200 { // 200 KiB of headers, past MaxHeaderBytes
				if _, err := io.WriteString(c, line); err != nil {
					return
				}
			}
			io.WriteString(c, "\r\n")
		case "/garbage":
			io.WriteString(c, "this is not HTTP "+secret+"\r\n\r\n")
		}
	})
	h := startProxy(t, up, []clauderon.Credential{{Rule: oauthRule(), Secret: clauderon.NewSecret(secret)}})
	c := h.client(testToken)
	for _, path := range []string{"/cut", "/short"} {
		res, err := c.Get("https://" + anthropicHost + path)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err == nil {
			t.Errorf("%s: the client read %q as a whole answer, want an error", path, b)
		}
	}
	ev := h.audit.waitFor(t, "the cut stream", func(ev clauderon.AuditEvent) bool { return ev.Path == "/cut" })
	if ev.Decision != clauderon.DecisionError || ev.Error != "upstream broke off the response" {
		t.Errorf("cut stream audited as %+v", ev)
	}
	for path, reason := range map[string]string{
		"/short-small": "upstream broke off the response",
		"/huge-head":   "upstream response head too large",
		"/garbage":     "upstream unreachable",
	} {
		res, body := get(t, c, "https://"+anthropicHost+path)
		if res.StatusCode != http.StatusBadGateway || body != "clauderon proxy: "+reason+"\n" {
			t.Errorf("%s: %d %q, want 502 %q", path, res.StatusCode, body, reason)
		}
		ev := h.audit.waitFor(t, path, func(ev clauderon.AuditEvent) bool { return ev.Path == path })
		if ev.Decision != clauderon.DecisionError || ev.Status != http.StatusBadGateway || ev.Error != reason {
			t.Errorf("%s audited as %+v", path, ev)
		}
	}
	h.assertNoCanary(t, secret)
}

// TestForwardedHeadersAndFraming: hop-by-hop headers stay on their hop, in
// both directions; a chunked request body arrives with its trailers.
func TestForwardedHeadersAndFraming(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Connection", "X-Resp-Hop")
		w.Header().Set("X-Resp-Hop", "1")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-End-To-End", "kept")
		fmt.Fprintf(w, "body=%s te=%q trailer=%q hop=%q keepalive=%q e2e=%q expect=%q ua=%q",
			b, r.Header.Get("Te"), r.Trailer.Get("X-Checksum"), r.Header.Get("X-Hop"),
			r.Header.Get("Keep-Alive"), r.Header.Get("X-End-To-End"), r.Header.Get("Expect"), r.UserAgent())
	}))
	h := startProxy(t, up, oauthCreds(t))
	tc, br := interceptedTLS(t, h)
	io.WriteString(tc, "POST /up HTTP/1.1\r\nHost: "+anthropicHost+"\r\n"+
		"Transfer-Encoding: chunked\r\nTrailer: X-Checksum\r\nTe: trailers, deflate\r\n"+
		"Connection: keep-alive, X-Hop\r\nX-Hop: secret-route\r\nKeep-Alive: timeout=9\r\n"+
		"X-End-To-End: yes\r\n\r\n"+
		"3\r\nabc\r\n2\r\nde\r\n0\r\nX-Checksum: 42\r\n\r\n")
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := `body=abcde te="trailers" trailer="42" hop="" keepalive="" e2e="yes" expect="" ua=""`
	if got := readBody(t, res); got != want {
		t.Errorf("upstream saw\n %s\nwant\n %s", got, want)
	}
	if res.Header.Get("X-Resp-Hop") != "" || res.Header.Get("Keep-Alive") != "" || res.Header.Get("X-End-To-End") != "kept" {
		t.Errorf("response headers %v", res.Header)
	}
}

// TestClientGoneMidStreamClosesUpstream: an agent that drops a streaming
// answer stops the upstream from generating it, even while the stream is
// silent (a model thinking), when no write to the client could fail.
func TestClientGoneMidStreamClosesUpstream(t *testing.T) {
	t.Parallel()
	stopped := make(chan struct{})
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, "data: 0\n\n")
		http.NewResponseController(w).Flush()
		select { // silent until the proxy lets go of the connection
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
		close(stopped)
	}))
	h := startProxy(t, up, oauthCreds(t))
	tc, br := interceptedTLS(t, h)
	io.WriteString(tc, "GET /events HTTP/1.1\r\nHost: "+anthropicHost+"\r\n\r\n")
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(res.Body).ReadString('\n')
	if err != nil || line != "data: 0\n" {
		t.Fatalf("first event %q, %v", line, err)
	}
	time.Sleep(2 * goneWatchDelay) // the proxy watches a silent exchange's client after goneWatchDelay
	tc.Close()
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("the upstream connection stayed open after the client left")
	}
	ev := h.audit.waitFor(t, "the stream", func(ev clauderon.AuditEvent) bool { return ev.Path == "/events" })
	if ev.Error != "client went away" {
		t.Errorf("audit event %+v\n%s", ev, h.logs.String())
	}
}

// TestShutdownClosesPooledUpstreamConnections: nothing of the proxy stays
// connected to an upstream after Shutdown.
func TestShutdownClosesPooledUpstreamConnections(t *testing.T) {
	t.Parallel()
	closed := make(chan struct{}, 8)
	up := startUpstreamProto(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), true,
		func(s *httptest.Server) {
			s.Config.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateClosed {
					closed <- struct{}{}
				}
			}
		})
	h := startProxy(t, up, oauthCreds(t))
	get(t, h.client(testToken), "https://"+anthropicHost+"/x")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("the pooled upstream connection is still open after Shutdown")
	}
}

// TestPlainHTTPConnectionsNotShared: plain-HTTP requests of two sessions never
// share an upstream connection either.
func TestPlainHTTPConnectionsNotShared(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var remotes []string
	plain := startPlain(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		remotes = append(remotes, r.RemoteAddr)
		mu.Unlock()
		io.WriteString(w, "plain")
	}))
	h := startProxy(t, nil, oauthCreds(t), twoSessions,
		func(c *Config) { c.Resolve = map[string]string{anthropicHost + ":80": plain} })
	for _, token := range []string{testToken, "token-two", testToken} {
		if _, body := get(t, h.client(token), "http://"+anthropicHost+"/x"); body != "plain" {
			t.Fatalf("body %q", body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if remotes[0] == remotes[1] || remotes[1] == remotes[2] {
		t.Errorf("upstream connections %v: sessions s1 and s2 shared one", remotes)
	}
}
