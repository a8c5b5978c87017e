package audit_test

import (
	"bytes"
	"os"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/clauderon/clauderon/audit"
)

// spacings are the write spacings the benchmarks compare: the default, and
// none (a write per line, unless Records overlap).
var spacings = []struct {
	name    string
	spacing time.Duration
}{{"spacing=1ms", audit.DefaultSpacing}, {"spacing=none", -1}}

// BenchmarkRecord is the cost the proxy pays per request for its audit line:
// encoding plus its share of a write(2), rotation included (1 MiB files).
func BenchmarkRecord(b *testing.B) {
	for _, sp := range spacings {
		b.Run(sp.name, func(b *testing.B) {
			l, _ := MustOpen(b, audit.Options{MaxBytes: 1 << 20, MaxFiles: 2, Spacing: sp.spacing})
			ev := event("bench-session", 1)
			ev.Path = "/v1/messages?beta=true"
			b.ReportAllocs()
			w := writeSyscalls()
			for b.Loop() {
				l.Record(ev)
			}
			l.Close() // its last write is the benchmark's too
			reportWrites(b, w)
		})
	}
}

// BenchmarkRecordParallel is Record under contention from many requests: about
// 64 goroutines, as many as the proxy's 64-client load test has requests in
// flight, whatever GOMAXPROCS is.
func BenchmarkRecordParallel(b *testing.B) {
	for _, sp := range spacings {
		b.Run(sp.name, func(b *testing.B) {
			l, _ := MustOpen(b, audit.Options{MaxBytes: 1 << 20, MaxFiles: 2, Spacing: sp.spacing})
			ev := event("bench-session", 1)
			ev.Path = "/v1/messages?beta=true"
			b.SetParallelism(max(1, 64/runtime.GOMAXPROCS(0)))
			b.ReportAllocs()
			w := writeSyscalls()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					l.Record(ev)
				}
			})
			l.Close()
			reportWrites(b, w)
		})
	}
}

// reportWrites reports the process's write system calls per operation since
// writeSyscalls returned before, if the platform counts them (Linux).
func reportWrites(b *testing.B, before int64) {
	if after := writeSyscalls(); before >= 0 && after >= 0 {
		b.ReportMetric(float64(after-before)/float64(b.N), "writes/op")
	}
}

// writeSyscalls returns the write system calls the process has made so far
// (syscw in /proc/self/io), or -1 where that is not available.
func writeSyscalls() int64 {
	data, err := os.ReadFile("/proc/self/io")
	if err != nil {
		return -1
	}
	for line := range bytes.Lines(data) {
		if v, ok := bytes.CutPrefix(line, []byte("syscw: ")); ok {
			n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
			if err != nil {
				return -1
			}
			return n
		}
	}
	return -1
}
