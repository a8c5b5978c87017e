//go:build race

package proxy

import (
	"errors"
	"syscall"
)

// Under -race, sysRead and sysWrite go through syscall.Read and Write: they
// tell the race detector which buffer the kernel reads or writes, and that a
// write comes before the read that sees its bytes. With raw calls the
// detector reports a goroutine's memory writes as racing with the goroutine
// that read its answer off the socket.
func sysRead(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Read(int(fd), p)
	if err != nil {
		return 0, errnoOf(err)
	}
	return n, 0
}

func sysWrite(fd uintptr, p []byte) (int, syscall.Errno) {
	n, err := syscall.Write(int(fd), p)
	if err != nil {
		return 0, errnoOf(err)
	}
	return n, 0
}

func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if !errors.As(err, &e) {
		return syscall.EIO
	}
	return e
}
