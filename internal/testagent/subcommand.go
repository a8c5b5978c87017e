package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
)

// subcommand runs the test-only subcommands that let tests look inside a
// container that has no shell: what the agent's environment holds, who it
// runs as, and whether files are readable or writable.
func subcommand(args []string, stdout, stderr io.Writer) (code int, ok bool) {
	switch args[0] {
	case "steps":
		return steps(args[1:], stdout), true
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
	case "run":
		return runProgram(args[1:], stdout, stderr), true
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
		if len(b) > 0 && b[len(b)-1] != '\n' {
			b = append(b, '\n') // keeps "steps" output one item a line
		}
		stdout.Write(b)
		return 0, true
	}
	return 0, false
}

// steps runs several subcommands in one container, separated by "--", and
// goes on after a failure. Each step prints "$ ARGS", its output (stderr
// too, so the order is kept) and "exit CODE". It exits with the number of
// failed steps.
func steps(args []string, stdout io.Writer) int {
	failed := 0
	for len(args) > 0 {
		step := args
		if i := slices.Index(args, "--"); i >= 0 {
			step, args = args[:i], args[i+1:]
		} else {
			args = nil
		}
		if len(step) == 0 {
			continue
		}
		fmt.Fprintf(stdout, "$ %s\n", strings.Join(step, " "))
		code, ok := subcommand(step, stdout, stdout)
		if !ok {
			fmt.Fprintf(stdout, "unknown step %q\n", step[0])
			code = 2
		}
		if code != 0 {
			failed++
		}
		fmt.Fprintf(stdout, "exit %d\n", code)
	}
	return failed
}

// runProgram runs another program in the container (for images that carry
// one, such as git) with the agent's environment and working directory, and
// returns its exit code.
func runProgram(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: claude run PROGRAM [ARGS...]")
		return 2
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		fmt.Fprintf(stderr, "test agent: %v\n", err)
		return 127
	}
	return 0
}
