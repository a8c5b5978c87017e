// Command clauderon runs coding agents in containers that hold no real
// credentials. This package only wires: it reads flags and config, builds the
// rooms (proxy, store, backends, API) and hands them to each other.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/clauderon/clauderon/cli"
	"github.com/clauderon/clauderon/internal/attacker"
)

func main() {
	// In a selftest session this binary is the hostile agent (see
	// `clauderon selftest`).
	if attacker.Invoked() {
		os.Exit(attacker.Main(os.Args[1:], os.Stdout))
	}
	ctx, cancel := context.WithCancel(context.Background())
	// First signal: cancel, and every command winds down gracefully (the
	// daemon drains). Second: leave at once.
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sigs
		cancel()
		<-sigs
		fmt.Fprintln(os.Stderr, "clauderon: second signal, exiting now")
		os.Exit(130)
	}()
	stopProfile := startCPUProfile()
	root := newRoot(stdio{os.Stdin, os.Stdout, os.Stderr})
	err := root.ExecuteContext(ctx)
	cancel()
	stopProfile()
	if err != nil {
		os.Exit(cli.PrintError(os.Stderr, err))
	}
}
