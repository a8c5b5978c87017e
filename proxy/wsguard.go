package proxy

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net/http"
	"strings"
	"unicode/utf8"
)

// The leak guard for protocol switches.
//
// After a 101 the connection no longer carries HTTP: ReverseProxy copies raw
// bytes both ways, past the guard that redacts headers and bodies. An
// upstream that echoes the Authorization value it received inside a
// WebSocket frame (an error message, a debug echo, a Realtime API event
// quoting the request) would hand the container the very secret the proxy
// kept from it. So the upstream's side of a switched connection is read
// through a guard too:
//
//   - WebSocket (RFC 6455), the protocol that matters here, is parsed frame
//     by frame (wsGuard): each payload goes through the redactor and out
//     again re-framed with its new length, since a placeholder and its
//     secret may differ in length. The frames are checked as strictly as a
//     client would: the guard must understand every byte it passes.
//   - Compression would hide a secret from the guard, so the extension
//     offer is removed from the upgrade request (rewrite), and a 101 that
//     negotiates an extension anyway is refused (errWSExtension), as is any
//     frame with RSV bits set.
//   - Any other protocol is redacted as a plain byte stream, like a body.
//
// What the container sends upstream passes untouched: it holds no secret.
// Without secrets (no redactor) nothing is wrapped at all.

// errWSExtension refuses a 101 that negotiated a WebSocket extension even
// though the proxy offered none: permessage-deflate frames are unreadable to
// the leak guard.
var errWSExtension = errors.New("upstream negotiated a WebSocket extension the leak guard cannot read")

// guardSwitch puts the leak guard between the upstream side of a protocol
// switch (the 101 response's Body) and the client. The response headers must
// have been redacted already.
func (p *Proxy) guardSwitch(ex *exchange, res *http.Response, conn io.ReadWriteCloser) (io.ReadWriteCloser, error) {
	if ex.red == nil {
		return conn, nil
	}
	// Checked on every 101, whatever it names: an extension makes frames
	// unreadable.
	for _, v := range res.Header.Values("Sec-WebSocket-Extensions") {
		if strings.TrimSpace(v) != "" {
			return nil, errWSExtension
		}
	}
	if !hasToken(res.Header.Get("Upgrade"), "websocket") {
		// Not a protocol the guard can parse: redact it as a byte stream.
		// A replacement that changes the length may break that protocol's
		// own framing. A secret the protocol encodes (compressed, say)
		// is not recognised: see docs/SECURITY.md.
		return switchGuard{Reader: ex.red.guard(conn, nil), conn: conn}, nil
	}
	return ex.red.wsGuard(conn, func(err error) {
		reason := err.Error()
		ex.cut.Store(&reason)
		p.log.Warn("leak guard closed a WebSocket", "session", ex.id.Session, "host", ex.host, "error", reason)
	}), nil
}

// switchGuard reads a switched connection through the body guard. Close
// closes only the connection: ReverseProxy closes it while another
// goroutine may still be in Read, so the guard's pooled buffer is left to
// the garbage collector rather than returned to the pool under its feet.
type switchGuard struct {
	io.Reader
	conn io.ReadWriteCloser
}

func (g switchGuard) Write(p []byte) (int, error) { return g.conn.Write(p) }
func (g switchGuard) Close() error                { return g.conn.Close() }

// WebSocket framing (RFC 6455 section 5.2).
const (
	wsFin     = 0x80
	wsRSV     = 0x70 // RSV1-3: extensions; none is ever negotiated here
	wsOpMask  = 0x0f
	wsMaskBit = 0x80
	wsLenMask = 0x7f

	wsOpCont   = 0x0
	wsOpText   = 0x1
	wsOpBinary = 0x2
	wsOpClose  = 0x8
	wsOpPing   = 0x9
	wsOpPong   = 0xa

	wsMaxControl = 125 // payload bytes of a control frame

	// wsCloseProtocolError is the status of the close frame the guard
	// sends the client when it cuts a connection.
	wsCloseProtocolError = 1002
)

// wsOutBatch is how much framed output the guard gathers from input it
// already has before handing it to the client, so that a burst of small
// frames costs one write instead of one per frame.
const wsOutBatch = 16 << 10

// appendWSHeader appends an unmasked (server) frame header with the minimal
// length encoding.
func appendWSHeader(dst []byte, fin bool, op byte, n int) []byte {
	b0 := op
	if fin {
		b0 |= wsFin
	}
	switch {
	case n <= 125:
		return append(dst, b0, byte(n))
	case n <= math.MaxUint16:
		return append(dst, b0, 126, byte(n>>8), byte(n))
	default:
		return binary.BigEndian.AppendUint64(append(dst, b0, 127), uint64(n))
	}
}

// wsGuardError is why the guard cut a WebSocket. Its text is fixed (never
// upstream data), so it may be logged and audited.
type wsGuardError struct{ reason string }

func (e *wsGuardError) Error() string { return "websocket: " + e.reason }

