package proxy

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"

	"github.com/clauderon/clauderon"
)

// The per-request benchmarks compare a kept-alive HTTPS request made directly
// to the upstream with the same request through the proxy (TLS terminated,
// credential injected, leak guard on, audit event written, TLS again). Both
// clients speak HTTP/1.1, as agents do.

const benchBody = `{"type":"message","content":[{"type":"text","text":"hello"}]}`

// benchUpstream speaks HTTP/1.1 only, so that direct and proxied requests
// reach the same server code and the difference is the proxy's.
func benchUpstream(b *testing.B) *upstream {
	return startUpstreamProto(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, benchBody)
	}), false)
}

func directClient(up *upstream) *http.Client {
	addr := up.Listener.Addr().String()
	return &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		},
		TLSClientConfig:     &tls.Config{RootCAs: up.ca.pool},
		MaxIdleConnsPerHost: 128,
	}}
}

func proxiedClient(b *testing.B, up *upstream) *http.Client {
	h := startProxy(b, up, []clauderon.Credential{
		{Rule: oauthRule(), Secret: clauderon.NewSecret(canary(b, "sk-ant-oat01-"))}},
		func(c *Config) { c.Logger = nil })
	c := h.client(testToken)
	c.Transport.(*http.Transport).MaxIdleConnsPerHost = 128
	return c
}

func doBench(b *testing.B, c *http.Client) {
	req, _ := http.NewRequest(http.MethodGet, "https://"+anthropicHost+"/v1/models", nil)
	req.Header.Set("Authorization", "Bearer "+oauthPH)
	res, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	n, _ := io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || n != int64(len(benchBody)) {
		b.Fatalf("status %d, %d bytes", res.StatusCode, n)
	}
}

func BenchmarkDirect(b *testing.B) {
	c := directClient(benchUpstream(b))
	doBench(b, c) // connect outside the timing
	b.ReportAllocs()
	for b.Loop() {
		doBench(b, c)
	}
}

func BenchmarkProxied(b *testing.B) {
	c := proxiedClient(b, benchUpstream(b))
	doBench(b, c)
	b.ReportAllocs()
	for b.Loop() {
		doBench(b, c)
	}
}

// The Parallel64 variants run 64 concurrent clients sharing one transport.
func BenchmarkDirectParallel64(b *testing.B) {
	benchParallel(b, directClient(benchUpstream(b)))
}

func BenchmarkProxiedParallel64(b *testing.B) {
	benchParallel(b, proxiedClient(b, benchUpstream(b)))
}

func benchParallel(b *testing.B, c *http.Client) {
	doBench(b, c)
	b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			doBench(b, c)
		}
	})
}
