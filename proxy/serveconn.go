package proxy

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The requests inside an intercepted connection are read and answered by
// serveConn, a small HTTP/1.1 server loop, rather than by a net/http.Server:
//
//   - Between requests the connection holds no buffer. It waits for the
//     next request's first byte with a one-byte read (crypto/tls keeps the
//     rest of the record), and only then takes a read and a write buffer from
//     pools, returning them when the response is done. net/http keeps a 4 KiB
//     reader and a 4 KiB writer per connection for its whole life, which was
//     most of an idle connection's memory.
//   - There is no background read per short request and no second
//     goroutine: the loop reads a request, runs serveIntercepted, finishes
//     the response and reads the next, on one goroutine. net/http's background read (to notice
//     a client going away) costs a goroutine wake-up and two deadline changes
//     per request, a large share of a small request's time through the proxy.
//
// Parsing is net/http's own (http.ReadRequest, with the checks http.Server
// adds: Host, header names and values, the head size limit). The response is
// written through respWriter, an http.ResponseWriter with net/http's framing
// (Content-Length, chunked with trailers, close-delimited), by the proxy's own
// upstream client (roundtrip.go) or, for protocol switches, by
// httputil.ReverseProxy. A client
// that goes away is noticed when a write to it fails or, for a request still
// waiting for the upstream after goneWatchDelay, by goneWatcher; either ends
// the upstream request.

// Sizes of the pooled buffers; the same as net/http's.
const (
	connReadBufSize  = 4 << 10
	connWriteBufSize = 4 << 10
	// maxPostHandlerReadBytes is how much of a request body the handler
	// left unread is drained to keep the connection; beyond it, the
	// connection is closed (net/http's rule).
	maxPostHandlerReadBytes = 256 << 10
)

// chunkFraming bounds the bytes chunked framing adds to a chunk: its size
// in hex (16 digits at most) and two CRLFs.
const chunkFraming = 16 + 4

var (
	// chunkScratch holds framed chunks written in one piece (respWriter.Write).
	chunkScratch = sync.Pool{New: func() any { b := make([]byte, 0, copyBufferSize+chunkFraming); return &b }}
	readerPool   = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, connReadBufSize) }}
	writerPool   = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, connWriteBufSize) }}
)

// connSource is what the pooled reader reads: the byte that woke the loop,
// then the connection, with the head-size limit applied while a head is read.
type connSource struct {
	c       net.Conn
	first   [1]byte
	hasByte bool
	limit   int64 // bytes left for the request head; < 0 means no limit
	hitLim  bool
}

func (s *connSource) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if s.limit == 0 {
		s.hitLim = true
		return 0, io.EOF
	}
	if s.limit > 0 && int64(len(p)) > s.limit {
		p = p[:s.limit]
	}
	var n int
	var err error
	if s.hasByte {
		p[0] = s.first[0]
		s.hasByte = false
		n = 1
	} else {
		n, err = s.c.Read(p)
	}
	if s.limit > 0 {
		s.limit -= int64(n)
	}
	return n, err
}

// serveConn serves the requests of one intercepted connection until the
// client closes it, asks to, stays idle for IdleTimeout, a response cannot be
// framed for reuse, or Shutdown.
func (p *Proxy) serveConn(ic *interceptedConn) {
	defer func() {
		if !ic.hijacked {
			ic.Close()
		}
	}()
	src := &connSource{c: ic, limit: -1}
	// One context per connection, not per request: it ends only when the
	// client goes away (goneWatcher), and then the connection is done too.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var br *bufio.Reader // held only while a request is served, or pipelined bytes wait
	defer func() {
		if br != nil && !ic.hijacked {
			br.Reset(nil)
			readerPool.Put(br)
		}
	}()
	for {
		if br == nil || br.Buffered() == 0 {
			if br != nil {
				br.Reset(nil)
				readerPool.Put(br)
				br = nil
			}
			if !src.hasByte { // (the watcher may have read it already)
				// Idle: wait for the next request without holding a buffer.
				ic.SetReadDeadline(time.Now().Add(IdleTimeout))
				n, err := ic.Read(src.first[:])
				if n == 0 {
					if err == nil {
						continue
					}
					return
				}
				src.hasByte = true
			}
			br = readerPool.Get().(*bufio.Reader)
			br.Reset(src)
		}
		if !p.beginRequest(ic) {
			return
		}
		ic.SetReadDeadline(time.Now().Add(ReadHeaderTimeout))
		keep := p.serveOne(ctx, cancel, ic, src, br)
		if !p.endRequest(ic) || !keep {
			return
		}
	}
}

