package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// benchHost is the name every client asks for. It resolves to 127.0.0.1
// through /etc/hosts, so mitmproxy and goproxy reach the upstream with their
// ordinary resolvers; clauderon is told the same with --resolve.
const benchHost = "localhost"

// secretHeader is the header every proxy injects (the direct client sends
// it itself); the upstream answers 401 without it, so a proxy that skips the
// injection shows up as errors.
const secretHeader = "X-Api-Key"

const smallBody = `{"type":"message","content":[{"type":"text","text":"hello"}]}`

// upstream is the model provider stand-in: an HTTP/1.1-only TLS server on
// loopback, with a certificate for benchHost signed by its own CA (the
// "public" PKI that every proxy is told to trust upstream).
type upstream struct {
	addr   string
	port   int
	caPEM  []byte
	caPool *x509.CertPool
	secret string
	proc   *exec.Cmd
	conns  atomic.Int64 // in the upstream process: connections accepted
}

// serveUpstream is the `clauderon-bench upstream` subcommand: the upstream
// runs in its own process, as a provider would, so that a direct request
// crosses processes just as a proxied one does. It writes its CA to
// DIR/upstream-ca.pem and prints its address.
func serveUpstream(args []string) error {
	fs := flag.NewFlagSet("upstream", flag.ContinueOnError)
	dir := fs.String("dir", "", "directory for upstream-ca.pem")
	if err := fs.Parse(args); err != nil {
		return err
	}
	caCert, caKey, caPEM, err := newCA("clauderon-bench upstream CA")
	if err != nil {
		return err
	}
	leaf, err := newLeaf(caCert, caKey, benchHost)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*dir, "upstream-ca.pem"), caPEM, 0o600); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	u := &upstream{secret: os.Getenv("BENCH_SECRET")}
	srv := &http.Server{
		Handler: u,
		TLSConfig: &tls.Config{Certificates: []tls.Certificate{leaf},
			NextProtos: []string{"http/1.1"}},
		// An empty map turns HTTP/2 off: every leg speaks HTTP/1.1, as
		// agents do to the proxy.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		IdleTimeout:  5 * time.Minute,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				u.conns.Add(1)
			}
		},
	}
	fmt.Println(ln.Addr().String())
	return srv.ServeTLS(ln, "", "")
}

// startUpstream runs the upstream subcommand and waits for its address.
func startUpstream(e *benchEnv) (*upstream, error) {
	cmd := exec.Command(e.self, "upstream", "-dir", e.dir)
	cmd.Env = append(os.Environ(), "BENCH_SECRET="+e.secret)
	cmd.Stderr = e.logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("upstream did not start: %w (see %s)", err, e.logs.Name())
	}
	u := &upstream{addr: strings.TrimSpace(line), secret: e.secret, proc: cmd}
	u.port = must(net.ResolveTCPAddr("tcp", u.addr)).Port
	if u.caPEM, err = os.ReadFile(filepath.Join(e.dir, "upstream-ca.pem")); err != nil {
		return nil, err
	}
	if u.caPool, err = pemPool(u.caPEM); err != nil {
		return nil, err
	}
	return u, nil
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// chunk is what large bodies are made of.
var chunk = func() []byte {
	b := make([]byte, 64<<10)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}()

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get(secretHeader) != u.secret {
		http.Error(w, "missing credential", http.StatusUnauthorized)
		return
	}
	switch r.URL.Path {
	case "/stats":
		io.WriteString(w, strconv.FormatInt(u.conns.Load(), 10))
	case "/small":
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(smallBody)))
		io.WriteString(w, smallBody)
	case "/download":
		n, _ := strconv.ParseInt(r.URL.Query().Get("n"), 10, 64)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.FormatInt(n, 10))
		for n > 0 {
			k := min(n, int64(len(chunk)))
			if _, err := w.Write(chunk[:k]); err != nil {
				return
			}
			n -= k
		}
	case "/upload":
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		io.WriteString(w, strconv.FormatInt(n, 10))
	case "/sse":
		// Each event carries the upstream's send time; the client subtracts
		// it from the arrival time. A proxy that buffers shows up at once.
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		gap, _ := time.ParseDuration(r.URL.Query().Get("gap"))
		w.Header().Set("Content-Type", "text/event-stream")
		w.Header().Set("Cache-Control", "no-cache")
		rc := http.NewResponseController(w)
		for i := range n {
			if i > 0 {
				time.Sleep(gap)
			}
			fmt.Fprintf(w, "event: content_block_delta\ndata: {\"i\":%d,\"sent\":%d}\n\n", i, time.Now().UnixNano())
			if err := rc.Flush(); err != nil {
				return
			}
		}
	default:
		http.NotFound(w, r)
	}
}

// newCA makes a throwaway ECDSA CA.
func newCA(name string) (*x509.Certificate, *ecdsa.PrivateKey, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, err
	}
	return cert, key, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

func newLeaf(ca *x509.Certificate, caKey *ecdsa.PrivateKey, host string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}

func pemPool(b []byte) (*x509.CertPool, error) {
	p := x509.NewCertPool()
	if !p.AppendCertsFromPEM(b) {
		return nil, errors.New("no certificate in PEM")
	}
	return p, nil
}
