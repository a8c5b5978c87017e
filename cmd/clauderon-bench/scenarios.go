package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// params sizes the scenarios; quick mode shrinks them for a smoke run.
type params struct {
	LatencyN    int           // sequential requests on one connection
	LoadClients int           // concurrent kept-alive clients
	LoadDur     time.Duration // measured load window (after a warm-up)
	BodyBytes   int64         // download and upload size
	SseEvents   int
	SseGap      time.Duration
	ConnDur     time.Duration // new-connection window
	ConnWorkers int
	IdleConns   int
	// Scenarios, if set, are the only ones run (-scenarios): to profile one
	// of them alone. The report leaves the others out.
	Scenarios map[string]bool `json:",omitempty"`
}

var fullParams = params{LatencyN: 2000, LoadClients: 64, LoadDur: 3 * time.Second, BodyBytes: 64 << 20,
	SseEvents: 500, SseGap: 4 * time.Millisecond, ConnDur: 2 * time.Second, ConnWorkers: 4, IdleConns: 1000}

var quickParams = params{LatencyN: 300, LoadClients: 64, LoadDur: time.Second, BodyBytes: 8 << 20,
	SseEvents: 50, SseGap: 5 * time.Millisecond, ConnDur: time.Second, ConnWorkers: 4, IdleConns: 200}

// measurement is one round's figures for one target. Times in milliseconds.
type measurement struct {
	P50, P99         float64 // sequential request latency
	RPS              float64 // 64 clients
	CPUPerReqUS      float64 // the proxy process's CPU time per request under load, µs
	DownMBps, UpMBps float64
	DownCPUPerMiBMS  float64 // the proxy process's CPU time per MiB downloaded, ms
	SSEP50, SSEP99   float64 // upstream send to client arrival, per event
	ConnPS           float64 // new connections per second
	RSSPerConnKiB    float64 // proxy's resident memory per idle connection
	Errors           map[string]int
}

func (m *measurement) fail(scenario string, err error) {
	if m.Errors == nil {
		m.Errors = map[string]int{}
	}
	m.Errors[scenario]++
	if m.Errors[scenario] == 1 {
		logf("    %s: %v", scenario, err)
	}
}

// do sends one request and reads the whole answer, checking the status.
func do(c *http.Client, req *http.Request) (int64, error) {
	res, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	n, err := io.Copy(io.Discard, res.Body)
	if err != nil {
		return n, err
	}
	if res.StatusCode != http.StatusOK {
		return n, fmt.Errorf("status %s", res.Status)
	}
	return n, nil
}