// wsGuard is the upstream side of a WebSocket connection, as the client
// reads it: the upstream's frames with every secret replaced by its
// placeholder. Writes (client to upstream) pass through.
//
// Data frames are streamed: a frame that fits the input buffer goes out as
// one frame, as the upstream framed it; a larger one goes out in pieces, as
// fragments of the same message, so memory stays bounded whatever the frame
// length. A secret may be split across frames of a fragmented message and
// across reads, so, as in guard.Read, the redactor holds back the tail of
// the message that may begin a secret and puts it in front of the next
// piece; at the message's final frame it is released. An output frame is
// always written whole, so a control frame the upstream slips between two
// fragments goes out between two whole frames, and a fragmented message
// always goes out as its opcode's frame, continuation frames and a final
// frame with FIN set.
//
// Anything the guard cannot vouch for (a masked frame, RSV bits, a reserved
// opcode, a broken control frame, a continuation outside a message) ends the
// connection: the client gets a close frame (1002) and then EOF, never the
// frame.
//
// Read runs on one goroutine (ReverseProxy's copy to the client) and owns
// all the state; Write and Close touch none of it, since ReverseProxy calls
// them from other goroutines.
type wsGuard struct {
	up   io.ReadWriteCloser
	r    *redactor
	fail func(error) // told why the guard cut the connection; may be nil

	bufp       *[]byte // input, from the pool at the first read
	bufSize    int     // tests: a smaller, unpooled buffer, to reach the piecewise path with small frames
	start, end int     // unparsed input: (*bufp)[start:end]
	rerr       error   // the upstream's read error, acted on once its input is parsed

	out []byte // framed output; out[off:] is still to be returned
	off int
	err error // set when the guard is done; returned after out

	// The data frame being read: remain payload bytes still to come.
	inFrame bool
	fin     bool
	remain  uint64

	// The data message being written.
	inMsg   bool
	msgOp   byte   // wsOpText or wsOpBinary
	started bool   // its first frame went out: later ones are continuations
	held    []byte // its tail that may begin a secret
	scratch []byte // held bytes, then the next piece of payload
	pay     []byte // the redacted payload of the next output frame

	closed bool // a close frame went out: the guard sends none of its own
}

func (r *redactor) wsGuard(up io.ReadWriteCloser, fail func(error)) *wsGuard {
	return &wsGuard{up: up, r: r, fail: fail}
}

func (g *wsGuard) Write(p []byte) (int, error) { return g.up.Write(p) }

// Close closes the upstream connection. It may run while Read is blocked on
// another goroutine, so it leaves the buffers to Read.
func (g *wsGuard) Close() error { return g.up.Close() }

func (g *wsGuard) Read(p []byte) (int, error) {
	for {
		if g.off < len(g.out) {
			n := copy(p, g.out[g.off:])
			g.off += n
			return n, nil
		}
		if g.err != nil {
			g.release()
			return 0, g.err
		}
		g.out, g.off = g.out[:0], 0
		for len(g.out) < wsOutBatch && g.err == nil && g.step() {
		}
		if len(g.out) == 0 && g.err == nil {
			g.fill()
		}
	}
}

func (g *wsGuard) release() {
	if g.bufp != nil && g.bufSize == 0 {
		copyBuffers.put(g.bufp)
	}
	g.bufp = nil
}

// fill compacts the input and reads more, or ends the stream once the
// upstream's error is reached. A truncated frame or message ends in
// io.ErrUnexpectedEOF, and what was held back is dropped: it may be the
// start of a secret.
func (g *wsGuard) fill() {
	if g.rerr != nil {
		g.err = g.rerr
		if g.err == io.EOF && (g.inFrame || g.inMsg || g.start < g.end) {
			g.err = io.ErrUnexpectedEOF
		}
		return
	}
	if g.bufp == nil && g.bufSize > 0 {
		b := make([]byte, g.bufSize)
		g.bufp = &b
	} else if g.bufp == nil {
		g.bufp = copyBuffers.get()
	}
	buf := *g.bufp
	if g.start > 0 {
		g.end = copy(buf, buf[g.start:g.end])
		g.start = 0
	}
	if g.end == len(buf) {
		// step takes any frame that does not fit the buffer in pieces, so
		// a full buffer always parses; this is only a guard against a loop.
		g.cut("frame the leak guard cannot parse")
		return
	}
	n, err := g.up.Read(buf[g.end:])
	g.end += n
	g.rerr = err
}

func (g *wsGuard) input() []byte {
	if g.bufp == nil {
		return nil
	}
	return (*g.bufp)[g.start:g.end]
}