// serveOne reads and answers one request. It reports whether the connection
// may carry another.
func (p *Proxy) serveOne(ctx context.Context, cancel context.CancelFunc, ic *interceptedConn, src *connSource, br *bufio.Reader) (keep bool) {
	src.limit, src.hitLim = MaxHeaderBytes+4096, false
	req, err := http.ReadRequest(br)
	hitLimit := src.hitLim
	src.limit = -1
	if err != nil {
		switch {
		case hitLimit:
			writeError(ic, http.StatusRequestHeaderFieldsTooLarge, "request head too large")
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), isTimeout(err):
			// The client closed or went quiet mid-head: nothing to answer.
		default:
			writeError(ic, http.StatusBadRequest, "malformed request")
		}
		return false
	}
	if msg := checkRequest(req); msg != "" {
		writeError(ic, http.StatusBadRequest, msg)
		return false
	}
	ic.SetReadDeadline(time.Time{})

	req = req.WithContext(ctx)
	req.RemoteAddr = ic.remoteAddr
	req.TLS = ic.tlsState

	bw := writerPool.Get().(*bufio.Writer)
	bw.Reset(ic)
	w := &respWriter{conn: ic, br: br, bw: bw, req: req, header: make(http.Header), contentLength: -1}
	defer func() {
		if !w.hijacked {
			bw.Reset(nil)
			writerPool.Put(bw)
		}
	}()
	w.watch = &goneWatcher{conn: ic, src: src, br: br, cancel: cancel}
	if req.Body != nil && req.Body != http.NoBody {
		if req.ProtoAtLeast(1, 1) && req.ContentLength != 0 && hasToken(req.Header.Get("Expect"), "100-continue") {
			req.Body = &expectContinueReader{ReadCloser: req.Body, w: w}
		}
		req.Body = &eofSignal{ReadCloser: req.Body, w: w.watch}
		w.body = req.Body
	} else {
		w.watch.bodyRead.Store(true)
	}
	w.watch.start()
	ok := p.handle(w, req)
	w.watch.stop()
	if !ok {
		return false
	}
	if w.hijacked {
		ic.hijacked = true
		return false
	}
	if w.abort {
		return false
	}
	if err := w.finish(); err != nil {
		return false
	}
	if w.closeAfter {
		return false
	}
	// Whatever the handler left of the request body is drained, up to a
	// limit, so that the next request starts at a request line.
	if w.body != nil {
		n, err := io.CopyN(io.Discard, w.body, maxPostHandlerReadBytes+1)
		if n > maxPostHandlerReadBytes || (err != nil && err != io.EOF) {
			return false
		}
	}
	return true
}

// handle runs the handler; a panic closes the connection, as net/http does
// (http.ErrAbortHandler quietly: ReverseProxy uses it to cut a stream).
func (p *Proxy) handle(w *respWriter, req *http.Request) (ok bool) {
	defer func() {
		if v := recover(); v != nil {
			ok = false
			if v != http.ErrAbortHandler {
				buf := make([]byte, 16<<10)
				buf = buf[:runtime.Stack(buf, false)]
				p.log.Error("panic serving an intercepted request", "panic", fmt.Sprint(v), "stack", string(buf))
			}
		}
	}()
	p.serveIntercepted(w, req)
	return true
}

// checkRequest applies the checks http.Server makes after parsing.
func checkRequest(req *http.Request) string {
	if req.ProtoMajor != 1 {
		return "unsupported protocol version"
	}
	if req.Method == http.MethodConnect {
		return "CONNECT inside an intercepted connection"
	}
	if req.ProtoAtLeast(1, 1) && req.Host == "" {
		return "missing required Host header"
	}
	for k, vv := range req.Header {
		if !validHeaderName(k) {
			return "invalid header name"
		}
		for _, v := range vv {
			if !validHeaderValue(v) {
				return "invalid header value"
			}
		}
	}
	return ""
}

// validHeaderName reports whether k is an RFC 7230 token.
func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

// validHeaderValue refuses control characters other than horizontal tab.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

