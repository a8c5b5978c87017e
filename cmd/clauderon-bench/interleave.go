package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// The latency and load scenarios compare the targets to the direct
// connection by ratio, and on a shared machine the load drifts within
// seconds: measured one target after the other, a spike during one target's
// turn became its ratio (the direct p50 ranged over 0.14-0.30 ms between
// rounds of one run). So these two run with every target up at once, taking
// turns in short slices: a drift then falls on all targets alike, and each
// ratio compares figures taken in the same seconds.

// latencyBlock is how many sequential requests one target sends in its
// turn.
const latencyBlock = 50

// latencyInterleaved measures sequential latency on one kept-alive
// connection per target, in blocks of latencyBlock requests taken in turn.
func latencyInterleaved(ctx context.Context, ts []*target, p params, ms []*measurement) {
	clients := make([]*http.Client, len(ts))
	ok := make([]bool, len(ts))
	for i, t := range ts {
		clients[i] = &http.Client{Transport: t.transport(true)}
		defer clients[i].CloseIdleConnections()
		ok[i] = true
		for range 50 { // connect and warm up outside the timing
			if _, err := do(clients[i], t.request(ctx, http.MethodGet, "/small")); err != nil {
				ms[i].fail("latency", err)
				ok[i] = false
				break
			}
		}
	}
	upConns := ts[0].upstreamConns(ctx)
	ds := make([][]time.Duration, len(ts))
	for b := range (p.LatencyN + latencyBlock - 1) / latencyBlock {
		for k := range ts {
			i := (k + b) % len(ts)
			if !ok[i] || ctx.Err() != nil {
				continue
			}
			for range latencyBlock {
				start := time.Now()
				if _, err := do(clients[i], ts[i].request(ctx, http.MethodGet, "/small")); err != nil {
					ms[i].fail("latency", err)
					continue
				}
				ds[i] = append(ds[i], time.Since(start))
			}
		}
	}
	// (The first upstreamConns's own connection is the one new connection
	// expected.)
	if n := ts[0].upstreamConns(ctx) - upConns - 1; n > 0 {
		logf("    latency: the upstream saw %d new connections; every target should have kept its one", n)
	}
	for i := range ts {
		ms[i].P50, ms[i].P99 = pct(ds[i], 50), pct(ds[i], 99)
	}
}

// loadSlice is one target's turn under load, after loadSliceWarm of
// unmeasured requests (the clients' connections stay open between turns).
const (
	loadSlice     = 500 * time.Millisecond
	loadSliceWarm = 100 * time.Millisecond
)

// loadInterleaved runs LoadClients kept-alive clients against each target
// in turns of loadSlice until each had LoadDur measured, after a warm-up
// second each to open the connections.
func loadInterleaved(ctx context.Context, ts []*target, p params, ms []*measurement) {
	type tally struct {
		count int64
		dur   time.Duration
		cpu   time.Duration
		errs  int64
		first string
	}
	tallies := make([]tally, len(ts))
	trs := make([]*http.Transport, len(ts))
	for i, t := range ts {
		trs[i] = t.transport(true)
		defer trs[i].CloseIdleConnections()
	}
	// run drives target i with LoadClients clients for warm, then measured
	// for d (none: a warm-up turn), and adds what it saw to its tally;
	// errors count in every turn.
	run := func(i int, warm, d time.Duration) {
		t, c := ts[i], &http.Client{Transport: trs[i]}
		var count, errs atomic.Int64
		var firstErr atomic.Value
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range p.LoadClients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if _, err := do(c, t.request(ctx, http.MethodGet, "/small")); err != nil {
						errs.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
						continue
					}
					count.Add(1)
				}
			}()
		}
		time.Sleep(warm)
		c0, t0, cpu0 := count.Load(), time.Now(), t.cpuTime()
		time.Sleep(d)
		c1, t1, cpu1 := count.Load(), time.Now(), t.cpuTime()
		close(stop)
		wg.Wait()
		tl := &tallies[i]
		if d > 0 {
			tl.count += c1 - c0
			tl.dur += t1.Sub(t0)
			tl.cpu += cpu1 - cpu0
		}
		tl.errs += errs.Load()
		if v := firstErr.Load(); v != nil && tl.first == "" {
			tl.first = v.(string)
		}
	}
	for i := range ts {
		run(i, time.Second, 0) // opens the clients' connections
	}
	turns := max(1, int(p.LoadDur/loadSlice))
	for s := range turns {
		for k := range ts {
			if ctx.Err() != nil {
				return
			}
			run((k+s)%len(ts), loadSliceWarm, loadSlice)
		}
	}
	for i, t := range ts {
		tl := tallies[i]
		if tl.dur > 0 {
			ms[i].RPS = float64(tl.count) / tl.dur.Seconds()
		}
		if tl.count > 0 && t.proc != nil {
			ms[i].CPUPerReqUS = float64(tl.cpu.Microseconds()) / float64(tl.count)
		}
		for range tl.errs {
			ms[i].fail("load", fmt.Errorf("%s", tl.first))
		}
	}
}
