package proxy

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/internal/testutil"
)

// testCA is a throwaway certificate authority: one plays the clauderon CA
// (clients trust it), another the public PKI (the proxy trusts it upstream).
type testCA struct {
	cert   *x509.Certificate
	key    *ecdsa.PrivateKey
	pool   *x509.CertPool
	pem    []byte
	leaves sync.Map // name -> *tls.Certificate
}

func mustCA(tb testing.TB, name string) *testCA {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool,
		pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// leaf mints a certificate for names (host names or IP literals).
func (ca *testCA) leaf(tb testing.TB, names ...string) tls.Certificate {
	tb.Helper()
	c, err := ca.mint(names...)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func (ca *testCA) mint(names ...string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: names[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

// getCertificate is what package pki provides: a leaf per SNI name. It runs
// on the proxy's goroutines, so it returns errors instead of failing a test.
func (ca *testCA) getCertificate() func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return func(h *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if c, ok := ca.leaves.Load(h.ServerName); ok {
			return c.(*tls.Certificate), nil
		}
		c, err := ca.mint(h.ServerName)
		if err != nil {
			return nil, err
		}
		ca.leaves.Store(h.ServerName, &c)
		return &c, nil
	}
}

// memAudit collects audit events in memory.
type memAudit struct {
	mu     sync.Mutex
	events []clauderon.AuditEvent
	notify chan struct{}
}

func newMemAudit() *memAudit { return &memAudit{notify: make(chan struct{}, 1)} }

func (a *memAudit) Record(ev clauderon.AuditEvent) {
	a.mu.Lock()
	a.events = append(a.events, ev)
	a.mu.Unlock()
	select {
	case a.notify <- struct{}{}:
	default:
	}
}

func (a *memAudit) all() []clauderon.AuditEvent {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]clauderon.AuditEvent(nil), a.events...)
}

// waitFor returns the first event matching pred. Events are written when an
// exchange ends, which may be just after the client saw the response, so it
// waits; the deadline only turns a missing event into a failure.
func (a *memAudit) waitFor(tb testing.TB, what string, pred func(clauderon.AuditEvent) bool) clauderon.AuditEvent {
	tb.Helper()
	deadline := time.After(10 * time.Second)
	for {
		for _, ev := range a.all() {
			if pred(ev) {
				return ev
			}
		}
		select {
		case <-a.notify:
		case <-deadline:
			tb.Fatalf("no audit event for %s; have %+v", what, a.all())
		}
	}
}

// Hosts the upstream pretends to be. The proxy's Resolve map sends them all to
// the httptest server.
const (
	anthropicHost = "api.anthropic.com"
	openaiHost    = "api.openai.com"
	tunnelHost    = "tunnel.test" // no rule: tunnelled
	testToken     = "session-token-0123456789"
	oauthPH       = "sk-ant-oat01-clauderon-proxy-placeholder"
	apiKeyPH      = "clauderon-proxy-placeholder-anthropic-api-key"
	openaiPH      = "clauderon-proxy-placeholder-openai"
)

func canary(tb testing.TB, prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	return prefix + "CANARY-" + hex.EncodeToString(b)
}

func oauthRule() clauderon.Rule {
	return clauderon.Rule{Name: "anthropic-oauth", Hosts: []clauderon.HostPattern{anthropicHost},
		Header: "Authorization", Template: "Bearer ${secret}", Strip: []string{"Authorization", "X-Api-Key"},
		Placeholder: oauthPH}
}

func apiKeyRule() clauderon.Rule {
	return clauderon.Rule{Name: "anthropic-api-key", Hosts: []clauderon.HostPattern{anthropicHost},
		Header: "X-Api-Key", Template: "${secret}", Strip: []string{"Authorization", "X-Api-Key"},
		Placeholder: apiKeyPH}
}

func openaiRule() clauderon.Rule {
	return clauderon.Rule{Name: "openai", Hosts: []clauderon.HostPattern{openaiHost},
		Header: "Authorization", Template: "Bearer ${secret}", Strip: []string{"Authorization"},
		Placeholder: openaiPH}
}

// received is what the upstream saw of one request.
type received struct {
	Method, Host, Path, RawQuery string
	Proto                        int
	Header                       http.Header
	TLSServerName                string
	RemoteAddr                   string // tells the upstream connections apart
}

// upstream is an httptest TLS server (HTTP/2 enabled) with a certificate for
// the test hosts, signed by the "public" CA, that records every request.
type upstream struct {
	*httptest.Server
	ca  *testCA
	mu  sync.Mutex
	got []received
}

func startUpstream(tb testing.TB, h http.Handler) *upstream {
	tb.Helper()
	return startUpstreamProto(tb, h, true)
}

func startUpstreamProto(tb testing.TB, h http.Handler, h2 bool, opts ...func(*httptest.Server)) *upstream {
	tb.Helper()
	u := &upstream{ca: mustCA(tb, "public test CA")}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := received{Method: r.Method, Host: r.Host, Path: r.URL.Path, RawQuery: r.URL.RawQuery,
			Proto: r.ProtoMajor, Header: r.Header.Clone(), RemoteAddr: r.RemoteAddr}
		if r.TLS != nil {
			rec.TLSServerName = r.TLS.ServerName
		}
		u.mu.Lock()
		u.got = append(u.got, rec)
		u.mu.Unlock()
		h.ServeHTTP(w, r)
	}))
	srv.EnableHTTP2 = h2
	for _, o := range opts {
		o(srv)
	}
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{
		u.ca.leaf(tb, anthropicHost, openaiHost, tunnelHost, "127.0.0.1")}}
	srv.StartTLS()
	tb.Cleanup(srv.Close)
	u.Server = srv
	return u
}

