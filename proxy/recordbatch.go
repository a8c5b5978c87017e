package proxy

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
)

// maxRecordPlaintext is the most plaintext one TLS record carries.
const maxRecordPlaintext = 16 << 10

// recordBatcher sits under a TLS connection (the client's, and each
// upstream one) and lets one large write leave as one write(2).
//
// crypto/tls encrypts a write record by record and sends each record with a
// write of its own. A body relayed in chunked framing is read 16 KiB (one
// record of the other leg) at a time and leaves as 16 KiB plus 8 bytes of
// framing: two records, so two system calls and two TCP segments, the second
// carrying 30 bytes. The download benchmark showed exactly that pair for
// every 16 KiB.
// While held, the batcher gathers the records and sends them together on
// release.
//
// Other goroutines may write records too (tls.Conn.Close's alert, an answer
// to a key update read by goneWatcher); crypto/tls orders them under its own
// lock, and mu keeps a direct write from slipping between the records held
// and their release.
//
// writeThrough must not run in two goroutines at once (two batches would
// mix): each connection has one writer of data, the goroutine serving the
// exchange, or ReverseProxy's copy to the client after a protocol switch.
//
// crypto/tls's Close breaks a Write in flight by closing the connection
// under it. A batch being sent is no longer a tls.Conn Write, so busy lets
// interceptedConn.Close do the same for it, rather than queue the close
// alert behind a write to a client that does not read.
type recordBatcher struct {
	net.Conn
	mu      sync.Mutex
	holding bool
	buf     *[]byte     // pooled, only while holding
	busy    atomic.Bool // from hold until release has sent the batch
}

// maxBatch is the largest write gathered: the relay's writes (a copy buffer
// and chunk framing) fit, so the pooled buffers never grow. A larger write
// has many full records, whose separate writes cost little next to it.
const maxBatch = 2 * copyBufferSize

var batchBufs = sync.Pool{New: func() any {
	// Room for maxBatch of plaintext and each record's overhead.
	b := make([]byte, 0, maxBatch+1024)
	return &b
}}

func (b *recordBatcher) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.holding {
		*b.buf = append(*b.buf, p...)
		return len(p), nil
	}
	return b.Conn.Write(p)
}

func (b *recordBatcher) hold() {
	b.busy.Store(true)
	b.mu.Lock()
	b.holding = true
	b.buf = batchBufs.Get().(*[]byte)
	b.mu.Unlock()
}

// release sends what was held, in one write.
func (b *recordBatcher) release() error {
	defer b.busy.Store(false)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.holding = false
	buf := b.buf
	b.buf = nil
	var err error
	if len(*buf) > 0 {
		_, err = b.Conn.Write(*buf)
	}
	*buf = (*buf)[:0]
	batchBufs.Put(buf)
	return err
}

// writeThrough writes p to w, the TLS connection over b, gathering its
// records into one write(2) when it has more than one and no more than
// maxBatch bytes.
func (b *recordBatcher) writeThrough(w io.Writer, p []byte) (int, error) {
	if len(p) <= maxRecordPlaintext || len(p) > maxBatch {
		return w.Write(p)
	}
	b.hold()
	n, err := w.Write(p)
	if rerr := b.release(); err == nil && rerr != nil {
		return 0, rerr
	}
	return n, err
}

// batchWriter is a TLS connection seen through its batcher, for a
// bufio.Writer to flush into.
type batchWriter struct {
	w io.Writer
	b *recordBatcher
}

func (bw batchWriter) Write(p []byte) (int, error) { return bw.b.writeThrough(bw.w, p) }
