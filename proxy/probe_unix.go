//go:build unix

package proxy

import (
	"net"
	"syscall"
)

// connAlive reports whether an idle connection is still open with nothing
// waiting to be read: one non-blocking peek, no goroutine. End of file (the
// upstream closed it) or unexpected bytes (a TLS alert, stray data) both mean
// the connection must not carry another request.
func connAlive(c net.Conn) bool {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK
		return true // never wait for the connection to become readable
	})
	return err == nil && alive
}