func hasToken(v, token string) bool {
	for _, t := range strings.Split(v, ",") {
		if strings.EqualFold(strings.TrimSpace(t), token) {
			return true
		}
	}
	return false
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// writeError answers a request that could not be read, and the connection
// is then closed.
func writeError(c net.Conn, code int, msg string) {
	body := "clauderon proxy: " + msg + "\n"
	c.SetWriteDeadline(time.Now().Add(time.Second))
	fmt.Fprintf(c, "HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s",
		code, http.StatusText(code), len(body), body)
}

// beginRequest marks ic busy, unless the proxy is shutting down.
func (p *Proxy) beginRequest(ic *interceptedConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closing.Load() {
		return false
	}
	ic.active = true
	return true
}

// endRequest marks ic idle; it reports false when Shutdown began meanwhile,
// and the connection is to be closed.
func (p *Proxy) endRequest(ic *interceptedConn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	ic.active = false
	return !p.closing.Load()
}

// closeIdleIntercepted closes intercepted connections between requests and
// reports how many are still serving one. Shutdown polls it.
func (p *Proxy) closeIdleIntercepted() int {
	var idle []net.Conn
	busy := 0
	p.mu.Lock()
	for c := range p.conns {
		if ic, ok := c.(*interceptedConn); ok {
			if ic.active {
				busy++
			} else {
				idle = append(idle, ic)
			}
		}
	}
	p.mu.Unlock()
	for _, c := range idle {
		c.Close()
	}
	return busy
}

// goneWatcher notices a client that goes away while its request waits for
// the upstream, and cancels the request (so the upstream stops generating),
// as net/http's background read does. Unlike net/http it starts only when a
// request is still running after goneWatchDelay, and only once the request
// body has been read: the many short requests pay nothing for it.
type goneWatcher struct {
	conn     *interceptedConn
	src      *connSource
	br       *bufio.Reader
	cancel   context.CancelFunc // ends the connection's context
	bodyRead atomic.Bool        // the request body reached its end (or there is none)

	mu       sync.Mutex
	stopped  bool
	watching bool
	gone     bool          // the client went away
	upstream net.Conn      // the upstream connection of the exchange, interrupted when the client goes
	done     chan struct{} // closed when the reading goroutine ends (made when it starts)
}

// goneWatchDelay is how long a request runs before its client is watched.
const goneWatchDelay = 100 * time.Millisecond

// start has the watcher fire once the request has run for goneWatchDelay
// (see slowRequests).
func (g *goneWatcher) start() {
	g.conn.p.slow.add(g, time.Now())
}

func (g *goneWatcher) fire() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped || g.watching {
		return
	}
	if !g.bodyRead.Load() || g.br.Buffered() > 0 {
		// The body is still being read (or the client pipelined its next
		// request): the client is there. Look again later.
		g.conn.p.slow.add(g, time.Now())
		return
	}
	g.watching = true
	g.done = make(chan struct{})
	go g.read()
}

// read blocks on the connection. A byte is the start of the client's next
// request and is kept for it; an error other than stop's deadline means the
// client went away.
func (g *goneWatcher) read() {
	defer close(g.done)
	var b [1]byte
	n, err := g.conn.Read(b[:])
	if n == 1 {
		g.src.first[0], g.src.hasByte = b[0], true
		return
	}
	g.mu.Lock()
	gone := err != nil && !g.stopped
	if gone {
		g.gone = true
		// Cancel first: the exchange, woken by the deadline below, tells
		// a client gone from an upstream failure by its context.
		g.cancel()
		if g.upstream != nil {
			// The upstream stops generating at once, whether the
			// exchange waits for its answer or for the next piece of a
			// stream.
			g.upstream.SetDeadline(aLongTimeAgo)
		}
	}
	g.mu.Unlock()
}

// watchUpstream names the upstream connection to interrupt if the client
// goes away (nil: none any more). It reports false if the client is gone
// already: the connection must then be neither used nor pooled.
func (g *goneWatcher) watchUpstream(c net.Conn) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.upstream = c
	return !g.gone
}

// stop ends the watch before the connection is read or handed over again.
// It may be called more than once.
func (g *goneWatcher) stop() {
	g.mu.Lock()
	if g.stopped {
		g.mu.Unlock()
		return
	}
	g.stopped = true
	g.conn.p.slow.remove(g)
	watching := g.watching
	g.mu.Unlock()
	if watching {
		g.conn.SetReadDeadline(aLongTimeAgo) // wakes the read
		<-g.done
		g.conn.SetReadDeadline(time.Time{})
	}
}

