package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection, the first
// wrapped in a rawSocket.
func tcpPair(t *testing.T) (*rawSocket, net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer := <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	rs, ok := newRawSocket(c).(*rawSocket)
	if !ok {
		t.Fatal("a TCP connection was not wrapped")
	}
	t.Cleanup(func() { rs.Close(); peer.Close() })
	return rs, peer
}

// Data crosses both ways intact, a write larger than the socket buffers
// included (the poller waits for room, EAGAIN, and the write resumes where
// it stopped), and the peer's close reads as io.EOF.
func TestRawSocketCarriesDataBothWays(t *testing.T) {
	rs, peer := tcpPair(t)
	// Small socket buffers: the write must wait for room (EAGAIN) many times.
	rs.Conn.(*net.TCPConn).SetWriteBuffer(4 << 10)
	peer.(*net.TCPConn).SetReadBuffer(4 << 10)
	big := bytes.Repeat([]byte("0123456789abcdef"), 64<<10) // 1 MiB
	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(peer, int64(len(big))))
		got <- b
	}()
	if n, err := rs.Write(big); n != len(big) || err != nil {
		t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(big))
	}
	if b := <-got; !bytes.Equal(b, big) {
		t.Fatalf("the peer read %d bytes, not the %d written", len(b), len(big))
	}

	if _, err := peer.Write([]byte("pong")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 16)
	if n, err := io.ReadAtLeast(rs, buf, 4); err != nil || string(buf[:n]) != "pong" {
		t.Fatalf("Read = %q, %v", buf[:n], err)
	}
	if n, err := rs.Read(nil); n != 0 || err != nil {
		t.Fatalf("an empty Read = %d, %v; want 0, nil", n, err)
	}
	peer.Close()
	if n, err := rs.Read(buf); n != 0 || err != io.EOF {
		t.Fatalf("Read after the peer closed = %d, %v; want io.EOF", n, err)
	}
}

// Deadlines and Close end a waiting Read as they do for net.Conn, with a
// *net.OpError naming the read.
func TestRawSocketDeadlineAndClose(t *testing.T) {
	rs, _ := tcpPair(t)
	rs.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	_, err := rs.Read(make([]byte, 8))
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Read past its deadline: %v, want a timeout", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "read" || oe.Addr == nil {
		t.Fatalf("Read past its deadline: %#v, want a *net.OpError for read with the peer's address", err)
	}
	rs.SetReadDeadline(time.Time{})

	done := make(chan error, 1)
	go func() {
		_, err := rs.Read(make([]byte, 8))
		done <- err
	}()
	time.Sleep(20 * time.Millisecond) // let the Read wait in the poller
	rs.Close()
	select {
	case err := <-done:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("Read ended by Close: %v, want net.ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end a waiting Read")
	}
	if _, err := rs.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close: %v, want net.ErrClosed", err)
	}
}

// An error from the system call itself (here a reset) is reported with its
// errno, as net.Conn does.
func TestRawSocketReportsTheSystemCallError(t *testing.T) {
	rs, peer := tcpPair(t)
	peer.(*net.TCPConn).SetLinger(0) // close with RST
	peer.Close()
	time.Sleep(20 * time.Millisecond)
	_, err := rs.Read(make([]byte, 8))
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("Read after a reset: %v, want ECONNRESET", err)
	}
	var se *os.SyscallError
	if !errors.As(err, &se) || se.Syscall != "read" {
		t.Fatalf("Read after a reset: %#v, want an *os.SyscallError for read", err)
	}
}

// Other connections are left as they are.
func TestNewRawSocketLeavesOtherConnsAlone(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if c := newRawSocket(a); c != a {
		t.Fatalf("newRawSocket wrapped a %T", a)
	}
}
