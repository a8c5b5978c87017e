package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
)

// The tests below pin the HTTP/1.1 behaviour of the request loop that
// serves intercepted connections (serveConn), on the raw wire.

func connUpstream(t *testing.T) *upstream {
	return startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			w.Write(b)
		case "/stream":
			io.WriteString(w, "one,")
			http.NewResponseController(w).Flush()
			io.WriteString(w, "two")
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		default:
			io.WriteString(w, "ok "+r.URL.Path)
		}
	}))
}

// interceptedTLS opens a CONNECT to the intercepted host and completes TLS.
func interceptedTLS(t *testing.T, h *harness) (*tls.Conn, *bufio.Reader) {
	t.Helper()
	c, res := h.rawConnect(t, anthropicHost+":443", basicAuth("s1", testToken))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %s", res.Status)
	}
	tc := tls.Client(c, &tls.Config{ServerName: anthropicHost, RootCAs: h.ca.pool, NextProtos: []string{"http/1.1"}})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	return tc, bufio.NewReader(tc)
}

func connProxy(t *testing.T) *harness {
	return startProxy(t, connUpstream(t), []clauderon.Credential{
		{Rule: oauthRule(), Secret: clauderon.NewSecret(canary(t, "sk-ant-oat01-"))}})
}

func readBody(t *testing.T, res *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestInterceptedKeepAliveAndPipelining(t *testing.T) {
	t.Parallel()
	h := connProxy(t)
	tc, br := interceptedTLS(t, h)
	// Three requests in one write: answered in order on the same connection.
	var raw strings.Builder
	for _, p := range []string{"/a", "/b", "/c"} {
		raw.WriteString("GET " + p + " HTTP/1.1\r\nHost: " + anthropicHost + "\r\n\r\n")
	}
	io.WriteString(tc, raw.String())
	for _, p := range []string{"/a", "/b", "/c"} {
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := readBody(t, res); got != "ok "+p {
			t.Fatalf("got %q, want %q", got, "ok "+p)
		}
	}
	// And one more after an idle moment.
	time.Sleep(50 * time.Millisecond)
	io.WriteString(tc, "GET /d HTTP/1.1\r\nHost: "+anthropicHost+"\r\n\r\n")
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, res); got != "ok /d" {
		t.Fatalf("got %q", got)
	}
	if n := len(h.up.requests()); n != 4 {
		t.Errorf("upstream saw %d requests, want 4", n)
	}
}

func TestInterceptedExpectContinue(t *testing.T) {
	t.Parallel()
	h := connProxy(t)
	tc, br := interceptedTLS(t, h)
	io.WriteString(tc, "POST /echo HTTP/1.1\r\nHost: "+anthropicHost+"\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
	tc.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusContinue {
		t.Fatalf("got %s before the body, want 100 Continue", res.Status)
	}
	io.WriteString(tc, "hello")
	res, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, res); res.StatusCode != http.StatusOK || got != "hello" {
		t.Fatalf("got %s %q", res.Status, got)
	}
}

func TestInterceptedHeadAndNoContentKeepConnection(t *testing.T) {
	t.Parallel()
	h := connProxy(t)
	tc, br := interceptedTLS(t, h)
	io.WriteString(tc, "HEAD /x HTTP/1.1\r\nHost: "+anthropicHost+"\r\n\r\n")
	res, err := http.ReadResponse(br, &http.Request{Method: http.MethodHead})
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("HEAD: %v %v", res, err)
	}
	io.WriteString(tc, "GET /nocontent HTTP/1.1\r\nHost: "+anthropicHost+"\r\n\r\n")
	if res, err = http.ReadResponse(br, nil); err != nil || res.StatusCode != http.StatusNoContent {
		t.Fatalf("204: %v %v", res, err)
	}
	io.WriteString(tc, "GET /stream HTTP/1.1\r\nHost: "+anthropicHost+"\r\n\r\n")
	if res, err = http.ReadResponse(br, nil); err != nil {
		t.Fatal(err)
	}
	if len(res.TransferEncoding) == 0 || res.TransferEncoding[0] != "chunked" {
		t.Errorf("unknown length on HTTP/1.1: transfer encoding %v, want chunked", res.TransferEncoding)
	}
	if got := readBody(t, res); got != "one,two" {
		t.Fatalf("got %q", got)
	}
}

