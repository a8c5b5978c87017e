package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A target is one way of reaching the upstream: directly, or through one of
// the proxies, each running as its own process.
type target struct {
	name  string
	proxy *url.URL // nil for the direct connection
	// tunnel: the client speaks TLS end to end with the upstream through
	// the proxy's opaque CONNECT tunnel, and sends the secret itself.
	tunnel bool
	roots  *x509.CertPool
	proc   *exec.Cmd // the proxy's process, for its resident memory
	env    *benchEnv
}

// benchEnv is what every target shares.
type benchEnv struct {
	dir       string // scratch directory
	up        *upstream
	secret    string
	token     string
	clauderon string // path of the clauderon binary
	baseline  string // another clauderon binary to compare with, or ""
	self      string // path of this binary, for the goproxy subcommand
	logs      *os.File
}

// A kind starts one target.
type kind struct {
	name  string
	start func(ctx context.Context, e *benchEnv) (*target, error)
}

var kinds = []kind{
	{"direct", startDirect},
	{"clauderon", startClauderon},
	{"tunnel", startTunnel},
	{"mitmproxy", startMitmdump},
	{"goproxy", startGoproxy},
}

func startDirect(_ context.Context, e *benchEnv) (*target, error) {
	return &target{name: "direct", roots: e.up.caPool, env: e}, nil
}

// startClauderon runs the real `clauderon proxy` binary, configured as a user
// would: a [[rule]] for the upstream host, --resolve to loopback and the
// upstream's CA trusted. Its audit log is written to its home as usual.
func startClauderon(ctx context.Context, e *benchEnv) (*target, error) {
	return startClauderonBin(ctx, e, "clauderon", e.clauderon)
}

// startBaseline runs -baseline, another clauderon binary (say, the previous
// commit's), so that a change is measured against its baseline in the same
// run, under the same load.
func startBaseline(ctx context.Context, e *benchEnv) (*target, error) {
	return startClauderonBin(ctx, e, "baseline", e.baseline)
}

// startTunnel runs clauderon too, but the client CONNECTs to a host without
// a credential, which clauderon relays as opaque bytes (splice(2), no TLS
// termination): the cost of one more process on the path and nothing else,
// the floor under any proxy's figures.
func startTunnel(ctx context.Context, e *benchEnv) (*target, error) {
	t, err := startClauderonBin(ctx, e, "tunnel", e.clauderon)
	if err != nil {
		return nil, err
	}
	t.tunnel, t.roots = true, e.up.caPool
	return t, nil
}

func startClauderonBin(ctx context.Context, e *benchEnv, name, bin string) (*target, error) {
	home := filepath.Join(e.dir, name+"-home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	upCA := filepath.Join(e.dir, "upstream-ca.pem")
	conf := fmt.Sprintf(`connect_ports = [%d]
resolve = ["%s:%d=%s", "127.0.0.1:%d=%s"]
upstream_ca = [%q]

[[rule]]
name = "bench"
host = %q
header = %q
value = "${secret}"
secret = "env:BENCH_SECRET"
`, e.up.port, benchHost, e.up.port, e.up.addr, e.up.port, e.up.addr, upCA, benchHost, secretHeader)
	if err := os.WriteFile(filepath.Join(home, "config.toml"), []byte(conf), 0o600); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--home", home, "proxy", "--session-token", e.token,
		"--session-name", "bench", "--listen", addr, "--log-level", "warn")
	cmd.Env = append(os.Environ(), "BENCH_SECRET="+e.secret)
	t := &target{name: name, proc: cmd, env: e,
		proxy: &url.URL{Scheme: "http", User: url.UserPassword("bench", e.token), Host: addr}}
	if err := t.launch(ctx, addr); err != nil {
		return nil, err
	}
	if err := t.loadRoots(filepath.Join(home, "proxy-ca.pem")); err != nil {
		return nil, err
	}
	return t, nil
}

// startMitmdump runs Debian's mitmdump in regular (forward proxy) mode with
// an addon that sets the header, streaming bodies (stream_large_bodies=1):
// without it mitmproxy holds every response, SSE included, until it ends.
func startMitmdump(ctx context.Context, e *benchEnv) (*target, error) {
	conf := filepath.Join(e.dir, "mitmproxy")
	if err := os.MkdirAll(conf, 0o700); err != nil {
		return nil, err
	}
	addon := filepath.Join(conf, "inject.py")
	script := fmt.Sprintf(`import os

SECRET = os.environ["BENCH_SECRET"]

def requestheaders(flow):
    flow.request.headers[%q] = SECRET
`, secretHeader)
	if err := os.WriteFile(addon, []byte(script), 0o600); err != nil {
		return nil, err
	}
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.Command("mitmdump", "--listen-host", host, "--listen-port", port,
		"--set", "confdir="+conf,
		"--set", "ssl_verify_upstream_trusted_ca="+filepath.Join(e.dir, "upstream-ca.pem"),
		"--set", "stream_large_bodies=1",
		"--set", "termlog_verbosity=warn", "--set", "flow_detail=0",
		"-s", addon)
	cmd.Env = append(os.Environ(), "BENCH_SECRET="+e.secret)
	t := &target{name: "mitmproxy", proc: cmd, env: e, proxy: &url.URL{Scheme: "http", Host: addr}}
	if err := t.launch(ctx, addr); err != nil {
		return nil, err
	}
	if err := t.loadRoots(filepath.Join(conf, "mitmproxy-ca-cert.pem")); err != nil {
		return nil, err
	}
	return t, nil
}

