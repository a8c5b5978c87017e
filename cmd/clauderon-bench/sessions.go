package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// sessionResult holds the figures of package e2e's session benchmarks.
type sessionResult struct {
	N            int
	CreateMS     int64 // `clauderon create` to the agent's first request, median
	DockerRunMS  int64 // bare `docker run` of the same image, median
	OverheadMS   int64
	ListSessions int
	ListN        int
	ListMS       float64 // `clauderon list`, median
}

// runSessions runs BenchmarkSessionStartup and BenchmarkSessionList of
// package e2e (they need Docker and build the test image) and reads their
// reported metrics.
func runSessions(ctx context.Context, n int) (*sessionResult, error) {
	listN := 20
	out, err := goBench(ctx, "SessionStartup", n)
	if err != nil {
		return nil, err
	}
	r := &sessionResult{N: n, ListN: listN}
	r.CreateMS = int64(metricOf(out, "create-ms"))
	r.DockerRunMS = int64(metricOf(out, "docker-run-ms"))
	r.OverheadMS = int64(metricOf(out, "overhead-ms"))
	if out, err = goBench(ctx, "SessionList", listN); err != nil {
		return nil, err
	}
	r.ListMS = metricOf(out, "list-ms")
	r.ListSessions = int(metricOf(out, "sessions"))
	return r, nil
}

func goBench(ctx context.Context, name string, n int) (string, error) {
	logf("go test -bench %s -benchtime %dx ./e2e/", name, n)
	cmd := exec.CommandContext(ctx, goBin(), "test", "-count=1", "-run", "^$", "-bench", "^Benchmark"+name+"$",
		"-benchtime", strconv.Itoa(n)+"x", "-timeout", "30m", "./e2e/")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("%s: %w\n%s", name, err, out)
	}
	if !strings.Contains(string(out), "Benchmark"+name) {
		return "", fmt.Errorf("%s did not run (Docker missing?):\n%s", name, out)
	}
	return string(out), nil
}

// metricOf finds "VALUE UNIT" in a benchmark result line.
func metricOf(out, unit string) float64 {
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		for i := 1; i < len(f); i++ {
			if f[i] == unit {
				v, _ := strconv.ParseFloat(f[i-1], 64)
				return v
			}
		}
	}
	return 0
}