// step parses what it can of the input: a frame header, a control frame or
// a piece of a data frame's payload. It reports whether it made progress.
func (g *wsGuard) step() bool {
	if g.inFrame {
		return g.payload(g.input())
	}
	in := g.input()
	if len(in) < 2 {
		return false
	}
	b0, b1 := in[0], in[1]
	fin, op := b0&wsFin != 0, b0&wsOpMask
	control := op >= wsOpClose
	switch {
	case b0&wsRSV != 0:
		g.cut("frame with RSV bits set (an extension the leak guard cannot read)")
	case b1&wsMaskBit != 0:
		g.cut("masked frame from the server")
	case op > wsOpBinary && op < wsOpClose || op > wsOpPong:
		g.cut("frame with a reserved opcode")
	case control && !fin:
		g.cut("fragmented control frame")
	case control && b1&wsLenMask > wsMaxControl:
		g.cut("control frame longer than 125 bytes")
	case op == wsOpClose && b1&wsLenMask == 1:
		g.cut("close frame with a 1-byte payload")
	case op == wsOpCont && !g.inMsg:
		g.cut("continuation frame outside a fragmented message")
	case (op == wsOpText || op == wsOpBinary) && g.inMsg:
		g.cut("new message inside a fragmented one")
	}
	if g.err != nil {
		return false
	}
	h, n := 2, uint64(b1&wsLenMask)
	switch n {
	case 126:
		if len(in) < 4 {
			return false
		}
		h, n = 4, uint64(binary.BigEndian.Uint16(in[2:]))
	case 127:
		if len(in) < 10 {
			return false
		}
		h, n = 10, binary.BigEndian.Uint64(in[2:])
		if n > math.MaxInt64 {
			g.cut("frame length over 2^63")
			return false
		}
	}
	if control {
		if len(in) < h+int(n) {
			return false
		}
		g.start += h + int(n)
		g.control(op, in[h:h+int(n)])
		return true
	}
	// A data frame that fits the buffer is taken whole, so that it goes
	// out as one frame.
	if total := uint64(h) + n; total <= uint64(len(*g.bufp)) && uint64(len(in)) < total {
		return false
	}
	g.start += h
	g.inFrame, g.fin, g.remain = true, fin, n
	if op != wsOpCont {
		g.inMsg, g.msgOp, g.started = true, op, false
		g.held = g.held[:0]
	}
	return true
}

// payload redacts the next piece of the current data frame and writes what
// is certain as one output frame.
func (g *wsGuard) payload(in []byte) bool {
	n := min(g.remain, uint64(len(in)))
	if n < g.remain && len(in) < len(*g.bufp)/2 {
		return false // wait for a larger piece: fewer, larger fragments
	}
	piece := in[:n]
	g.start += int(n)
	g.remain -= n
	if g.remain == 0 {
		g.inFrame = false
	}
	final := !g.inFrame && g.fin
	src := piece
	if len(g.held) > 0 {
		g.scratch = append(append(g.scratch[:0], g.held...), piece...)
		src = g.scratch
	}
	var keep int
	g.pay, keep = g.r.process(g.pay[:0], src, final)
	g.held = append(g.held[:0], src[len(src)-keep:]...)
	// Nothing certain yet and more to come: no frame. The final frame goes
	// out even when empty, since it carries FIN.
	if len(g.pay) > 0 || final {
		op := byte(wsOpCont)
		if !g.started {
			op = g.msgOp
		}
		g.out = appendWSHeader(g.out, final, op, len(g.pay))
		g.out = append(g.out, g.pay...)
		g.started = true
	}
	if final {
		g.inMsg = false
	}
	return true
}

// control redacts a ping, pong or close frame, which stands alone: nothing
// is held back across it. A control payload may not exceed 125 bytes, so a
// longer placeholder is cut short there (a close reason on a UTF-8
// boundary): a prefix of the redacted payload holds no secret either.
func (g *wsGuard) control(op byte, payload []byte) {
	p, _ := g.r.process(g.pay[:0], payload, true)
	if op == wsOpClose && len(payload) >= 2 {
		if len(p) < 2 || p[0] != payload[0] || p[1] != payload[1] {
			// The status code itself began a secret: send none of it.
			p = binary.BigEndian.AppendUint16(p[:0], 1011)
		}
		if len(p) > wsMaxControl {
			p = p[:2+len(trimPartialRune(p[2:wsMaxControl]))]
		}
	} else if len(p) > wsMaxControl {
		p = p[:wsMaxControl]
	}
	if op == wsOpClose {
		g.closed = true
	}
	g.pay = p
	g.out = appendWSHeader(g.out, true, op, len(p))
	g.out = append(g.out, p...)
}

// trimPartialRune drops an incomplete UTF-8 sequence from the end of b.
func trimPartialRune(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			return b
		}
	}
	return b
}

// cut ends the connection: the client gets what was already framed, a close
// frame saying why (unless the upstream closed already), then an error.
// What was held back is dropped.
func (g *wsGuard) cut(reason string) {
	err := &wsGuardError{reason: reason}
	if !g.closed {
		msg := "clauderon proxy: " + reason
		if len(msg) > wsMaxControl-2 {
			msg = msg[:wsMaxControl-2]
		}
		g.out = appendWSHeader(g.out, true, wsOpClose, 2+len(msg))
		g.out = binary.BigEndian.AppendUint16(g.out, wsCloseProtocolError)
		g.out = append(g.out, msg...)
		g.closed = true
	}
	g.err = err
	if g.fail != nil {
		g.fail(err)
	}
}