func (u *upstream) requests() []received {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]received(nil), u.got...)
}

// harness is a running proxy with its collaborators.
type harness struct {
	p       *Proxy
	addr    string // proxy listener, 127.0.0.1:PORT
	ca      *testCA
	caFile  string
	audit   *memAudit
	logs    *testutil.SyncBuffer
	creds   atomic.Pointer[clauderon.CredentialSet]
	up      *upstream
	session string
}

type harnessOpt func(*Config)

// startProxy runs a proxy whose Resolve map points every test host at up.
func startProxy(tb testing.TB, up *upstream, creds []clauderon.Credential, opts ...harnessOpt) *harness {
	tb.Helper()
	h := &harness{ca: mustCA(tb, "clauderon test CA"), audit: newMemAudit(), logs: &testutil.SyncBuffer{}, up: up, session: "s1"}
	h.creds.Store(clauderon.NewCredentialSet(creds))
	h.caFile = filepath.Join(tb.TempDir(), "ca.pem")
	if err := os.WriteFile(h.caFile, h.ca.pem, 0o600); err != nil {
		tb.Fatal(err)
	}
	resolve := map[string]string{}
	if up != nil {
		addr := up.Listener.Addr().String()
		for _, host := range []string{anthropicHost, openaiHost, tunnelHost, "127.0.0.1"} {
			resolve[host+":443"] = addr
			resolve[host+":8443"] = addr
		}
	}
	cfg := Config{
		GetCertificate: h.ca.getCertificate(),
		Auth:           NewTokenAuth(testToken, clauderon.Identity{Session: h.session}),
		Credentials:    func() *clauderon.CredentialSet { return h.creds.Load() },
		Audit:          h.audit,
		Resolve:        resolve,
		Logger:         slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if up != nil {
		cfg.UpstreamRoots = up.ca.pool
	}
	for _, o := range opts {
		o(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	h.p, h.addr = p, ln.Addr().String()
	done := make(chan error, 1)
	go func() { done <- p.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		p.Shutdown(ctx)
		if err := <-done; err != nil {
			tb.Errorf("Serve: %v", err)
		}
	})
	return h
}

func (h *harness) proxyURL(user, token string) *url.URL {
	return &url.URL{Scheme: "http", User: url.UserPassword(user, token), Host: h.addr}
}

// client is an agent's HTTP client: proxy URL with the session token, the
// clauderon CA trusted (plus extra roots, for tunnelled hosts).
func (h *harness) client(token string, extra ...*testCA) *http.Client {
	pool := x509.NewCertPool()
	pool.AddCert(h.ca.cert)
	for _, ca := range extra {
		pool.AddCert(ca.cert)
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:           http.ProxyURL(h.proxyURL(h.session, token)),
			TLSClientConfig: &tls.Config{RootCAs: pool},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       30 * time.Second,
	}
}

// rawConnect opens a TCP connection to the proxy and sends a CONNECT.
func (h *harness) rawConnect(tb testing.TB, authority, proxyAuth string) (net.Conn, *http.Response) {
	tb.Helper()
	c, err := net.Dial("tcp", h.addr)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(20 * time.Second))
	req := "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n"
	if proxyAuth != "" {
		req += "Proxy-Authorization: " + proxyAuth + "\r\n"
	}
	if _, err := c.Write([]byte(req + "\r\n")); err != nil {
		tb.Fatal(err)
	}
	res, err := http.ReadResponse(bufio.NewReader(c), &http.Request{Method: http.MethodConnect})
	if err != nil {
		tb.Fatal(err)
	}
	return c, res
}

// assertNoCanary fails if secret appears anywhere the proxy writes to.
func (h *harness) assertNoCanary(tb testing.TB, secret string) {
	tb.Helper()
	if strings.Contains(h.logs.String(), secret) {
		tb.Errorf("secret in the proxy's log output")
	}
	for _, ev := range h.audit.all() {
		if strings.Contains(strings.Join([]string{ev.Host, ev.Path, ev.Error, ev.Rule, ev.Method, ev.Session}, " "), secret) {
			tb.Errorf("secret in audit event %+v", ev)
		}
	}
}

func basicAuth(user, token string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+token))
}

