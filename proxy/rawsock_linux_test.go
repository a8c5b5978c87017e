package proxy

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
)

// tcpPair returns the two ends of a loopback TCP connection, the first
// wrapped in a rawSocket.
func tcpPair(t *testing.T) (*rawSocket, net.Conn) {
	t.Helper()
	c, peer := loopbackPair(t)
	rs, ok := newRawSocket(c).(*rawSocket)
	if !ok {
		t.Fatal("a TCP connection was not wrapped")
	}
	return rs, peer
}

// Data crosses both ways intact, a write larger than the socket buffers
// included (the poller waits for room, EAGAIN, and the write resumes where
// it stopped), and the peer's close reads as io.EOF.
func TestRawSocketCarriesDataBothWays(t *testing.T) {
	rs, peer := tcpPair(t)
	// A small send buffer: the write must wait for room (EAGAIN) many times.
	rs.Conn.(*net.TCPConn).SetWriteBuffer(4 << 10)
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
	if _, err := rs.Read(nil); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("an empty Read after Close: %v, want net.ErrClosed", err)
	}
}

// A write deadline that passes mid-write reports what was written and a
// timeout, as net.Conn does.
func TestRawSocketWriteDeadlineMidWrite(t *testing.T) {
	rs, _ := tcpPair(t) // the peer never reads
	rs.Conn.(*net.TCPConn).SetWriteBuffer(4 << 10)
	big := make([]byte, 16<<20) // more than the peer's receive window and our buffer hold
	rs.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
	n, err := rs.Write(big)
	if n <= 0 || n >= len(big) {
		t.Fatalf("Write wrote %d of %d bytes before its deadline, want some but not all", n, len(big))
	}
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("Write past its deadline: %v, want a timeout", err)
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "write" {
		t.Fatalf("Write past its deadline: %#v, want a *net.OpError for write", err)
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

// Both legs of an intercepted exchange use raw socket calls: the client's
// connection after CONNECT and the pooled upstream one.
func TestInterceptedLegsUseRawSockets(t *testing.T) {
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	// A credential for the host makes the proxy intercept it.
	h := startProxy(t, up, []clauderon.Credential{{Rule: oauthRule(), Secret: clauderon.NewSecret(canary(t, "sk-ant-oat01-"))}})
	if _, body := get(t, h.client(testToken), "https://"+anthropicHost+"/"); body != "ok" {
		t.Fatalf("body %q", body)
	}
	p := h.p
	var client, upstream int
	p.mu.Lock()
	for c := range p.conns {
		if ic, ok := c.(*interceptedConn); ok {
			if _, raw := ic.batch.Conn.(*rawSocket); !raw {
				t.Errorf("the client's leg is a %T", ic.batch.Conn)
			}
			client++
		}
	}
	p.mu.Unlock()
	// The upstream connection returns to the pool after the client has its
	// answer.
	for deadline := time.Now().Add(5 * time.Second); upstream == 0 && time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		p.upstreams.mu.Lock()
		for _, ucs := range p.upstreams.idle {
			for _, uc := range ucs {
				if _, raw := uc.batch.Conn.(*rawSocket); !raw {
					t.Errorf("the upstream leg is a %T", uc.batch.Conn)
				}
				upstream++
			}
		}
		p.upstreams.mu.Unlock()
	}
	if client == 0 || upstream == 0 {
		t.Fatalf("%d client and %d upstream connections open after the request, want both kept alive", client, upstream)
	}
}
