package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"unsafe"
)

// Banner is the first line interactive mode prints; tests wait for it.
const Banner = "clauderon test agent ready"

// interactive answers prompt, then each stdin line, until EOF or "/exit".
// A failed call prints "error: ..." and goes on, like a chat would. Lines
// starting with "/" need no provider:
//
//	/echo TEXT  prints TEXT
//	/size       prints the terminal size as "size COLSxROWS"
//	/exit [N]   exits with N (default 0)
//
// A terminal resize prints "resized COLSxROWS".
func interactive(prompt string, stdin io.Reader, stdout, stderr io.Writer) int {
	fmt.Fprintln(stdout, Banner)
	winch := make(chan os.Signal, 1)
	signal.Notify(winch, syscall.SIGWINCH)
	go func() {
		for range winch {
			fmt.Fprintf(stdout, "resized %s\n", termSize())
		}
	}()
	if prompt != "" {
		answer(prompt, stdout)
	}
	sc := bufio.NewScanner(stdin)
	for {
		fmt.Fprint(stdout, "> ")
		if !sc.Scan() {
			fmt.Fprintln(stdout)
			return 0
		}
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case line == "/exit" || strings.HasPrefix(line, "/exit "):
			code, _ := exitPrompt("exit:" + strings.TrimSpace(strings.TrimPrefix(line, "/exit")))
			return code
		case strings.HasPrefix(line, "/echo "):
			fmt.Fprintln(stdout, strings.TrimPrefix(line, "/echo "))
		case line == "/size":
			fmt.Fprintf(stdout, "size %s\n", termSize())
		default:
			answer(line, stdout)
		}
	}
}

func answer(prompt string, stdout io.Writer) {
	if err := ask(prompt, stdout); err != nil {
		fmt.Fprintf(stdout, "error: %v\n", err)
	}
}

// termSize is stdin's terminal size as COLSxROWS, or "none" when stdin is not
// a terminal.
func termSize() string {
	var ws struct{ rows, cols, x, y uint16 }
	_, _, errno := syscall.Syscall(syscall.SYS_IOCTL, uintptr(0), uintptr(syscall.TIOCGWINSZ), uintptr(unsafe.Pointer(&ws)))
	if errno != 0 {
		return "none"
	}
	return fmt.Sprintf("%dx%d", ws.cols, ws.rows)
}
