package proxy

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// writeCountingConn counts the writes that reach the socket.
type writeCountingConn struct {
	net.Conn
	writes atomic.Int64
}

func (c *writeCountingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

// tlsPairWithBatcher returns the server side of a real TLS connection over
// loopback TCP, built as intercept builds it, the counter under it, and the
// client side.
func tlsPairWithBatcher(t *testing.T) (*interceptedConn, *writeCountingConn, *tls.Conn) {
	t.Helper()
	ca := mustCA(t, "batch CA")
	raw, sc := loopbackPair(t)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	client := tls.Client(raw, &tls.Config{ServerName: "api.example.com", RootCAs: pool})
	t.Cleanup(func() { client.Close() })
	counted := &writeCountingConn{Conn: sc}
	batch := &recordBatcher{Conn: counted}
	leaf := ca.leaf(t, "api.example.com")
	server := tls.Server(batch, &tls.Config{Certificates: []tls.Certificate{leaf}, DynamicRecordSizingDisabled: true})
	t.Cleanup(func() { server.Close() })
	errc := make(chan error, 1)
	go func() { errc <- server.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return &interceptedConn{Conn: server, batch: batch, p: &Proxy{}}, counted, client
}

// A write larger than one TLS record leaves in one write(2) and arrives whole.
func TestLargeWriteLeavesInOneSyscall(t *testing.T) {
	ic, counted, client := tlsPairWithBatcher(t)
	for _, size := range []int{maxRecordPlaintext + 8, 3*maxRecordPlaintext + 1, 100} {
		payload := bytes.Repeat([]byte{byte(size)}, size)
		before := counted.writes.Load()
		got := make(chan []byte, 1)
		go func() {
			b := make([]byte, size)
			io.ReadFull(client, b)
			got <- b
		}()
		if n, err := ic.Write(payload); err != nil || n != size {
			t.Fatalf("Write(%d bytes) = %d, %v", size, n, err)
		}
		if w := counted.writes.Load() - before; w != 1 {
			t.Errorf("%d bytes took %d writes on the socket, want 1", size, w)
		}
		if b := <-got; !bytes.Equal(b, payload) {
			t.Fatalf("%d bytes: the client read something else", size)
		}
	}
}

// A record another goroutine writes while a batch is held (an alert, say)
// reaches the socket after the batch, never inside it or before it.
func TestBatchKeepsConcurrentWritesInOrder(t *testing.T) {
	for i := range 200 {
		var out bytes.Buffer
		b := &recordBatcher{Conn: &writeOnlyConn{w: &out}}
		b.hold()
		b.Write([]byte("one,"))
		done := make(chan struct{})
		go func() {
			defer close(done)
			b.Write([]byte("two"))
		}()
		if i%2 == 0 {
			runtime.Gosched()
		}
		if err := b.release(); err != nil {
			t.Fatal(err)
		}
		<-done
		if out.String() != "one,two" {
			t.Fatalf("socket got %q", out.String())
		}
	}
}

type writeOnlyConn struct {
	net.Conn
	w io.Writer
}

func (c *writeOnlyConn) Write(b []byte) (int, error) { return c.w.Write(b) }

// Closing the connection while a batch is stuck on a client that does not
// read breaks the write at once, as crypto/tls does for a write of its own,
// instead of waiting out its close alert's 5 s deadline behind it.
func TestCloseBreaksABatchStuckOnTheClient(t *testing.T) {
	ic, counted, client := tlsPairWithBatcher(t)
	_ = client // never read: the socket buffers fill up
	wrote := make(chan error, 1)
	go func() {
		piece := make([]byte, maxRecordPlaintext+8) // batched, like a framed chunk
		for {
			if _, err := ic.Write(piece); err != nil {
				wrote <- err
				return
			}
		}
	}()
	// Wait until the writes stop: the buffers are full and a batch's write
	// is stuck.
	for last := int64(-1); ; {
		time.Sleep(200 * time.Millisecond)
		n := counted.writes.Load()
		if n == last && ic.batch.busy.Load() {
			break
		}
		last = n
	}
	closed := make(chan struct{})
	go func() {
		ic.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(3 * time.Second):
		t.Fatal("Close waited behind the stuck batch")
	}
	if err := <-wrote; err == nil {
		t.Fatal("the stuck write did not fail")
	}
}
