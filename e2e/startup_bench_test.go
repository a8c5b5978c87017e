package e2e

import (
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"
)

// BenchmarkSessionStartup measures what a user waits for: from `clauderon
// create --print` to the agent's first request reaching the provider through
// the proxy, next to a bare `docker run` of the same image with the same proxy
// settings (proxy-env). Both go through the same proxy to the same provider,
// so the difference is clauderon's own cost: the API call, the store, the
// files placed in the container. Reported as medians.
//
//	go test -run '^$' -bench SessionStartup -benchtime 10x ./e2e/
func BenchmarkSessionStartup(b *testing.B) {
	e := newEnv(b)
	e.startDaemon()
	args := strings.Fields(e.must("proxy-env", "--name", "bench-bare"))
	var created, bare []time.Duration
	for i := 0; i < b.N; i++ {
		name := fmt.Sprintf("bench-%d", i)
		e.claim(name)
		created = append(created, timeToFirstRequest(b, e, func() *exec.Cmd {
			return exec.Command(binPath, "--home", e.home, "create", "--print", "--name", name, "--prompt", "hi", "--image", e.image)
		}))
		e.must("delete", name)
		bare = append(bare, timeToFirstRequest(b, e, func() *exec.Cmd {
			a := append([]string{"run", "--rm"}, args...)
			return exec.Command("docker", append(a, e.image, "claude", "--print", "hi")...)
		}))
	}
	c, d := median(created), median(bare)
	b.ReportMetric(float64(c.Milliseconds()), "create-ms")
	b.ReportMetric(float64(d.Milliseconds()), "docker-run-ms")
	b.ReportMetric(float64((c - d).Milliseconds()), "overhead-ms")
}

// timeToFirstRequest starts cmd and returns how long until the provider sees
// one more model call. It waits for cmd to finish before returning.
func timeToFirstRequest(b *testing.B, e *env, mk func() *exec.Cmd) time.Duration {
	b.Helper()
	before := countModelCalls(e)
	cmd := mk()
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	var d time.Duration
	for {
		if countModelCalls(e) > before {
			d = time.Since(start)
			break
		}
		if time.Since(start) > time.Minute {
			b.Fatal("no request reached the provider within a minute")
		}
		time.Sleep(time.Millisecond)
	}
	if err := cmd.Wait(); err != nil {
		b.Fatalf("%v: %v", cmd.Args, err)
	}
	return d
}

func countModelCalls(e *env) int {
	n := 0
	for _, r := range e.provider.Requests() {
		if r.Path == "/v1/messages" {
			n++
		}
	}
	return n
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkSessionList measures `clauderon list` as a user runs it (a new
// process, the API call over the unix socket, the store query, the table)
// with 100 sessions in the store. The sessions are proxy-env sessions: real
// store rows through the real API, without 100 containers.
//
//	go test -run '^$' -bench SessionList -benchtime 20x ./e2e/
func BenchmarkSessionList(b *testing.B) {
	const sessions = 100
	e := newEnv(b)
	e.startDaemon()
	for i := range sessions {
		e.must("proxy-env", "--name", fmt.Sprintf("list-%03d", i))
	}
	if n := strings.Count(e.must("list"), "list-"); n != sessions {
		b.Fatalf("list shows %d of %d sessions", n, sessions)
	}
	var ds []time.Duration
	for b.Loop() {
		start := time.Now()
		e.must("list")
		ds = append(ds, time.Since(start))
	}
	b.ReportMetric(float64(median(ds).Microseconds())/1000, "list-ms")
	b.ReportMetric(sessions, "sessions")
}
