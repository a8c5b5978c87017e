package docker_test

import (
	"testing"
	"time"

	"github.com/clauderon/clauderon"
)

// BenchmarkCreateToFirstOutput measures what a user waits for: from Create
// (image check, network, container create, files copied in, start) to the
// agent's first byte of output. Compare with a bare
// `docker run --rm IMAGE claude id` of the same image.
func BenchmarkCreateToFirstOutput(b *testing.B) {
	be := mustBackend(b)
	spec := baseSpec(b, be, "claude", "id")
	spec.Files = []clauderon.SpecFile{
		{Path: clauderon.ContainerCAPath, Data: []byte("ca"), Mode: 0o644},
		{Path: clauderon.ContainerHome + "/.claude.json", Data: []byte(`{"hasCompletedOnboarding":true}`), Mode: 0o600, Writable: true},
	}
	ctx := testContext(b)
	var create, first time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		spec.Name = uniqueName(b)
		start := time.Now()
		id, err := be.Create(ctx, spec)
		if err != nil {
			b.Fatal(err)
		}
		create += time.Since(start)
		logs, err := be.Logs(ctx, id, true)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := logs.Read(make([]byte, 1)); err != nil {
			b.Fatal(err)
		}
		first += time.Since(start)
		b.StopTimer()
		logs.Close()
		if err := be.Remove(ctx, id); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(create.Milliseconds())/float64(b.N), "create-ms")
	b.ReportMetric(float64(first.Milliseconds())/float64(b.N), "first-output-ms")
}
