package audit_test

import (
	"testing"

	"github.com/clauderon/clauderon/audit"
)

// BenchmarkRecord is the cost the proxy pays per request for its audit line:
// encoding plus one write(2), rotation included (1 MiB files).
func BenchmarkRecord(b *testing.B) {
	l, _ := MustOpen(b, audit.Options{MaxBytes: 1 << 20, MaxFiles: 2})
	ev := event("bench-session", 1)
	ev.Path = "/v1/messages?beta=true"
	b.ReportAllocs()
	for b.Loop() {
		l.Record(ev)
	}
}

// BenchmarkRecordParallel is Record under contention from many requests.
func BenchmarkRecordParallel(b *testing.B) {
	l, _ := MustOpen(b, audit.Options{MaxBytes: 1 << 20, MaxFiles: 2})
	ev := event("bench-session", 1)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			l.Record(ev)
		}
	})
}
