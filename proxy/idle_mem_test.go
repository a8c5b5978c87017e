package proxy

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"runtime"
	"testing"

	"github.com/clauderon/clauderon"
)

// BenchmarkIdleConnMemory reports the heap and goroutine stack that 200
// idle kept-alive intercepted connections add, per connection. The raw TLS
// clients live in the same process, so their share is included. On the
// proxy side what remains is the TLS connection's state and the serving
// goroutine's stack: serveConn holds no read or write buffer between
// requests. (With net/http's server it was about 12 KiB more per connection,
// mostly its 4 KiB read and write buffers.) cmd/clauderon-bench measures
// the real binary's resident memory.
func BenchmarkIdleConnMemory(b *testing.B) {
	const n = 200
	up := startUpstream(b, okHandler("ok"))
	h := startProxy(b, up, []clauderon.Credential{{Rule: oauthRule(), Secret: clauderon.NewSecret(canary(b, "sk-ant-oat01-"))}},
		func(c *Config) { c.Logger = nil })
	open := func() []net.Conn {
		var conns []net.Conn
		for range n {
			c, res := h.rawConnect(b, anthropicHost+":443", basicAuth("s1", testToken))
			if res.StatusCode != 200 {
				b.Fatal(res.Status)
			}
			tc := tls.Client(c, &tls.Config{ServerName: anthropicHost, RootCAs: h.ca.pool})
			req, _ := http.NewRequest(http.MethodGet, "https://"+anthropicHost+"/", nil)
			req.Write(tc)
			res, err := http.ReadResponse(bufioReader(tc), req)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, res.Body)
			conns = append(conns, tc)
		}
		return conns
	}
	measure := func() (uint64, uint64) {
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapInuse, ms.StackInuse
	}
	for b.Loop() {
		h0, s0 := measure()
		conns := open()
		h1, s1 := measure()
		b.ReportMetric(float64(h1-h0)/n, "heapB/conn")
		b.ReportMetric(float64(s1-s0)/n, "stackB/conn")
		for _, c := range conns {
			c.Close()
		}
	}
}
