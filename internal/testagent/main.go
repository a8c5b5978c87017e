// Command testagent stands in for an agent CLI (claude first) in clauderon's
// tests. It is built static (CGO_ENABLED=0) into FROM scratch images and
// installed as "claude", and behaves like Claude Code on the wire: it reads a
// placeholder credential from the environment and sends one streaming
// Messages API request to api.anthropic.com through HTTPS_PROXY, trusting
// the CA in SSL_CERT_FILE, then prints the streamed text.
//
//	claude [--dangerously-skip-permissions] [--print|-p] [--verbose] [PROMPT]
//
// Print mode answers PROMPT and exits 0, or non-zero with a message on
// stderr. The prompt "exit:N" exits with N without any request, so tests can
// check exit codes with no provider. Interactive mode prints a banner, answers
// PROMPT, then answers each stdin line until EOF or "/exit"; see interactive.go
// for the "/" commands that work without a provider.
//
// Test-only subcommands, checked before the flags: "env" prints the
// environment, "id" prints uid, gid and HOME, "write PATH TEXT" writes a
// file, "cat PATH" prints one, "run PROGRAM ARGS..." runs a program the
// image carries (git), and "steps A -- B -- ..." runs several of
// them in one go (containers built FROM scratch have no shell).
package main

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the process: it returns the exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		if code, ok := subcommand(args, stdout, stderr); ok {
			return code
		}
	}
	var print bool
	var words []string
	for _, a := range args {
		switch {
		case a == "--print" || a == "-p":
			print = true
		case a == "exec" && len(words) == 0:
			print = true // codex exec
		case strings.HasPrefix(a, "-"):
			// --dangerously-skip-permissions, --verbose and other agents'
			// flags change nothing here.
		default:
			words = append(words, a)
		}
	}
	prompt := strings.Join(words, " ")
	if print {
		return printMode(prompt, stdin, stdout, stderr)
	}
	return interactive(prompt, stdin, stdout, stderr)
}

func printMode(prompt string, stdin io.Reader, stdout, stderr io.Writer) int {
	if prompt == "" {
		// Like claude -p: no prompt argument means the prompt is stdin.
		b, err := io.ReadAll(stdin)
		if err != nil {
			fmt.Fprintf(stderr, "test agent: reading the prompt from stdin: %v\n", err)
			return 1
		}
		prompt = strings.TrimSpace(string(b))
	}
	if code, ok := exitPrompt(prompt); ok {
		fmt.Fprintf(stderr, "test agent: exiting with %d as asked\n", code)
		return code
	}
	if err := ask(prompt, stdout); err != nil {
		fmt.Fprintf(stderr, "test agent: %v\n", err)
		return 1
	}
	return 0
}

// exitPrompt recognises "exit:N".
func exitPrompt(prompt string) (int, bool) {
	s, ok := strings.CutPrefix(prompt, "exit:")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 255 {
		return 0, false
	}
	return n, true
}
