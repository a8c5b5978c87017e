package main

import (
	"fmt"
	"io"
	"os"
	"slices"
)

// subcommand runs the test-only subcommands that let tests look inside a
// container that has no shell: what the agent's environment holds, who it
// runs as, and whether files are readable or writable.
func subcommand(args []string, stdout, stderr io.Writer) (code int, ok bool) {
	switch args[0] {
	case "env":
		env := os.Environ()
		slices.Sort(env)
		for _, kv := range env {
			fmt.Fprintln(stdout, kv)
		}
		return 0, true
	case "id":
		fmt.Fprintf(stdout, "uid=%d gid=%d home=%s\n", os.Getuid(), os.Getgid(), os.Getenv("HOME"))
		return 0, true
	case "write":
		if len(args) != 3 {
			fmt.Fprintln(stderr, "usage: claude write PATH TEXT")
			return 2, true
		}
		if err := os.WriteFile(args[1], []byte(args[2]), 0o600); err != nil {
			fmt.Fprintf(stderr, "test agent: %v\n", err)
			return 1, true
		}
		fmt.Fprintf(stdout, "wrote %s\n", args[1])
		return 0, true
	case "cat":
		if len(args) != 2 {
			fmt.Fprintln(stderr, "usage: claude cat PATH")
			return 2, true
		}
		b, err := os.ReadFile(args[1])
		if err != nil {
			fmt.Fprintf(stderr, "test agent: %v\n", err)
			return 1, true
		}
		stdout.Write(b)
		return 0, true
	}
	return 0, false
}
