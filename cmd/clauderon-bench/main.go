// Command clauderon-bench measures what clauderon's proxy costs an agent, in
// one run and side by side: a direct TLS connection to a local upstream, the
// real `clauderon proxy` binary, mitmproxy (mitmdump) and a minimal MITM
// proxy on github.com/elazarl/goproxy. Every proxy injects the same header on
// the same upstream host, every leg is TLS on loopback, and every figure is
// the median of several rounds with the proxies' order rotated, next to its
// ratio to the direct connection measured in the same round.
//
//	go run ./cmd/clauderon-bench -rounds 5 -md BENCHMARKS.md -charts docs
//
// It writes the table between the markers in BENCHMARKS.md and draws PNG
// charts; with -sessions it also runs the session start-up and `clauderon
// list` benchmarks of package e2e (Docker needed). `make bench-compare` runs
// it.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "upstream" {
		if err := serveUpstream(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "upstream:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "goproxy" {
		if err := serveGoproxy(os.Args[2:]); err != nil {
			fmt.Fprintln(os.Stderr, "goproxy:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "clauderon-bench:", err)
		os.Exit(1)
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

func run() error {
	rounds := flag.Int("rounds", 3, "rounds; every figure is the median over them")
	quick := flag.Bool("quick", false, "small sizes, for a smoke run")
	only := flag.String("only", "", "comma-separated targets (default all: direct,clauderon,mitmproxy,goproxy)")
	bin := flag.String("clauderon", "", "clauderon binary (default: go build ./cmd/clauderon)")
	baseline := flag.String("baseline", "", "another clauderon binary, measured as target \"baseline\" (before and after a change)")
	md := flag.String("md", "", "write the results into this markdown file, between its bench markers")
	charts := flag.String("charts", "", "draw PNG charts into this directory")
	jsonOut := flag.String("json", "", "write the raw measurements as JSON")
	sessions := flag.Bool("sessions", false, "also run the session benchmarks of package e2e (needs Docker)")
	sessionsN := flag.Int("sessions-n", 5, "session start-ups to time")
	scenarios := flag.String("scenarios", "", "comma-separated scenarios to run (default all: memory,latency,load,throughput,sse,newconn); with CLAUDERON_CPUPROFILE=FILE in the environment, clauderon profiles itself into FILE")
	from := flag.String("from", "", "read the proxy measurements from this -json file instead of measuring (to add -sessions, or redraw)")
	flag.Parse()

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()

	p := fullParams
	if *quick {
		p = quickParams
	}
	if *scenarios != "" {
		p.Scenarios = map[string]bool{}
		for _, s := range strings.Split(*scenarios, ",") {
			p.Scenarios[strings.TrimSpace(s)] = true
		}
	}
	var res *results
	if *from != "" {
		b, err := os.ReadFile(*from)
		if err != nil {
			return err
		}
		res = &results{}
		if err := json.Unmarshal(b, res); err != nil {
			return fmt.Errorf("%s: %w", *from, err)
		}
	} else {
		var err error
		if res, err = measure(ctx, p, *rounds, *bin, *baseline, *only); err != nil {
			return err
		}
	}
	var err error
	if *sessions {
		res.SessionsErr = ""
		if res.Sessions, err = runSessions(ctx, *sessionsN); err != nil {
			logf("sessions: %v", err)
			res.SessionsErr = err.Error()
		}
	}
	sum := summarize(res)
	fmt.Println(sum.markdown())
	if *jsonOut != "" {
		b, _ := json.MarshalIndent(res, "", "  ")
		if err := os.WriteFile(*jsonOut, b, 0o644); err != nil {
			return err
		}
	}
	if *md != "" {
		if err := writeMarkdown(*md, sum.markdown()); err != nil {
			return err
		}
	}
	if *charts != "" {
		if err := drawCharts(*charts, sum); err != nil {
			return err
		}
	}
	return nil
}

// runTarget starts the target fresh and runs the scenarios measured one
// target at a time: idle-connection memory first (so earlier load does not
// inflate the baseline), then throughput, streaming and new connections.
func runTarget(ctx context.Context, env *benchEnv, k kind, p params, m *measurement) error {
	names := []string{"memory", "throughput", "sse", "newconn"}
	if p.Scenarios != nil && !slices.ContainsFunc(names, func(n string) bool { return p.Scenarios[n] }) {
		return nil // none of them asked for: no process to start
	}
	t, err := k.start(ctx, env)
	if err != nil {
		return err
	}
	defer t.stop()
	steps := []func(context.Context, params, *measurement){t.idleMemory, t.throughput, t.sse, t.newConns}
	for i, f := range steps {
		if err := ctx.Err(); err != nil {
			return err
		}
		if p.Scenarios != nil && !p.Scenarios[names[i]] {
			continue
		}
		f(ctx, p, m)
	}
	return nil
}

// runTogether starts every target fresh and runs the scenarios that take
// turns between them (interleave.go): latency and load.
func runTogether(ctx context.Context, env *benchEnv, ks []kind, p params, ms []*measurement) error {
	if p.Scenarios != nil && !p.Scenarios["latency"] && !p.Scenarios["load"] {
		return nil
	}
	ts := make([]*target, 0, len(ks))
	defer func() {
		for _, t := range ts {
			t.stop()
		}
	}()
	for _, k := range ks {
		t, err := k.start(ctx, env)
		if err != nil {
			return err
		}
		ts = append(ts, t)
	}
	if p.Scenarios == nil || p.Scenarios["latency"] {
		latencyInterleaved(ctx, ts, p, ms)
	}
	if p.Scenarios == nil || p.Scenarios["load"] {
		loadInterleaved(ctx, ts, p, ms)
	}
	return ctx.Err()
}

func logMeasurement(name string, m measurement) {
	logf("  %-10s p50 %.3fms p99 %.3fms  %6.0f req/s  down %5.0f up %5.0f MB/s  sse p50 %.2fms p99 %.2fms  %5.0f conn/s  %.1f KiB/conn  errors %v",
		name, m.P50, m.P99, m.RPS, m.DownMBps, m.UpMBps, m.SSEP50, m.SSEP99, m.ConnPS, m.RSSPerConnKiB, m.Errors)
}

func names(ks []kind) []string {
	var out []string
	for _, k := range ks {
		out = append(out, k.name)
	}
	return out
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func goBin() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// writeMarkdown replaces what lies between the bench markers in file.
func writeMarkdown(file, table string) error {
	const begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
	old, err := os.ReadFile(file)
	if err != nil && !os.IsNotExist(err) {
		return err
	}
	s := string(old)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	block := begin + "\n" + table + "\n" + end
	if i < 0 || j < i {
		s = s + "\n" + block + "\n"
	} else {
		s = s[:i] + block + s[j+len(end):]
	}
	return os.WriteFile(file, []byte(s), 0o644)
}

// measure runs the rounds: every target started fresh in each, the proxies
// in a rotated order.
func measure(ctx context.Context, p params, rounds int, bin, baseline, only string) (*results, error) {
	dir, err := os.MkdirTemp("", "clauderon-bench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	logs, err := os.Create(filepath.Join(dir, "proxies.log"))
	if err != nil {
		return nil, err
	}
	defer logs.Close()

	env := &benchEnv{dir: dir, secret: "sk-bench-" + randHex(16), token: randHex(16), logs: logs}
	if env.self, err = os.Executable(); err != nil {
		return nil, err
	}
	env.clauderon = bin
	if env.clauderon == "" {
		env.clauderon = filepath.Join(dir, "clauderon")
		logf("building clauderon")
		cmd := exec.CommandContext(ctx, goBin(), "build", "-o", env.clauderon, "./cmd/clauderon")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go build ./cmd/clauderon (run from the repository root): %w", err)
		}
	}
	if env.up, err = startUpstream(env); err != nil {
		return nil, err
	}
	defer env.up.proc.Process.Kill()

	env.baseline = baseline
	ks := kinds
	if baseline != "" {
		ks = append(ks[:2:2], append([]kind{{"baseline", startBaseline}}, ks[2:]...)...)
	}
	if only != "" {
		all := ks
		ks = nil
		for _, k := range all {
			if k.name == "direct" || strings.Contains(","+only+",", ","+k.name+",") {
				ks = append(ks, k)
			}
		}
	}
	info := machineInfo(ctx, env)
	res := &results{Info: info, Params: p, Targets: names(ks), Rounds: map[string][]measurement{}}
	for r := range rounds {
		logf("round %d of %d (load average %s)", r+1, rounds, loadAvg())
		// Direct first (it is every ratio's reference), then the proxies in
		// a rotated order so that none always runs first or last.
		order := []kind{ks[0]}
		for i := range len(ks) - 1 {
			order = append(order, ks[1+(i+r)%(len(ks)-1)])
		}
		ms := make([]*measurement, len(order))
		for i, k := range order {
			ms[i] = &measurement{}
			if err := runTarget(ctx, env, k, p, ms[i]); err != nil {
				return nil, err
			}
		}
		if err := runTogether(ctx, env, order, p, ms); err != nil {
			return nil, err
		}
		for i, k := range order {
			logMeasurement(k.name, *ms[i])
			res.Rounds[k.name] = append(res.Rounds[k.name], *ms[i])
		}
	}
	res.Info.LoadAfter = loadAvg()
	return res, nil
}
