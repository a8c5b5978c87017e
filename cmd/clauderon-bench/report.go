package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"time"
)

// results is everything one run measured, as written with -json.
type results struct {
	Info        info
	Params      params
	Targets     []string
	Rounds      map[string][]measurement
	Sessions    *sessionResult `json:",omitempty"`
	SessionsErr string         `json:",omitempty"`
}

type info struct {
	Date, Host, CPU, Kernel string
	Cores                   int
	Go, Mitmproxy, Goproxy  string
	Commit                  string
	LoadBefore, LoadAfter   string
}

func machineInfo(ctx context.Context, env *benchEnv) info {
	in := info{Date: time.Now().UTC().Format("2006-01-02 15:04 UTC"), Cores: runtime.NumCPU(),
		Go: runtime.Version(), LoadBefore: loadAvg()}
	in.Host, _ = os.Hostname()
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "model name"); ok {
				in.CPU = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		in.Kernel = strings.TrimSpace(string(b))
	}
	if out, err := exec.CommandContext(ctx, "mitmdump", "--version").Output(); err == nil {
		in.Mitmproxy = strings.TrimSpace(strings.TrimPrefix(strings.SplitN(string(out), "\n", 2)[0], "Mitmproxy:"))
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == "github.com/elazarl/goproxy" {
				in.Goproxy = d.Version
			}
		}
	}
	if out, err := exec.CommandContext(ctx, "git", "describe", "--always", "--dirty").Output(); err == nil {
		in.Commit = strings.TrimSpace(string(out))
	}
	return in
}

// A metric is one row of the table.
type metric struct {
	key, label, unit string
	scenario         string // the -scenarios name that measures it
	get              func(measurement) float64
	// diff: the proxies are compared by difference (extra delay), not ratio.
	diff      bool
	noDirect  bool // the direct connection has no proxy process to measure
	precision int
}

var metrics = []metric{
	{key: "p50", scenario: "latency", label: "latency p50, sequential small requests on one connection", unit: "ms", get: func(m measurement) float64 { return m.P50 }, precision: 3},
	{key: "p99", scenario: "latency", label: "latency p99", unit: "ms", get: func(m measurement) float64 { return m.P99 }, precision: 3},
	{key: "rps", scenario: "load", label: "64 concurrent kept-alive clients", unit: "req/s", get: func(m measurement) float64 { return m.RPS }},
	{key: "cpu", scenario: "load", label: "proxy CPU time per request under 64 clients", unit: "µs", noDirect: true, get: func(m measurement) float64 { return m.CPUPerReqUS }},
	{key: "down", scenario: "throughput", label: "download of a large body", unit: "MiB/s", get: func(m measurement) float64 { return m.DownMBps }},
	{key: "downcpu", scenario: "throughput", label: "proxy CPU time per MiB downloaded", unit: "ms", noDirect: true, get: func(m measurement) float64 { return m.DownCPUPerMiBMS }, precision: 2},
	{key: "up", scenario: "throughput", label: "upload of a large body", unit: "MiB/s", get: func(m measurement) float64 { return m.UpMBps }},
	{key: "ssep50", scenario: "sse", label: "SSE: upstream send to client arrival, p50", unit: "ms", diff: true, get: func(m measurement) float64 { return m.SSEP50 }, precision: 3},
	{key: "ssep99", scenario: "sse", label: "SSE: upstream send to client arrival, p99", unit: "ms", diff: true, get: func(m measurement) float64 { return m.SSEP99 }, precision: 3},
	{key: "connps", scenario: "newconn", label: "new connections (CONNECT + TLS + 1 request)", unit: "conn/s", get: func(m measurement) float64 { return m.ConnPS }},
	{key: "rss", scenario: "memory", label: "proxy RSS per idle kept-alive connection", unit: "KiB", noDirect: true, get: func(m measurement) float64 { return m.RSSPerConnKiB }, precision: 1},
}

// cell is one target's median and its median ratio to (or difference from)
// the direct connection, each taken over the rounds.
type cell struct {
	Value, Rel float64
	HasRel     bool
}

type summary struct {
	res    *results
	cells  map[string]map[string]cell // metric key -> target -> cell
	errors map[string]int             // target -> errors over all rounds
}

func summarize(res *results) *summary {
	s := &summary{res: res, cells: map[string]map[string]cell{}, errors: map[string]int{}}
	direct := res.Rounds["direct"]
	for _, mt := range metrics {
		s.cells[mt.key] = map[string]cell{}
		for _, name := range res.Targets {
			ms := res.Rounds[name]
			var vals, rels []float64
			for i, m := range ms {
				v := mt.get(m)
				vals = append(vals, v)
				if name == "direct" || mt.noDirect || i >= len(direct) {
					continue
				}
				d := mt.get(direct[i])
				if mt.diff {
					rels = append(rels, v-d)
				} else if d > 0 {
					rels = append(rels, v/d)
				}
			}
			c := cell{Value: medianF(vals)}
			if len(rels) > 0 {
				c.Rel, c.HasRel = medianF(rels), true
			}
			s.cells[mt.key][name] = c
		}
	}
	for _, name := range res.Targets {
		for _, m := range res.Rounds[name] {
			for _, n := range m.Errors {
				s.errors[name] += n
			}
		}
	}
	return s
}

