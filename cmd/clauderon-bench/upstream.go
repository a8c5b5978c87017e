package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"sync/atomic"
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
	srv    *http.Server
	conns  atomic.Int64 // connections accepted, to spot a proxy that does not reuse them
}

func startUpstream(secret string) (*upstream, error) {
	caCert, caKey, caPEM, err := newCA("clauderon-bench upstream CA")
	if err != nil {
		return nil, err
	}
	leaf, err := newLeaf(caCert, caKey, benchHost)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &upstream{addr: ln.Addr().String(), port: ln.Addr().(*net.TCPAddr).Port,
		caPEM: caPEM, caPool: pool, secret: secret}
	u.srv = &http.Server{
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
	go u.srv.ServeTLS(ln, "", "") //nolint:errcheck // ends when the bench exits
	return u, nil
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