func bufioReader(r io.Reader) *bufio.Reader { return bufio.NewReader(r) }

// startPlain runs a plain-HTTP upstream and returns its address.
func startPlain(tb testing.TB, h http.Handler) string {
	tb.Helper()
	srv := httptest.NewServer(h)
	tb.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// sampleHeap samples the heap in use every interval until the returned func
// is called; that func returns the peak.
func sampleHeap(interval time.Duration) (stop func() uint64) {
	var mu sync.Mutex
	var peak uint64
	done, sampled := make(chan struct{}), make(chan struct{})
	runtime.GC() // the garbage of tests before is not this one's heap
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			mu.Lock()
			peak = max(peak, ms.HeapInuse)
			mu.Unlock()
			select {
			case <-done:
				return
			case <-time.After(interval):
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-sampled
		mu.Lock()
		defer mu.Unlock()
		return peak
	}
}

// dialWebSocket opens a WebSocket to openaiHost's path through the proxy, as
// an agent would (placeholder in Authorization); it is closed at the end of
// the test. The 101 response is returned with it.
func dialWebSocket(t *testing.T, ctx context.Context, h *harness, path string, opts websocket.DialOptions) (*websocket.Conn, *http.Response) {
	t.Helper()
	opts.HTTPClient = h.client(testToken)
	opts.HTTPHeader = http.Header{"Authorization": {"Bearer " + openaiPH}}
	c, res, err := websocket.Dial(ctx, "wss://"+openaiHost+path, &opts)
	if err != nil {
		t.Fatalf("dial: %v (%v)", err, res)
	}
	t.Cleanup(func() { c.CloseNow() })
	return c, res
}

// loopbackPair returns the two ends of a loopback TCP connection, the one
// dialled and the one accepted, both closed when the test ends.
func loopbackPair(t *testing.T) (dialed, accepted net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		got <- c
	}()
	dialed, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dialed.Close() })
	if accepted = <-got; accepted == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { accepted.Close() })
	return dialed, accepted
}