// upstreamConns asks the upstream how many connections it accepted so far.
func (t *target) upstreamConns(ctx context.Context) int64 {
	c := &http.Client{Transport: (&target{roots: t.env.up.caPool, env: t.env}).transport(false)}
	req := (&target{env: t.env}).request(ctx, http.MethodGet, "/stats")
	res, err := c.Do(req)
	if err != nil {
		return 0
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	n, _ := strconv.ParseInt(string(b), 10, 64)
	return n - 1 // this request's own connection
}

// repeatReader yields n bytes of chunk without allocating.
type repeatReader struct{ n int64 }

func (r *repeatReader) Read(b []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	k := copy(b[:min(int64(len(b)), r.n)], chunk)
	r.n -= int64(k)
	return k, nil
}

func (t *target) throughput(ctx context.Context, p params, m *measurement) {
	c := &http.Client{Transport: t.transport(true)}
	defer c.CloseIdleConnections()
	if _, err := do(c, t.request(ctx, http.MethodGet, "/small")); err != nil {
		m.fail("throughput", err)
		return
	}
	start, cpu0 := time.Now(), t.cpuTime()
	n, err := do(c, t.request(ctx, http.MethodGet, "/download?n="+strconv.FormatInt(p.BodyBytes, 10)))
	if err == nil && n != p.BodyBytes {
		err = fmt.Errorf("downloaded %d of %d bytes", n, p.BodyBytes)
	}
	if err != nil {
		m.fail("download", err)
	} else {
		mib := float64(p.BodyBytes) / (1 << 20)
		m.DownMBps = mib / time.Since(start).Seconds()
		m.DownCPUPerMiBMS = float64((t.cpuTime() - cpu0).Microseconds()) / 1000 / mib
	}

	req := t.request(ctx, http.MethodPost, "/upload")
	req.Body = io.NopCloser(&repeatReader{n: p.BodyBytes})
	req.ContentLength = p.BodyBytes
	req.Header.Set("Content-Type", "application/octet-stream")
	start = time.Now()
	res, err := c.Do(req)
	if err == nil {
		var b []byte
		b, err = io.ReadAll(res.Body)
		res.Body.Close()
		if err == nil && (res.StatusCode != http.StatusOK || string(b) != strconv.FormatInt(p.BodyBytes, 10)) {
			err = fmt.Errorf("upload: %s %q", res.Status, b)
		}
	}
	if err != nil {
		m.fail("upload", err)
	} else {
		m.UpMBps = float64(p.BodyBytes) / (1 << 20) / time.Since(start).Seconds()
	}
}

// sse reads a server-sent event stream and notes, per event, how long after
// the upstream wrote it the client had it.
func (t *target) sse(ctx context.Context, p params, m *measurement) {
	c := &http.Client{Transport: t.transport(true)}
	defer c.CloseIdleConnections()
	if _, err := do(c, t.request(ctx, http.MethodGet, "/small")); err != nil {
		m.fail("sse", err)
		return
	}
	req := t.request(ctx, http.MethodGet, fmt.Sprintf("/sse?n=%d&gap=%s", p.SseEvents, p.SseGap))
	req.Header.Set("Accept", "text/event-stream")
	res, err := c.Do(req)
	if err != nil {
		m.fail("sse", err)
		return
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		m.fail("sse", fmt.Errorf("status %s", res.Status))
		return
	}
	br := bufio.NewReader(res.Body)
	var ds []time.Duration
	for {
		line, err := br.ReadString('\n')
		if data, ok := strings.CutPrefix(line, "data: "); ok {
			now := time.Now()
			var ev struct{ Sent int64 }
			if json.Unmarshal([]byte(data), &ev) == nil {
				ds = append(ds, now.Sub(time.Unix(0, ev.Sent)))
			}
		}
		if err != nil {
			break
		}
	}
	if len(ds) != p.SseEvents {
		m.fail("sse", fmt.Errorf("got %d of %d events", len(ds), p.SseEvents))
		return
	}
	m.SSEP50, m.SSEP99 = pct(ds, 50), pct(ds, 99)
}

// newConns opens a fresh connection (CONNECT and TLS handshake through a
// proxy) for every request, from ConnWorkers goroutines.
func (t *target) newConns(ctx context.Context, p params, m *measurement) {
	tr := t.transport(false)
	c := &http.Client{Transport: tr}
	var count atomic.Int64
	var mu sync.Mutex
	deadline := time.Now().Add(p.ConnDur)
	start := time.Now()
	var wg sync.WaitGroup
	for range p.ConnWorkers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				if _, err := do(c, t.request(ctx, http.MethodGet, "/small")); err != nil {
					mu.Lock()
					m.fail("newconn", err)
					mu.Unlock()
					continue
				}
				count.Add(1)
			}
		}()
	}
	wg.Wait()
	m.ConnPS = float64(count.Load()) / time.Since(start).Seconds()
}

// idleMemory opens IdleConns connections, sends one request on each and
// leaves them open, then reads the proxy's resident memory. The proxy was
// started fresh for this.
func (t *target) idleMemory(ctx context.Context, p params, m *measurement) {
	if t.proc == nil {
		return
	}
	// One request first, so that start-up allocations (the leaf
	// certificate, the upstream connection) are in the baseline.
	c := &http.Client{Transport: t.transport(true)}
	if _, err := do(c, t.request(ctx, http.MethodGet, "/small")); err != nil {
		m.fail("memory", err)
		return
	}
	c.CloseIdleConnections()
	time.Sleep(500 * time.Millisecond)
	before, err := t.rssKiB()
	if err != nil {
		m.fail("memory", err)
		return
	}
	conns := make(chan io.Closer, p.IdleConns)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var next atomic.Int64
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(p.IdleConns) {
				tc, err := t.dialTLS(ctx)
				if err == nil {
					err = rawRequest(t, tc)
					conns <- tc
				}
				if err != nil {
					mu.Lock()
					m.fail("memory", err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	close(conns)
	time.Sleep(2 * time.Second) // let the proxy settle (and Go's GC run)
	after, err := t.rssKiB()
	if err != nil {
		m.fail("memory", err)
	}
	m.RSSPerConnKiB = float64(after-before) / float64(p.IdleConns)
	for c := range conns {
		c.Close()
	}
}

func rawRequest(t *target, c io.ReadWriter) error {
	req := t.request(context.Background(), http.MethodGet, "/small")
	if err := req.Write(c); err != nil {
		return err
	}
	res, err := http.ReadResponse(bufio.NewReaderSize(c, 1024), req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if _, err := io.Copy(io.Discard, res.Body); err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("status %s", res.Status)
	}
	return nil
}

// pct is the p-th percentile in milliseconds.
func pct(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := min(len(s)-1, (len(s)*p+99)/100-1)
	return float64(s[max(i, 0)]) / float64(time.Millisecond)
}
