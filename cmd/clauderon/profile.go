package main

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// startCPUProfile profiles the whole process into the file named by
// CLAUDERON_CPUPROFILE, for `go tool pprof`: how the proxy's CPU per request
// was found (see BENCHMARKS.md). The returned func writes the profile; it runs
// when the command returns, so stop the process with one SIGINT or SIGTERM.
func startCPUProfile() func() {
	path := os.Getenv("CLAUDERON_CPUPROFILE")
	if path == "" {
		return func() {}
	}
	f, err := os.Create(path)
	if err == nil {
		err = pprof.StartCPUProfile(f)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "clauderon: CLAUDERON_CPUPROFILE: %v\n", err)
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