// startGoproxy runs this binary's goproxy subcommand.
func startGoproxy(ctx context.Context, e *benchEnv) (*target, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(e.self, "goproxy", "-listen", addr, "-dir", e.dir)
	cmd.Env = append(os.Environ(), "BENCH_SECRET="+e.secret)
	t := &target{name: "goproxy", proc: cmd, env: e, proxy: &url.URL{Scheme: "http", Host: addr}}
	if err := t.launch(ctx, addr); err != nil {
		return nil, err
	}
	if err := t.loadRoots(filepath.Join(e.dir, "ca.pem")); err != nil {
		return nil, err
	}
	return t, nil
}

// launch starts the process and waits until addr accepts connections.
func (t *target) launch(ctx context.Context, addr string) error {
	t.proc.Stdout, t.proc.Stderr = t.env.logs, t.env.logs
	t.proc.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := t.proc.Start(); err != nil {
		return fmt.Errorf("%s: %w", t.name, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.stop()
	return fmt.Errorf("%s did not listen on %s within 30s (see %s)", t.name, addr, t.env.logs.Name())
}

// loadRoots reads the CA the target's clients trust. On failure it stops the
// target, as launch does: the caller gets no target to stop.
func (t *target) loadRoots(file string) (err error) {
	defer func() {
		if err != nil {
			t.stop()
		}
	}()
	var b []byte
	for range 100 { // mitmdump writes its CA as it starts
		if b, err = os.ReadFile(file); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	t.roots, err = pemPool(b)
	return err
}

func (t *target) stop() {
	if t.proc == nil || t.proc.Process == nil {
		return
	}
	t.proc.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { t.proc.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.proc.Process.Kill()
		<-done
	}
}

// rssKiB is the resident memory of the proxy's process.
func (t *target) rssKiB() (int64, error) {
	if t.proc == nil {
		return 0, errors.New("no process")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", t.proc.Process.Pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, errors.New("no VmRSS")
}

// cpuTime is the CPU time (user + system) the proxy's process has used.
func (t *target) cpuTime() time.Duration {
	if t.proc == nil {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", t.proc.Process.Pid))
	if err != nil {
		return 0
	}
	// The fields after the command name (which may hold spaces): utime
	// and stime are the 12th and 13th, in clock ticks (100 per second).
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

// url is the upstream URL for path; the same for every target.
func (t *target) url(path string) string {
	return "https://" + t.authority() + path
}

// authority is what the client connects to. The tunnel target names the
// upstream by IP address: clauderon never intercepts an IP literal, so the
// CONNECT becomes an opaque tunnel.
func (t *target) authority() string {
	host := benchHost
	if t.tunnel {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(t.env.up.port))
}

// transport is an agent's HTTP/1.1 client through the target.
func (t *target) transport(keepAlive bool) *http.Transport {
	tr := &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: t.roots},
		DisableCompression:  true,
		DisableKeepAlives:   !keepAlive,
		MaxIdleConnsPerHost: 1024,
		IdleConnTimeout:     time.Minute,
		// No HTTP/2: agents speak HTTP/1.1 to the proxy.
		TLSNextProto: map[string]func(string, *tls.Conn) http.RoundTripper{},
	}
	if t.proxy != nil {
		tr.Proxy = http.ProxyURL(t.proxy)
	}
	return tr
}

// request builds a request as an agent would send it: with the placeholder
// through a proxy, with the real secret when direct.
func (t *target) request(ctx context.Context, method, path string) *http.Request {
	req, _ := http.NewRequestWithContext(ctx, method, t.url(path), nil)
	if t.proxy == nil || t.tunnel {
		req.Header.Set(secretHeader, t.env.secret)
	} else {
		req.Header.Set(secretHeader, "clauderon-proxy-placeholder-bench")
	}
	return req
}

// dialTLS opens one client TLS connection to the upstream host: a CONNECT
// through the proxy, or a plain dial when direct.
func (t *target) dialTLS(ctx context.Context) (*tls.Conn, error) {
	var d net.Dialer
	target := t.env.up.addr
	if t.proxy != nil {
		target = t.proxy.Host
	}
	c, err := d.DialContext(ctx, "tcp", target)
	if err != nil {
		return nil, err
	}
	if t.proxy != nil {
		authority := t.authority()
		req := "CONNECT " + authority + " HTTP/1.1\r\nHost: " + authority + "\r\n"
		if u := t.proxy.User; u != nil {
			pw, _ := u.Password()
			req += "Proxy-Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pw)) + "\r\n"
		}
		if _, err := c.Write([]byte(req + "\r\n")); err != nil {
			c.Close()
			return nil, err
		}
		br := bufio.NewReaderSize(c, 512)
		res, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
		if err != nil {
			c.Close()
			return nil, err
		}
		if res.StatusCode != http.StatusOK || br.Buffered() > 0 {
			c.Close()
			return nil, fmt.Errorf("CONNECT: %s", res.Status)
		}
	}
	tc := tls.Client(c, &tls.Config{ServerName: benchHost, RootCAs: t.roots, NextProtos: []string{"http/1.1"}})
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return tc, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
