package proxy

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// rawSocket reads and writes a TCP connection's socket with raw system
// calls, for the TLS legs of an intercepted exchange.
//
// net.Conn makes every read(2) and write(2) through the runtime's syscall
// path, which lets the runtime's monitor (sysmon) hand the goroutine's
// processor to another thread when a call outlasts its 20 µs tick. A write
// on a loopback or bridge socket does the receiver's TCP work too, and under
// 64 concurrent clients many writes outlast a tick: each hand-off wakes a
// thread (futex), and the writer, finding its processor gone when the call
// returns, parks its own. The profile under load showed those hand-offs
// (retake, exitsyscall, futex) at about 3% of the proxy's CPU.
//
// The sockets are non-blocking (the runtime's poller waits for them), so a
// read or write never waits for the peer: it returns EAGAIN instead, and the
// poller's wait is used for that, through syscall.RawConn, which keeps
// deadlines and Close working as they do for net.Conn. Only the hand-off is
// skipped. The cost: for the length of the call (the socket's lock, the
// copy, the TCP work) the processor is not given to another goroutine, and
// a stop-the-world waits for it, as for any Go code running; and the race
// detector would not see the kernel's reads and writes of the buffers, nor
// the order a write and the read that sees its bytes give two goroutines, so
// race builds make the calls through syscall.Read and Write, which tell it
// (rawsock_race_linux.go).
type rawSocket struct {
	net.Conn
	rc     syscall.RawConn
	rd, wr rawOp
}

// rawOp is one direction's call to RawConn, kept in the socket so that a
// read or write allocates no closure.
type rawOp struct {
	mu    sync.Mutex // RawConn serializes calls too, but p, n and errno are set before it
	fn    func(fd uintptr) bool
	p     []byte
	n     int
	errno syscall.Errno
}

// newRawSocket wraps c when it is a socket the runtime polls, and returns
// it unchanged otherwise.
func newRawSocket(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	rc, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	s := &rawSocket{Conn: c, rc: rc}
	s.rd.fn = s.rd.read
	s.wr.fn = s.wr.write
	return s
}

// read makes one read(2) into p; false (EAGAIN) has the poller wait for
// the socket to be readable and call it again.
func (o *rawOp) read(fd uintptr) bool {
	for {
		r, e := sysRead(fd, o.p)
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		o.n, o.errno = r, e
		return true
	}
}

// write writes all of p; false (EAGAIN) has the poller wait for room in the
// send buffer and call it again.
func (o *rawOp) write(fd uintptr) bool {
	for o.n < len(o.p) {
		r, e := sysWrite(fd, o.p[o.n:])
		switch e {
		case 0:
			o.n += r
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			o.errno = e
			return true
		}
	}
	return true
}

func (s *rawSocket) Read(p []byte) (int, error) {
	if len(p) == 0 { // no system call, but the closed check net.Conn makes
		if err := s.rc.Read(func(uintptr) bool { return true }); err != nil {
			return 0, s.opError("read", err)
		}
		return 0, nil
	}
	o := &s.rd
	o.mu.Lock()
	defer o.mu.Unlock()
	o.p, o.n, o.errno = p, 0, 0
	err := s.rc.Read(o.fn)
	n, errno := o.n, o.errno
	o.p = nil
	switch {
	case err != nil:
		return 0, s.opError("read", err)
	case errno != 0:
		return 0, s.opError("read", errno)
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

func (s *rawSocket) Write(p []byte) (int, error) {
	o := &s.wr
	o.mu.Lock()
	defer o.mu.Unlock()
	o.p, o.n, o.errno = p, 0, 0
	err := s.rc.Write(o.fn)
	n, errno := o.n, o.errno
	o.p = nil
	switch {
	case err != nil:
		return n, s.opError("write", err)
	case errno != 0:
		return n, s.opError("write", errno)
	}
	return n, nil
}

// opError reports err as net.Conn would: a *net.OpError naming the
// operation and the addresses, around the poller's error (a deadline, a
// closed connection) or the system call's.
func (s *rawSocket) opError(op string, err error) error {
	var oe *net.OpError
	if errors.As(err, &oe) { // from RawConn, named "raw-read" or "raw-write"
		err = oe.Err
	} else if errno, ok := err.(syscall.Errno); ok {
		err = os.NewSyscallError(op, errno)
	}
	return &net.OpError{Op: op, Net: "tcp", Source: s.LocalAddr(), Addr: s.RemoteAddr(), Err: err}
}