func medianF(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func (s *summary) get(key, target string) cell { return s.cells[key][target] }

// ran reports whether the scenario was measured (all are, unless -scenarios
// named some).
func (s *summary) ran(scenario string) bool {
	return s.res.Params.Scenarios == nil || s.res.Params.Scenarios[scenario]
}

// check is one of the targets for clauderon.
type check struct {
	what string
	got  string
	ok   bool
}

func (s *summary) checks() []check {
	var out []check
	has := func(t string) bool { return slices.Contains(s.res.Targets, t) }
	if !has("clauderon") {
		return nil
	}
	c := func(k string) cell { return s.get(k, "clauderon") }
	if s.ran("latency") {
		out = append(out, check{"per-request p50 within 1.7x of direct", fmt.Sprintf("%.2fx", c("p50").Rel), c("p50").Rel <= 1.7})
	}
	if s.ran("load") {
		out = append(out, check{"64 clients: >= 0.5x of direct req/s", fmt.Sprintf("%.2fx", c("rps").Rel), c("rps").Rel >= 0.5})
		if has("mitmproxy") {
			r := c("rps").Value / s.get("rps", "mitmproxy").Value
			out = append(out, check{"64 clients: >= 10x mitmproxy", fmt.Sprintf("%.1fx", r), r >= 10})
		}
		if has("goproxy") {
			r := c("rps").Value / s.get("rps", "goproxy").Value
			out = append(out, check{"64 clients: >= 1.5x goproxy", fmt.Sprintf("%.2fx", r), r >= 1.5})
		}
	}
	if s.ran("sse") {
		out = append(out, check{"SSE extra delay per event p99 < 1 ms", fmt.Sprintf("%+.3f ms", c("ssep99").Rel), c("ssep99").Rel < 1})
	}
	if s.ran("newconn") {
		out = append(out, check{"new connections/s >= 0.6x direct", fmt.Sprintf("%.2fx", c("connps").Rel), c("connps").Rel >= 0.6})
	}
	out = append(out, check{"no errors in any scenario", fmt.Sprintf("%d", s.errors["clauderon"]), s.errors["clauderon"] == 0})
	if s.ran("memory") {
		out = append(out, check{"<= 32 KiB RSS per idle connection", fmt.Sprintf("%.1f KiB", c("rss").Value), c("rss").Value <= 32})
	}
	if ss := s.res.Sessions; ss != nil {
		out = append(out, check{"session start-up within 0.5 s of a bare docker run",
			fmt.Sprintf("%+d ms", ss.OverheadMS), ss.OverheadMS <= 500})
	}
	return out
}

func (s *summary) markdown() string {
	var b strings.Builder
	in := s.res.Info
	fmt.Fprintf(&b, "Measured %s on %s (%s, %d cores, Linux %s); load average %s before, %s after. "+
		"%s, mitmproxy %s, goproxy %s, clauderon %s. %d rounds; each figure is the median over the rounds, "+
		"each ratio (or difference) the median of the per-round ratios to the direct connection measured in the same round.\n\n",
		in.Date, in.Host, in.CPU, in.Cores, in.Kernel, in.LoadBefore, in.LoadAfter,
		in.Go, orQ(in.Mitmproxy), orQ(in.Goproxy), orQ(in.Commit), len(s.res.Rounds["direct"]))
	b.WriteString("| scenario | unit |")
	for _, t := range s.res.Targets {
		b.WriteString(" " + t + " |")
	}
	b.WriteString("\n|---|---|")
	for range s.res.Targets {
		b.WriteString("---:|")
	}
	b.WriteString("\n")
	for _, mt := range metrics {
		if !s.ran(mt.scenario) {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s |", mt.label, mt.unit)
		for _, t := range s.res.Targets {
			c := s.get(mt.key, t)
			switch {
			case t == "direct" && mt.noDirect:
				b.WriteString(" n/a |")
			case !c.HasRel:
				fmt.Fprintf(&b, " %s |", num(c.Value, mt.precision))
			case mt.diff:
				fmt.Fprintf(&b, " %s (%+.3f) |", num(c.Value, mt.precision), c.Rel)
			default:
				fmt.Fprintf(&b, " %s (%.2fx) |", num(c.Value, mt.precision), c.Rel)
			}
		}
		b.WriteString("\n")
	}
	b.WriteString("| errors, all scenarios and rounds | count |")
	for _, t := range s.res.Targets {
		fmt.Fprintf(&b, " %d |", s.errors[t])
	}
	b.WriteString("\n")
	if ss := s.res.Sessions; ss != nil {
		fmt.Fprintf(&b, "\nSessions (package e2e, %d start-ups, medians): `clauderon create` to the agent's first request %d ms, "+
			"a bare `docker run` of the same image %d ms, overhead %+d ms; `clauderon list` with %d sessions in the store %.1f ms (p50 of %d).\n",
			ss.N, ss.CreateMS, ss.DockerRunMS, ss.OverheadMS, ss.ListSessions, ss.ListMS, ss.ListN)
	} else if s.res.SessionsErr != "" {
		fmt.Fprintf(&b, "\nSessions: not measured: %s\n", s.res.SessionsErr)
	}
	if cs := s.checks(); len(cs) > 0 {
		b.WriteString("\nclauderon against the targets:\n\n| target | measured | met |\n|---|---:|:---:|\n")
		for _, c := range cs {
			mark := "yes"
			if !c.ok {
				mark = "**no**"
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", c.what, c.got, mark)
		}
	}
	return b.String()
}

func num(v float64, precision int) string {
	return fmt.Sprintf("%.*f", precision, v)
}

func orQ(s string) string {
	if s == "" {
		return "?"
	}
	return s
}