// eofSignal tells the watcher when the request body has been read.
type eofSignal struct {
	io.ReadCloser
	w *goneWatcher
}

func (r *eofSignal) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	if err == io.EOF {
		r.w.bodyRead.Store(true)
	}
	return n, err
}

// expectContinueReader sends "100 Continue" when the request body is first
// read, as net/http does: the upstream transport reads it only once the
// upstream agreed.
type expectContinueReader struct {
	io.ReadCloser
	w    *respWriter
	sent bool
}

func (r *expectContinueReader) Read(p []byte) (int, error) {
	if !r.sent {
		r.sent = true
		r.w.writeContinue()
	}
	return r.ReadCloser.Read(p)
}

// respWriter is the http.ResponseWriter of one request on an intercepted
// connection: HTTP/1.1 framing (Content-Length, chunked with trailers, or
// close-delimited for HTTP/1.0 clients), 1xx responses, Flush and Hijack.
type respWriter struct {
	conn   *interceptedConn
	br     *bufio.Reader
	bw     *bufio.Writer
	req    *http.Request
	body   io.ReadCloser
	header http.Header

	mu          sync.Mutex // 1xx responses may be written from the transport's goroutine
	wroteHeader bool
	wroteCont   bool // a 100 Continue went out (or is no longer allowed)
	status      int

	bodyAllowed   bool
	chunked       bool
	contentLength int64 // -1: not declared
	written       int64
	trailers      []string // announced trailer names
	closeAfter    bool
	hijacked      bool
	abort         bool // the response was cut: close without ending it
	finished      bool // finish ran, with finishErr
	finishErr     error
	err           error
	watch         *goneWatcher
}

func (w *respWriter) Header() http.Header { return w.header }

func (w *respWriter) writeContinue() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.wroteCont || w.wroteHeader || w.hijacked {
		return
	}
	w.wroteCont = true
	w.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
	w.bw.Flush()
}

func (w *respWriter) WriteHeader(code int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.hijacked || w.wroteHeader {
		return
	}
	if code < 100 || code > 999 {
		panic(fmt.Sprintf("invalid WriteHeader code %v", code))
	}
	if code >= 100 && code <= 199 && code != http.StatusSwitchingProtocols {
		if code == http.StatusContinue {
			if w.wroteCont {
				return
			}
			w.wroteCont = true
		}
		w.writeStatusLine(code)
		w.header.Write(w.bw) //nolint:errcheck // surfaces on Flush
		w.bw.WriteString("\r\n")
		w.err = w.bw.Flush()
		return
	}
	w.wroteHeader, w.wroteCont, w.status = true, true, code
	h := w.header
	w.bodyAllowed = w.req.Method != http.MethodHead && code != http.StatusNoContent &&
		code != http.StatusNotModified && code != http.StatusSwitchingProtocols
	if cl := h.Get("Content-Length"); cl != "" {
		if n, err := strconv.ParseInt(cl, 10, 64); err == nil && n >= 0 {
			w.contentLength = n
		} else {
			h.Del("Content-Length")
		}
	}
	for _, v := range h["Trailer"] {
		for _, k := range strings.Split(v, ",") {
			if k = strings.TrimSpace(k); k != "" {
				w.trailers = append(w.trailers, http.CanonicalHeaderKey(k))
			}
		}
	}
	switch {
	case !w.bodyAllowed:
	case w.contentLength >= 0 && len(w.trailers) == 0:
	case w.req.ProtoAtLeast(1, 1):
		w.chunked = true
		h.Del("Content-Length")
		h.Set("Transfer-Encoding", "chunked")
	default:
		// An HTTP/1.0 client without a length: the end of the body is
		// the end of the connection.
		w.closeAfter = true
		h.Del("Content-Length")
	}
	if w.req.Close || hasToken(h.Get("Connection"), "close") ||
		(!w.req.ProtoAtLeast(1, 1) && !hasToken(w.req.Header.Get("Connection"), "keep-alive")) {
		w.closeAfter = true
	}
	if w.closeAfter {
		h.Set("Connection", "close")
	} else if !w.req.ProtoAtLeast(1, 1) {
		h.Set("Connection", "keep-alive")
	}
	if _, ok := h["Date"]; !ok {
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	w.writeStatusLine(code)
	w.err = h.Write(w.bw)
	w.bw.WriteString("\r\n")
}

func (w *respWriter) writeStatusLine(code int) {
	w.bw.WriteString("HTTP/1.1 ")
	w.bw.WriteString(strconv.Itoa(code))
	w.bw.WriteByte(' ')
	if t := http.StatusText(code); t != "" {
		w.bw.WriteString(t)
	} else {
		w.bw.WriteString("status code " + strconv.Itoa(code))
	}
	w.bw.WriteString("\r\n")
}

// writeChunk writes p (not empty) as one chunk of chunked framing. A chunk
// the buffer has no room for goes out framed in one piece: through the
// buffer it would leave as a 4 KiB record, then the rest, then the two bytes
// ending it (three writes on the socket).
func writeChunk(bw *bufio.Writer, p []byte) (int, error) {
	if len(p)+chunkFraming > bw.Available() {
		sp := chunkScratch.Get().(*[]byte)
		defer chunkScratch.Put(sp)
		out := strconv.AppendInt((*sp)[:0], int64(len(p)), 16)
		out = append(append(append(out, "\r\n"...), p...), "\r\n"...)
		if cap(out) <= copyBufferSize+chunkFraming { // a larger one is not kept
			*sp = out[:0]
		}
		if _, err := bw.Write(out); err != nil {
			return 0, err
		}
		return len(p), nil
	}
	bw.WriteString(strconv.FormatInt(int64(len(p)), 16))
	bw.WriteString("\r\n")
	n, err := bw.Write(p)
	if err == nil {
		_, err = bw.WriteString("\r\n")
	}
	return n, err
}

func (w *respWriter) Write(b []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if len(b) == 0 {
		return 0, nil
	}
	if !w.bodyAllowed {
		return 0, http.ErrBodyNotAllowed
	}
	if w.err != nil {
		return 0, w.err
	}
	var over bool
	if w.contentLength >= 0 && !w.chunked {
		if left := w.contentLength - w.written; int64(len(b)) > left {
			b, over = b[:left], true
		}
	}
	var n int
	if w.chunked {
		n, w.err = writeChunk(w.bw, b)
	} else {
		n, w.err = w.bw.Write(b)
	}
	w.written += int64(n)
	if w.err != nil {
		return n, w.err
	}
	if over {
		return n, http.ErrContentLength
	}
	return n, nil
}

// FlushError sends what is buffered; http.ResponseController finds it.
func (w *respWriter) FlushError() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return w.err
	}
	w.err = w.bw.Flush()
	return w.err
}

