package main

import (
	"strings"
	"testing"
)

// A run of some scenarios reports those and leaves the others out, rather
// than reading their zeros as targets met or missed.
func TestReportLeavesOutScenariosNotRun(t *testing.T) {
	round := func(rps, cpu float64) []measurement { return []measurement{{RPS: rps, CPUPerReqUS: cpu}} }
	res := &results{
		Params:  params{Scenarios: map[string]bool{"load": true}},
		Targets: []string{"direct", "clauderon"},
		Rounds:  map[string][]measurement{"direct": round(20000, 0), "clauderon": round(10400, 70)},
	}
	md := summarize(res).markdown()
	for _, want := range []string{
		"| 64 concurrent kept-alive clients | req/s | 20000 | 10400 (0.52x) |",
		"| proxy CPU time per request under 64 clients | µs | n/a | 70 |",
		"| 64 clients: >= 0.5x of direct req/s | 0.52x | yes |",
		"| no errors in any scenario | 0 | yes |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	for _, absent := range []string{"latency", "SSE", "new connections", "RSS", "download"} {
		if strings.Contains(md, absent) {
			t.Errorf("report of a load-only run mentions %q:\n%s", absent, md)
		}
	}

	res.Params.Scenarios = nil // every scenario ran: every row and target is there
	md = summarize(res).markdown()
	for _, want := range []string{"latency p50", "per-request p50 within 1.7x", "SSE extra delay", "<= 32 KiB RSS"} {
		if !strings.Contains(md, want) {
			t.Errorf("report of a full run lacks %q", want)
		}
	}
}
