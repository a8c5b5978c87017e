package main

import (
	"crypto/tls"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/elazarl/goproxy"
)

// serveGoproxy is the `clauderon-bench goproxy` subcommand: a minimal
// credential-injecting MITM proxy on github.com/elazarl/goproxy, the way one
// would write it in an afternoon. It runs as its own process so that its
// resident memory can be measured like the others'. It intercepts every
// CONNECT, caches leaf certificates (goproxy's CertStore), sets the secret
// header on each request and shares one upstream transport.
func serveGoproxy(args []string) error {
	fs := flag.NewFlagSet("goproxy", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	dir := fs.String("dir", "", "directory holding upstream-ca.pem; ca.pem (the MITM CA) is written there")
	if err := fs.Parse(args); err != nil {
		return err
	}
	secret := os.Getenv("BENCH_SECRET")
	upPEM, err := os.ReadFile(filepath.Join(*dir, "upstream-ca.pem"))
	if err != nil {
		return err
	}
	roots, err := pemPool(upPEM)
	if err != nil {
		return err
	}
	caCert, caKey, caPEM, err := newCA("goproxy bench CA")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*dir, "ca.pem"), caPEM, 0o600); err != nil {
		return err
	}
	ca := tls.Certificate{Certificate: [][]byte{caCert.Raw}, PrivateKey: caKey, Leaf: caCert}

	px := goproxy.NewProxyHttpServer()
	px.Tr = &http.Transport{
		TLSClientConfig:     &tls.Config{RootCAs: roots},
		MaxIdleConns:        512,
		MaxIdleConnsPerHost: 128,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	px.CertStore = &certCache{m: map[string]*tls.Certificate{}}
	mitm := &goproxy.ConnectAction{Action: goproxy.ConnectMitm, TLSConfig: goproxy.TLSConfigFromCA(&ca)}
	px.OnRequest().HandleConnectFunc(func(host string, _ *goproxy.ProxyCtx) (*goproxy.ConnectAction, string) {
		return mitm, host
	})
	px.OnRequest().DoFunc(func(r *http.Request, _ *goproxy.ProxyCtx) (*http.Request, *http.Response) {
		r.Header.Set(secretHeader, secret)
		return r, nil
	})
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	fmt.Println(ln.Addr().String())
	return http.Serve(ln, px)
}

// certCache is the CertStore goproxy's documentation recommends.
type certCache struct {
	mu sync.Mutex
	m  map[string]*tls.Certificate
}

func (c *certCache) Fetch(host string, gen func() (*tls.Certificate, error)) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cert, ok := c.m[host]; ok {
		return cert, nil
	}
	cert, err := gen()
	if err != nil {
		return nil, err
	}
	c.m[host] = cert
	return cert, nil
}