func (w *respWriter) Flush() { w.FlushError() } //nolint:errcheck // http.Flusher has no error

// Hijack hands the connection to the handler (ReverseProxy, for a protocol
// switch) with any bytes the client already sent.
func (w *respWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.watch.stop() // the handler reads the connection from now on
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.wroteHeader {
		return nil, nil, errors.New("hijack after the response head was written")
	}
	if err := w.bw.Flush(); err != nil {
		return nil, nil, err
	}
	w.hijacked = true
	return w.conn, bufio.NewReadWriter(w.br, bufio.NewWriter(w.conn)), nil
}

// finish ends the response: the last chunk and the trailers, or a check that
// the declared length was written, then a flush. The handler may call it
// itself, so that the client has the whole response before the audit line
// is written; later calls return the first one's result.
func (w *respWriter) finish() error {
	if w.finished {
		return w.finishErr
	}
	w.finished = true
	w.finishErr = w.end()
	return w.finishErr
}

func (w *respWriter) end() error {
	if !w.wroteHeader {
		w.header.Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return w.err
	}
	if w.chunked {
		w.bw.WriteString("0\r\n")
		tr := http.Header{}
		for _, k := range w.trailers {
			if vv, ok := w.header[k]; ok {
				tr[k] = vv
			}
		}
		for k, vv := range w.header {
			if name, ok := strings.CutPrefix(k, http.TrailerPrefix); ok {
				tr[http.CanonicalHeaderKey(name)] = vv
			}
		}
		tr.Write(w.bw) //nolint:errcheck // surfaces on Flush
		w.bw.WriteString("\r\n")
	} else if w.bodyAllowed && w.contentLength >= 0 && w.written != w.contentLength {
		// A short body cannot be framed for reuse: the client learns it was
		// cut from the connection closing.
		w.bw.Flush()
		return io.ErrUnexpectedEOF
	}
	return w.bw.Flush()
}

// tlsStateOf is computed once per connection, as net/http does.
func tlsStateOf(tc *tls.Conn) *tls.ConnectionState {
	st := tc.ConnectionState()
	return &st
}