func TestInterceptedHTTP10AndConnectionClose(t *testing.T) {
	t.Parallel()
	h := connProxy(t)
	for _, head := range []string{
		"GET /stream HTTP/1.0\r\nHost: " + anthropicHost + "\r\n\r\n",
		"GET /stream HTTP/1.1\r\nHost: " + anthropicHost + "\r\nConnection: close\r\n\r\n",
	} {
		tc, br := interceptedTLS(t, h)
		io.WriteString(tc, head)
		tc.SetReadDeadline(time.Now().Add(10 * time.Second))
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := readBody(t, res); got != "one,two" {
			t.Fatalf("%q: got %q", head, got)
		}
		if !res.Close {
			t.Errorf("%q: response does not announce the close", head)
		}
		if _, err := br.ReadByte(); err == nil {
			t.Errorf("%q: connection still open", head)
		}
	}
}

func TestInterceptedBadRequests(t *testing.T) {
	t.Parallel()
	h := connProxy(t)
	for name, c := range map[string]struct {
		head string
		code int
	}{
		"head too large": {"GET / HTTP/1.1\r\nHost: " + anthropicHost + "\r\nX-Big: " + strings.Repeat("a", MaxHeaderBytes+8192) + "\r\n\r\n", http.StatusRequestHeaderFieldsTooLarge},
		"garbage":        {"NOT HTTP\r\n\r\n", http.StatusBadRequest},
		"no host":        {"GET / HTTP/1.1\r\n\r\n", http.StatusBadRequest},
		"bad header":     {"GET / HTTP/1.1\r\nHost: " + anthropicHost + "\r\nBad Name: x\r\n\r\n", http.StatusBadRequest},
		"misdirected":    {"GET / HTTP/1.1\r\nHost: " + openaiHost + "\r\n\r\n", http.StatusMisdirectedRequest},
	} {
		tc, br := interceptedTLS(t, h)
		go io.WriteString(tc, c.head) // the proxy may answer before reading it all
		tc.SetReadDeadline(time.Now().Add(10 * time.Second))
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.StatusCode != c.code {
			t.Errorf("%s: %s, want %d", name, res.Status, c.code)
		}
	}
	if n := len(h.up.requests()); n != 0 {
		t.Errorf("upstream saw %d requests", n)
	}
}

// TestShutdownWaitsForInterceptedRequest: an idle intercepted connection is
// closed at once, a request in flight is allowed to finish.
func TestShutdownWaitsForInterceptedRequest(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		io.WriteString(w, "done")
	}))
	h := startProxy(t, up, []clauderon.Credential{{Rule: oauthRule(), Secret: clauderon.NewSecret(canary(t, "sk-ant-oat01-"))}})
	idle, idleBR := interceptedTLS(t, h)
	io.WriteString(idle, "GET /warm HTTP/1.1\r\nHost: "+anthropicHost+"\r\n\r\n")
	if res, err := http.ReadResponse(idleBR, nil); err != nil {
		t.Fatal(err)
	} else {
		readBody(t, res)
	}
	busy, busyBR := interceptedTLS(t, h)
	io.WriteString(busy, "GET /slow HTTP/1.1\r\nHost: "+anthropicHost+"\r\n\r\n")
	for len(up.requests()) < 2 {
		time.Sleep(5 * time.Millisecond)
	}
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		done <- h.p.Shutdown(ctx)
	}()
	idle.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := idleBR.ReadByte(); err == nil {
		t.Error("idle intercepted connection still open during Shutdown")
	}
	close(release)
	busy.SetReadDeadline(time.Now().Add(10 * time.Second))
	res, err := http.ReadResponse(busyBR, nil)
	if err != nil {
		t.Fatalf("request in flight cut by Shutdown: %v", err)
	}
	if got := readBody(t, res); got != "done" {
		t.Fatalf("got %q", got)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// TestInterceptedClientGoneCancelsUpstream: an agent that gives up on a
// request the upstream is still working on (no response bytes yet) ends the
// upstream request, so a model stops generating for nobody.
func TestInterceptedClientGoneCancelsUpstream(t *testing.T) {
	t.Parallel()
	canceled := make(chan string, 2)
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
			canceled <- r.Method
		case <-time.After(30 * time.Second):
		}
	}))
	h := startProxy(t, up, []clauderon.Credential{{Rule: oauthRule(), Secret: clauderon.NewSecret(canary(t, "sk-ant-oat01-"))}})
	for i, req := range []string{
		"GET /wait HTTP/1.1\r\nHost: " + anthropicHost + "\r\n\r\n",
		"POST /wait HTTP/1.1\r\nHost: " + anthropicHost + "\r\nContent-Length: 2\r\n\r\n{}",
	} {
		tc, _ := interceptedTLS(t, h)
		io.WriteString(tc, req)
		for len(up.requests()) <= i {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(2 * goneWatchDelay)
		tc.Close()
		select {
		case <-canceled:
		case <-time.After(20 * time.Second):
			t.Fatalf("%q: the upstream request went on after the client left", req)
		}
	}
}
