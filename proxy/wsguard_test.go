package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/clauderon/clauderon"
	"github.com/coder/websocket"
)

// The frame codec of the WebSocket leak guard, without a network: frames in,
// frames out, decoded by wsDecode below, which is written apart from the
// guard so that the two do not share a mistake.

// wsEvent is what a client sees: a whole message (text or binary) or a
// control frame.
type wsEvent struct {
	op      byte
	payload string
}

func (e wsEvent) String() string {
	if len(e.payload) > 80 {
		return fmt.Sprintf("{op %d, %d bytes %.40q...}", e.op, len(e.payload), e.payload)
	}
	return fmt.Sprintf("{op %d %q}", e.op, e.payload)
}

// wsStream is a decoded byte stream from a server.
type wsStream struct {
	events  []wsEvent
	partial *wsEvent // a message begun and not finished
	err     string   // the violation that stopped decoding
	rest    int      // bytes of an incomplete frame at the end
	frames  int
}

// wsDecode decodes frames from a server by RFC 6455's rules, as a strict
// client would. With minimal set it also insists on the shortest length
// encoding (which the guard always writes). It stops at the first
// violation, as the guard must; the checks on a frame's first two bytes come
// before its extended length is needed, again as in the guard.
func wsDecode(b []byte, minimal bool) wsStream {
	var s wsStream
	var msg []byte // the message being read, if msgOp != 0
	msgOp := byte(0)
	s.err, s.rest = func() (string, int) {
		for len(b) > 0 {
			if len(b) < 2 {
				return "", len(b)
			}
			fin, rsv, op := b[0]&0x80 != 0, b[0]&0x70, b[0]&0x0f
			masked, l7 := b[1]&0x80 != 0, uint64(b[1]&0x7f)
			control := op&0x8 != 0
			switch {
			case rsv != 0:
				return "rsv", 0
			case masked:
				return "masked", 0
			case op != 0 && op != 1 && op != 2 && op != 8 && op != 9 && op != 10:
				return "opcode", 0
			case control && (!fin || l7 > 125):
				return "control", 0
			case op == 8 && l7 == 1:
				return "close 1", 0
			case op == 0 && msgOp == 0:
				return "continuation", 0
			case (op == 1 || op == 2) && msgOp != 0:
				return "interleaved", 0
			}
			h, n := 2, l7
			switch l7 {
			case 126:
				if len(b) < 4 {
					return "", len(b)
				}
				h, n = 4, uint64(binary.BigEndian.Uint16(b[2:]))
				if minimal && n < 126 {
					return "length not minimal", 0
				}
			case 127:
				if len(b) < 10 {
					return "", len(b)
				}
				h, n = 10, binary.BigEndian.Uint64(b[2:])
				if n>>63 != 0 {
					return "length", 0
				}
				if minimal && n <= 0xffff {
					return "length not minimal", 0
				}
			}
			if op == 1 || op == 2 {
				msgOp, msg = op, msg[:0]
			}
			if uint64(len(b)-h) < n {
				if !control {
					msg = append(msg, b[h:]...)
				}
				return "", len(b)
			}
			p := b[h : h+int(n)]
			b = b[h+int(n):]
			s.frames++
			switch {
			case control:
				s.events = append(s.events, wsEvent{op, string(p)})
			case fin:
				s.events = append(s.events, wsEvent{msgOp, string(append(msg, p...))})
				msgOp = 0
			default:
				msg = append(msg, p...)
			}
		}
		return "", 0
	}()
	if msgOp != 0 {
		s.partial = &wsEvent{msgOp, string(msg)}
	}
	return s
}

// wsWant is what the guard should make of a decoded upstream stream: every
// message redacted whole; control frames redacted and cut to 125 bytes (a
// close reason on a rune boundary, a status code that began a secret
// replaced by 1011); after a violation, a close frame 1002 unless one went
// out already (cut reports it; its reason is not compared).
func wsWant(r *redactor, in wsStream) (out []wsEvent, cut bool) {
	rep := strings.NewReplacer(r.pairs()...)
	closed := false
	for _, e := range in.events {
		p := rep.Replace(e.payload)
		switch {
		case e.op == wsOpClose && len(e.payload) >= 2:
			if len(p) < 2 || p[:2] != e.payload[:2] {
				p = "\x03\xf3"
			}
			if len(p) > 125 {
				p = p[:2] + string(trimPartialRune([]byte(p[2:125])))
			}
		case e.op >= wsOpClose && len(p) > 125:
			p = p[:125]
		}
		closed = closed || e.op == wsOpClose
		out = append(out, wsEvent{e.op, p})
	}
	if in.err != "" && !closed {
		out = append(out, wsEvent{op: wsOpClose, payload: "\x03\xea"}) // 1002
		cut = true
	}
	return out, cut
}

func wsFrame(fin bool, op byte, payload string) []byte {
	return append(appendWSHeader(nil, fin, op, len(payload)), payload...)
}

func wsClose(code uint16, reason string) []byte {
	return wsFrame(true, wsOpClose, string(binary.BigEndian.AppendUint16(nil, code))+reason)
}

func cat(frames ...[]byte) []byte { return bytes.Join(frames, nil) }

// upConn is an upstream connection for the guard: reads from r, writes
// collected, Close recorded.
type upConn struct {
	io.Reader
	wrote  bytes.Buffer
	closed bool
}

func (c *upConn) Write(p []byte) (int, error) { return c.wrote.Write(p) }
func (c *upConn) Close() error                { c.closed = true; return nil }

// wsGuarded runs in through the guard, delivered in chunks of the given
// sizes and read readSize bytes at a time, and returns all it gave the
// client, the error that ended it and how often it reported a cut.
func wsGuarded(r *redactor, in []byte, sizes []int, readSize int) ([]byte, error, int) {
	return wsGuardedBuf(r, in, sizes, readSize, 0)
}

// wsGuardedBuf is wsGuarded with the guard's input buffer bufSize bytes (0:
// the pooled buffer).
func wsGuardedBuf(r *redactor, in []byte, sizes []int, readSize, bufSize int) ([]byte, error, int) {
	fails := 0
	g := r.wsGuard(&upConn{Reader: &chunked{src: in, sizes: sizes}}, func(error) { fails++ })
	g.bufSize = bufSize
	var out bytes.Buffer
	buf := make([]byte, readSize)
	for {
		n, err := g.Read(buf)
		out.Write(buf[:n])
		if err != nil {
			return out.Bytes(), err, fails
		}
	}
}

var (
	wsSecret = "SECRET-0123456789"
	wsToken  = "tok-XY" // shorter than its placeholder: replacements grow
	wsPH     = "<PH>"
	wsTokPH  = "<TOKEN-PLACEHOLDER-LONGER-THAN-ITS-SECRET>"
)

func wsRedactor() *redactor { return redactorFor(wsSecret, wsPH, wsToken, wsTokPH) }

// wsChunkings are the ways an upstream stream is cut into reads, and the
// client's read sizes.
var (
	wsChunkSizes = [][]int{{1}, {2, 3}, {7}, {1000, 1}, {1 << 20}}
	wsReadSizes  = []int{1, 5, 4096, 64 << 10}
)

func TestWSGuardRedactsFrames(t *testing.T) {
	t.Parallel()
	r := wsRedactor()
	big := strings.Repeat("abcdefghij", 10<<10) // 100 KiB: taken in pieces
	bigSecrets := wsSecret + big[:16380] + wsSecret + big[:16370] + wsToken + big + wsSecret
	cases := []struct {
		name string
		in   []byte
		want []wsEvent // nil: every message redacted whole (wsWant)
	}{
		{"text", wsFrame(true, wsOpText, "a "+wsSecret+" b"),
			[]wsEvent{{wsOpText, "a " + wsPH + " b"}}},
		{"binary, secret at the end", wsFrame(true, wsOpBinary, "\x00\xff"+wsSecret),
			[]wsEvent{{wsOpBinary, "\x00\xff" + wsPH}}},
		{"split across continuation frames, a ping between", cat(
			wsFrame(false, wsOpText, "key=SECRET-01"),
			wsFrame(false, wsOpCont, "2345"),
			wsFrame(true, wsOpPing, "p"),
			wsFrame(false, wsOpCont, ""),
			wsFrame(true, wsOpCont, "6789;tok-")),
			[]wsEvent{{wsOpPing, "p"}, {wsOpText, "key=" + wsPH + ";tok-"}}},
		{"secret split, one byte a frame", cat(
			wsFrame(false, wsOpBinary, "S"), wsFrame(false, wsOpCont, "E"), wsFrame(false, wsOpCont, "CRET-0"),
			wsFrame(false, wsOpCont, "12345678"), wsFrame(true, wsOpCont, "9")),
			[]wsEvent{{wsOpBinary, wsPH}}},
		{"a held prefix that is no secret is released", cat(
			wsFrame(true, wsOpText, "SECRET-012"), wsFrame(true, wsOpText, "345")),
			[]wsEvent{{wsOpText, "SECRET-012"}, {wsOpText, "345"}}},
		{"no secret across messages", cat(
			wsFrame(true, wsOpText, "SECRET-01234"), wsFrame(true, wsOpText, "56789")),
			[]wsEvent{{wsOpText, "SECRET-01234"}, {wsOpText, "56789"}}},
		{"empty messages", cat(
			wsFrame(true, wsOpText, ""), wsFrame(false, wsOpBinary, ""), wsFrame(true, wsOpCont, "")),
			[]wsEvent{{wsOpText, ""}, {wsOpBinary, ""}}},
		{"control frames", cat(
			wsFrame(true, wsOpPing, wsSecret), wsFrame(true, wsOpPong, "x"+wsToken),
			wsClose(1000, "bye "+wsSecret)),
			[]wsEvent{{wsOpPing, wsPH}, {wsOpPong, "x" + wsTokPH}, {wsOpClose, "\x03\xe8bye " + wsPH}}},
		{"ping past 125 bytes is cut", wsFrame(true, wsOpPing, strings.Repeat(wsToken, 20)),
			[]wsEvent{{wsOpPing, strings.Repeat(wsTokPH, 4)[:125]}}},
		{"close reason past 125 bytes is cut on a rune boundary",
			wsClose(1001, wsToken+strings.Repeat("é", 58)),
			[]wsEvent{{wsOpClose, "\x03\xe9" + wsTokPH + strings.Repeat("é", 40)}}},
		{"close status code that begins a secret", wsFrame(true, wsOpClose, wsToken+" reason"),
			[]wsEvent{{wsOpClose, "\x03\xf3"}}},
		{"non-minimal length encoding", cat(
			[]byte{0x81, 126, 0, 5}, []byte("hello"),
			[]byte{0x82, 127, 0, 0, 0, 0, 0, 0, 0, 3}, []byte("abc")),
			[]wsEvent{{wsOpText, "hello"}, {wsOpBinary, "abc"}}},
		{"large frame, secrets at piece boundaries", wsFrame(true, wsOpBinary, bigSecrets), nil},
		{"large fragments, secret across them", cat(
			wsFrame(false, wsOpText, big[:40000]+"SECRET-0123"), wsFrame(true, wsOpPong, ""),
			wsFrame(true, wsOpCont, "456789"+big[:40000]+wsToken)), nil},
	}
	for _, tc := range cases {
		want := tc.want
		if want == nil {
			want, _ = wsWant(r, wsDecode(tc.in, false))
		}
		for _, sizes := range wsChunkSizes {
			for i, readSize := range wsReadSizes {
				if len(tc.in) > 4<<10 && sizes[0] == 1 && readSize == 1 {
					continue // a byte at a time both ways: slow and no news
				}
				out, err, fails := wsGuardedBuf(r, tc.in, sizes, readSize, []int{0, 128, 0, 200}[i])
				got := wsDecode(out, true)
				if err != io.EOF || fails != 0 || got.err != "" || got.rest != 0 || got.partial != nil {
					t.Fatalf("%s (chunks %v, reads %d): err %v, %d cuts, output %+v", tc.name, sizes, readSize, err, fails, got)
				}
				if fmt.Sprint(got.events) != fmt.Sprint(want) {
					t.Fatalf("%s (chunks %v, reads %d):\n got %v\nwant %v", tc.name, sizes, readSize, got.events, want)
				}
				if bytes.Contains(out, []byte(wsSecret)) || bytes.Contains(out, []byte(wsToken)) {
					t.Fatalf("%s: a secret in the output", tc.name)
				}
			}
		}
	}
}

// TestWSGuardFramesLikeTheUpstream: a frame that fits the buffer goes out as
// one frame, whatever the reads; a larger one goes out as fragments no
// larger than the buffer.
func TestWSGuardFramesLikeTheUpstream(t *testing.T) {
	t.Parallel()
	r := wsRedactor()
	in := cat(wsFrame(true, wsOpText, "one "+wsSecret), wsFrame(false, wsOpBinary, "two"), wsFrame(true, wsOpCont, "three"))
	out, err, _ := wsGuarded(r, in, []int{1}, 1)
	if s := wsDecode(out, true); err != io.EOF || s.frames != 3 || len(s.events) != 2 {
		t.Errorf("%d frames, %v: %v", s.frames, s.events, err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	out, err, _ = wsGuarded(r, cat(wsFrame(true, wsOpBinary, string(big))), []int{4096}, 32<<10)
	s := wsDecode(out, true)
	if err != io.EOF || len(s.events) != 1 || s.events[0].payload != string(big) {
		t.Fatalf("1 MiB frame: %v, %v", s.events, err)
	}
	if s.frames < len(big)/copyBufferSize {
		t.Errorf("1 MiB frame went out as %d frames: it was buffered whole", s.frames)
	}
	// Each output frame is at most a buffer's payload.
	for b := out; len(b) > 0; {
		hl, n := 2, int(b[1]&0x7f)
		if n == 126 {
			hl, n = 4, int(binary.BigEndian.Uint16(b[2:]))
		} else if n == 127 {
			t.Fatalf("an output frame with a 64-bit length")
		}
		if n > copyBufferSize {
			t.Fatalf("output frame of %d bytes", n)
		}
		b = b[hl+n:]
	}
}

func TestWSGuardCutsWhatItCannotRead(t *testing.T) {
	t.Parallel()
	r := wsRedactor()
	ok := wsFrame(true, wsOpText, "fine "+wsSecret)
	okEv := wsEvent{wsOpText, "fine " + wsPH}
	cases := []struct {
		name string
		bad  []byte
	}{
		{"RSV1 (permessage-deflate)", cat([]byte{0xc1, byte(len(wsSecret))}, []byte(wsSecret))},
		{"RSV2", cat([]byte{0xa2, byte(len(wsSecret))}, []byte(wsSecret))},
		{"RSV3 on a continuation", cat(wsFrame(false, wsOpText, "a"), []byte{0x90, 1, 'b'})},
		{"masked", cat([]byte{0x81, 0x80 | byte(len(wsSecret)), 0, 0, 0, 0}, []byte(wsSecret))},
		{"reserved data opcode", cat([]byte{0x83, byte(len(wsSecret))}, []byte(wsSecret))},
		{"reserved control opcode", cat([]byte{0x8b, byte(len(wsSecret))}, []byte(wsSecret))},
		{"fragmented ping", cat([]byte{0x09, byte(len(wsSecret))}, []byte(wsSecret))},
		{"ping longer than 125", cat([]byte{0x89, 126, 0, 200}, bytes.Repeat([]byte(wsSecret), 12))},
		{"close with 1 byte", []byte{0x88, 1, 'x'}},
		{"continuation outside a message", wsFrame(true, wsOpCont, wsSecret)},
		{"new message inside a fragmented one", cat(wsFrame(false, wsOpText, "a"), wsFrame(true, wsOpText, wsSecret))},
		{"64-bit length with the top bit", []byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1}},
	}
	for _, tc := range cases {
		for _, sizes := range wsChunkSizes {
			in := cat(ok, tc.bad, ok)
			out, err, fails := wsGuarded(r, in, sizes, 4096)
			var ge *wsGuardError
			if !errors.As(err, &ge) || fails != 1 {
				t.Fatalf("%s: ended with %v after %d cuts, want a cut", tc.name, err, fails)
			}
			s := wsDecode(out, true)
			if s.err != "" || s.rest != 0 || len(s.events) != 2 || s.events[0] != okEv || s.events[1].op != wsOpClose ||
				binary.BigEndian.Uint16([]byte(s.events[1].payload)) != wsCloseProtocolError {
				t.Fatalf("%s (chunks %v): client got %v (%q, partial %v)", tc.name, sizes, s.events, s.err, s.partial)
			}
			if bytes.Contains(out, []byte(wsSecret)) {
				t.Fatalf("%s: secret passed", tc.name)
			}
		}
	}
	// After the upstream's own close frame, the guard sends no second one.
	out, err, _ := wsGuarded(r, cat(wsClose(1000, ""), []byte{0xc1, 0}), nil, 4096)
	if s := wsDecode(out, true); len(s.events) != 1 || err == io.EOF {
		t.Errorf("after a close: %v, %v", s.events, err)
	}
}

// TestWSGuardTruncatedStream: an upstream that breaks off inside a frame or
// message ends the client's stream with an error, and what was held back,
// which may be the start of a secret, never goes out.
func TestWSGuardTruncatedStream(t *testing.T) {
	t.Parallel()
	r := wsRedactor()
	cases := []struct {
		name string
		in   []byte
		err  error
	}{
		{"clean", cat(wsFrame(true, wsOpText, "a"), wsFrame(true, wsOpPing, "")), io.EOF},
		{"inside a header", cat(wsFrame(true, wsOpText, "a"), []byte{0x82, 126, 1}), io.ErrUnexpectedEOF},
		{"inside a frame", cat(wsFrame(true, wsOpText, "a"), []byte{0x82, 20}, []byte("x SECRET-0123")), io.ErrUnexpectedEOF},
		{"inside a message", cat(wsFrame(false, wsOpText, "x SECRET-0123")), io.ErrUnexpectedEOF},
	}
	for _, tc := range cases {
		for _, sizes := range wsChunkSizes {
			out, err, _ := wsGuarded(r, tc.in, sizes, 4096)
			if err != tc.err {
				t.Errorf("%s: %v, want %v", tc.name, err, tc.err)
			}
			if bytes.Contains(out, []byte("SECRET")) {
				t.Errorf("%s: held-back bytes went out: %q", tc.name, out)
			}
		}
	}
}

func TestWSGuardWritesPassThrough(t *testing.T) {
	t.Parallel()
	up := &upConn{Reader: strings.NewReader("")}
	g := wsRedactor().wsGuard(up, nil)
	frame := []byte{0x81, 0x85, 1, 2, 3, 4, 'h' ^ 1, 'e' ^ 2, 'l' ^ 3, 'l' ^ 4, 'o' ^ 1}
	if n, err := g.Write(frame); n != len(frame) || err != nil || !bytes.Equal(up.wrote.Bytes(), frame) {
		t.Errorf("write: %d, %v", n, err)
	}
	if g.Close(); !up.closed {
		t.Errorf("Close did not close the upstream")
	}
}

// FuzzWSGuard: whatever an upstream sends and however it arrives, the guard
// does not panic, every byte it gives the client is a valid frame, the
// client sees each message and control frame the upstream sent, redacted,
// until the first violation (then a close frame and an error), a message cut
// short only as a prefix of its redaction, and no secret, even reassembled.
func FuzzWSGuard(f *testing.F) {
	for _, in := range [][]byte{
		wsFrame(true, wsOpText, "a "+wsSecret+" b"),
		cat(wsFrame(false, wsOpText, "key=SECRET-01"), wsFrame(false, wsOpCont, "2345"), wsFrame(true, wsOpPing, "p"),
			wsFrame(true, wsOpCont, "6789;tok-")),
		cat(wsFrame(false, wsOpBinary, "tok"), wsFrame(true, wsOpCont, "-XY"), wsClose(1000, "bye "+wsSecret)),
		wsFrame(true, wsOpPing, strings.Repeat(wsToken, 20)),
		wsClose(1001, wsToken+strings.Repeat("é", 58)),
		cat([]byte{0xc1, 3}, []byte("abc")),
		cat([]byte{0x82, 126, 1, 0x68}, []byte(strings.Repeat(wsSecret+"x", 20))),
		{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0},
	} {
		f.Add(in, []byte{1, 7, 255}, uint16(4096), uint16(0))
		f.Add(in, []byte{3}, uint16(5), uint16(1))
	}
	r := wsRedactor()
	rep := strings.NewReplacer(r.pairs()...)
	f.Fuzz(func(t *testing.T, in, sizes []byte, readSize, bufSize uint16) {
		if len(in) > 64<<10 { // the small buffer reaches the piecewise path with short input

			t.Skip()
		}
		ints := make([]int, len(sizes))
		for i, s := range sizes {
			ints[i] = int(s) * 17
		}
		// A small buffer (128 bytes holds any control frame) takes short
		// frames in pieces, as the pooled one does with long frames.
		if bufSize > 0 {
			bufSize = 128 + bufSize%1024
		}
		out, err, fails := wsGuardedBuf(r, in, ints, int(readSize)+1, int(bufSize))
		got := wsDecode(out, true)
		if got.err != "" || got.rest != 0 {
			t.Fatalf("invalid output (%s, %d bytes left over): %q", got.err, got.rest, out)
		}
		src := wsDecode(in, false)
		want, cut := wsWant(r, src)
		if len(got.events) != len(want) {
			t.Fatalf("got %v, want %v", got.events, want)
		}
		for i := range want {
			g := got.events[i]
			if cut && i == len(want)-1 {
				g.payload = g.payload[:min(2, len(g.payload))] // the guard's own close: its reason is free
			}
			if g != want[i] {
				t.Fatalf("event %d: got %v, want %v", i, got.events[i], want[i])
			}
		}
		for i, e := range src.events {
			if e.op == wsOpClose && len(e.payload) > 2 && utf8.ValidString(e.payload[2:]) && !utf8.ValidString(got.events[i].payload[2:]) {
				t.Fatalf("close reason %q became invalid UTF-8: %q", e.payload, got.events[i].payload)
			}
		}
		var ge *wsGuardError
		switch {
		case src.err != "":
			if !errors.As(err, &ge) || fails != 1 {
				t.Fatalf("violation %q: ended with %v, %d cuts", src.err, err, fails)
			}
		case src.rest != 0 || src.partial != nil:
			if err != io.ErrUnexpectedEOF || fails != 0 {
				t.Fatalf("truncated input: %v", err)
			}
		default:
			if err != io.EOF || fails != 0 {
				t.Fatalf("clean input: %v", err)
			}
		}
		if got.partial != nil {
			if src.partial == nil || got.partial.op != src.partial.op ||
				!strings.HasPrefix(rep.Replace(src.partial.payload), got.partial.payload) {
				t.Fatalf("partial message %v from %v", got.partial, src.partial)
			}
		}
		// Decoded, not raw: a frame's length byte may spell a secret's first
		// letter in front of a payload that holds only the rest of it.
		var all []string
		for _, e := range got.events {
			all = append(all, e.payload)
		}
		if got.partial != nil {
			all = append(all, got.partial.payload)
		}
		for _, s := range all {
			if strings.Contains(s, wsSecret) || strings.Contains(s, wsToken) {
				t.Fatalf("a secret reached the client: %q", s)
			}
		}
	})
}

// Through the real proxy: real TLS on both legs, the upstream echoing the
// Authorization header it received (the real credential) in every kind of
// frame.

// rawWSAccept answers a WebSocket upgrade by hand, with extra header lines,
// so that a test upstream can send any bytes as frames. It echoes the
// request's Upgrade value, as ReverseProxy requires.
func rawWSAccept(w http.ResponseWriter, r *http.Request, extra string) (net.Conn, *bufio.ReadWriter, error) {
	sum := sha1.Sum([]byte(r.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: %s\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s\r\n",
		r.Header.Get("Upgrade"), base64.StdEncoding.EncodeToString(sum[:]), extra)
	return conn, brw, brw.Flush()
}

// rawWSDial opens a WebSocket to api.openai.com through the proxy by hand,
// offering permessage-deflate, with the placeholder as its credential.
func (h *harness) rawWSDial(t *testing.T, path string) (*bufio.Reader, *http.Response) {
	t.Helper()
	return h.rawUpgradeDial(t, path, "websocket")
}

// rawUpgradeDial is rawWSDial with the Upgrade header's value given.
func (h *harness) rawUpgradeDial(t *testing.T, path, upgrade string) (*bufio.Reader, *http.Response) {
	t.Helper()
	c, res := h.rawConnect(t, openaiHost+":443", basicAuth(h.session, testToken))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %d", res.StatusCode)
	}
	tc := tls.Client(c, &tls.Config{ServerName: openaiHost, RootCAs: h.ca.pool})
	req := "GET " + path + " HTTP/1.1\r\nHost: " + openaiHost + "\r\nConnection: Upgrade\r\nUpgrade: " + upgrade + "\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
		"Authorization: Bearer " + openaiPH + "\r\n\r\n"
	if _, err := io.WriteString(tc, req); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(tc)
	res, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		t.Fatal(err)
	}
	return br, res
}

func openaiProxy(t *testing.T, up *upstream) (*harness, string) {
	secret := canary(t, "sk-proj-")
	return startProxy(t, up, []clauderon.Credential{{Rule: openaiRule(), Secret: clauderon.NewSecret(secret)}}), secret
}

// TestWebSocketEchoedSecretIsRedacted: text and binary messages echoing the
// credential reach the client with the placeholder; the extension offer
// never reaches the upstream (which would accept it), so nothing is
// compressed; what the client sends arrives as sent.
func TestWebSocketEchoedSecretIsRedacted(t *testing.T) {
	t.Parallel()
	up := startUpstream(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionContextTakeover})
		if err != nil {
			return
		}
		defer c.CloseNow()
		auth := r.Header.Get("Authorization")
		ctx := r.Context()
		if c.Write(ctx, websocket.MessageText, []byte("auth: "+auth)) != nil ||
			c.Write(ctx, websocket.MessageBinary, []byte(auth+auth)) != nil ||
			c.Write(ctx, websocket.MessageText, []byte(strings.Repeat("x", 100<<10)+auth)) != nil {
			return
		}
		for {
			typ, msg, err := c.Read(ctx)
			if err != nil {
				return
			}
			if c.Write(ctx, typ, append(msg, " "+auth...)) != nil {
				return
			}
		}
	}))
	h, secret := openaiProxy(t, up)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, res := dialWebSocket(t, ctx, h, "/v1/realtime", websocket.DialOptions{CompressionMode: websocket.CompressionContextTakeover})
	c.SetReadLimit(1 << 20)
	ph := "Bearer " + openaiPH
	for _, want := range []struct {
		typ websocket.MessageType
		msg string
	}{{websocket.MessageText, "auth: " + ph}, {websocket.MessageBinary, ph + ph}, {websocket.MessageText, strings.Repeat("x", 100<<10) + ph}} {
		typ, got, err := c.Read(ctx)
		if err != nil || typ != want.typ || string(got) != want.msg {
			t.Fatalf("read %v %.60q... (%d bytes), %v; want %v %.60q...", typ, got, len(got), err, want.typ, want.msg)
		}
	}
	if err := c.Write(ctx, websocket.MessageText, []byte("hi "+openaiPH)); err != nil {
		t.Fatal(err)
	}
	if _, got, err := c.Read(ctx); err != nil || string(got) != "hi "+openaiPH+" "+ph {
		t.Fatalf("echo %q, %v", got, err)
	}
	c.Close(websocket.StatusNormalClosure, "")
	if ext := res.Header.Get("Sec-WebSocket-Extensions"); ext != "" {
		t.Errorf("the 101 negotiated %q", ext)
	}
	r := up.requests()[0]
	if r.Header.Get("Authorization") != "Bearer "+secret || r.Header.Get("Sec-WebSocket-Extensions") != "" {
		t.Errorf("upgrade request reached the upstream with %v", r.Header)
	}
	ev := h.audit.waitFor(t, "websocket", func(ev clauderon.AuditEvent) bool { return ev.Path == "/v1/realtime" })
	if ev.Status != 101 || !ev.AuthInjected || ev.Error != "" || ev.BytesDown < 100<<10 || ev.BytesUp == 0 {
		t.Errorf("websocket event %+v", ev)
	}
	h.assertNoCanary(t, secret)
}

// TestWebSocketFragmentsAndControlFramesRedacted: the credential split across
// the continuation frames of a message (a ping between them), in a ping, a
// pong and a close reason; each frame arrives in a read of its own. The
// client gets valid frames with placeholders only.
func TestWebSocketFragmentsAndControlFramesRedacted(t *testing.T) {
	t.Parallel()
	up := startUpstreamProto(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth := r.Header.Get("Authorization")
		conn, brw, err := rawWSAccept(w, r, "")
		if err != nil {
			return
		}
		defer conn.Close()
		half := len(auth) / 2
		for _, f := range [][]byte{
			wsFrame(false, wsOpText, "auth="+auth[:10]),
			wsFrame(false, wsOpCont, auth[10:half]),
			wsFrame(true, wsOpPing, auth),
			wsFrame(false, wsOpCont, auth[half:len(auth)-1]),
			wsFrame(true, wsOpCont, auth[len(auth)-1:]+";"),
			wsFrame(true, wsOpPong, "pong "+auth),
			wsFrame(true, wsOpBinary, "\x00"+auth),
			wsClose(4000, "closing: "+auth),
		} {
			brw.Write(f)
			brw.Flush()
			time.Sleep(time.Millisecond) // separate reads at the proxy
		}
	}), false)
	h, secret := openaiProxy(t, up)
	br, res := h.rawWSDial(t, "/v1/responses")
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %d", res.StatusCode)
	}
	all, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("after %d bytes: %v", len(all), err)
	}
	ph := "Bearer " + openaiPH
	want := []wsEvent{{wsOpPing, ph}, {wsOpText, "auth=" + ph + ";"}, {wsOpPong, "pong " + ph},
		{wsOpBinary, "\x00" + ph}, {wsOpClose, "\x0f\xa0closing: " + ph}}
	got := wsDecode(all, true)
	if got.err != "" || got.rest != 0 || got.partial != nil || fmt.Sprint(got.events) != fmt.Sprint(want) {
		t.Errorf("client got %+v\nwant %v", got, want)
	}
	if bytes.Contains(all, []byte(secret)) {
		t.Errorf("the secret reached the client")
	}
	if r := up.requests()[0]; r.Header.Get("Sec-WebSocket-Extensions") != "" || r.Header.Get("Authorization") != "Bearer "+secret {
		t.Errorf("upgrade request reached the upstream with %v", r.Header)
	}
	h.audit.waitFor(t, "websocket", func(ev clauderon.AuditEvent) bool { return ev.Path == "/v1/responses" })
	h.assertNoCanary(t, secret)
}

// wsHangingUpstream answers the upgrade with extra header lines, writes
// frames, then waits for the proxy to close the connection and says so on
// closed.
func wsHangingUpstream(t *testing.T, extra string, frames func(auth string) [][]byte) (*upstream, chan struct{}) {
	closed := make(chan struct{})
	up := startUpstreamProto(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := rawWSAccept(w, r, extra)
		if err != nil {
			return
		}
		defer conn.Close()
		for _, f := range frames(r.Header.Get("Authorization")) {
			brw.Write(f)
			brw.Flush()
		}
		conn.SetReadDeadline(time.Now().Add(15 * time.Second))
		if _, err := io.Copy(io.Discard, conn); err == nil || !isTimeout(err) {
			close(closed)
		}
	}), false)
	return up, closed
}

func waitClosed(t *testing.T, closed chan struct{}) {
	t.Helper()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Errorf("the proxy kept the upstream connection open")
	}
}

// TestWebSocketCompressionRefused: an upstream that negotiates
// permessage-deflate although the proxy offered no extension gets its
// connection closed; the client gets 502.
func TestWebSocketCompressionRefused(t *testing.T) {
	t.Parallel()
	up, closed := wsHangingUpstream(t, "Sec-WebSocket-Extensions: permessage-deflate\r\n", func(auth string) [][]byte {
		return [][]byte{cat([]byte{0xc1, byte(len(auth))}, []byte(auth))} // "compressed"
	})
	h, secret := openaiProxy(t, up)
	_, res := h.rawWSDial(t, "/v1/responses")
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "extension") {
		t.Errorf("client got %d %q", res.StatusCode, body)
	}
	waitClosed(t, closed)
	ev := h.audit.waitFor(t, "websocket", func(ev clauderon.AuditEvent) bool { return ev.Path == "/v1/responses" })
	if ev.Status != http.StatusBadGateway || ev.Decision != clauderon.DecisionError || !strings.Contains(ev.Error, "extension") {
		t.Errorf("event %+v", ev)
	}
	if bytes.Contains(body, []byte(secret)) {
		t.Errorf("the secret reached the client")
	}
	h.assertNoCanary(t, secret)
}

// TestWebSocketAmongOtherUpgradesStillGuarded: "Upgrade: websocket, x",
// echoed by the upstream, is still a WebSocket to the guard: the extension
// offer never reaches the upstream, and one negotiated anyway is refused
// (before, only an Upgrade of exactly "websocket" was, so compressed frames
// passed as an unreadable byte stream).
func TestWebSocketAmongOtherUpgradesStillGuarded(t *testing.T) {
	t.Parallel()
	up, closed := wsHangingUpstream(t, "Sec-WebSocket-Extensions: permessage-deflate\r\n", func(auth string) [][]byte {
		return [][]byte{cat([]byte{0xc1, byte(len(auth))}, []byte(auth))} // "compressed"
	})
	h, secret := openaiProxy(t, up)
	_, res := h.rawUpgradeDial(t, "/v1/responses", "websocket, x-other")
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusBadGateway || !strings.Contains(string(body), "extension") {
		t.Errorf("client got %d %q", res.StatusCode, body)
	}
	waitClosed(t, closed)
	if r := up.requests()[0]; r.Header.Get("Sec-WebSocket-Extensions") != "" {
		t.Errorf("the extension offer reached the upstream: %v", r.Header)
	}
	if bytes.Contains(body, []byte(secret)) {
		t.Errorf("the secret reached the client")
	}
	h.assertNoCanary(t, secret)
}

// TestWebSocketUnreadableFrameCutsConnection: a frame with RSV1 set
// (compressed, unreadable) or a masked frame, carrying the credential, ends
// the connection: the client gets what came before, a close frame 1002 and
// EOF, and the upstream connection is closed.
func TestWebSocketUnreadableFrameCutsConnection(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, reason string
		b0, mask     byte
	}{
		{"RSV1", "RSV", 0xc1, 0},
		{"masked", "masked", 0x81, 0x80},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			up, closed := wsHangingUpstream(t, "", func(auth string) [][]byte {
				bad := []byte{tc.b0, tc.mask | byte(len(auth))}
				if tc.mask != 0 {
					bad = append(bad, 0, 0, 0, 0) // a zero key: the payload reads as is
				}
				return [][]byte{wsFrame(true, wsOpText, "hello"), cat(bad, []byte(auth))}
			})
			h, secret := openaiProxy(t, up)
			br, res := h.rawWSDial(t, "/v1/responses")
			if res.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("upgrade: %d", res.StatusCode)
			}
			all, _ := io.ReadAll(br)
			got := wsDecode(all, true)
			if got.err != "" || len(got.events) != 2 || got.events[0] != (wsEvent{wsOpText, "hello"}) ||
				got.events[1].op != wsOpClose || !strings.HasPrefix(got.events[1].payload, "\x03\xea") {
				t.Errorf("client got %+v", got)
			}
			if bytes.Contains(all, []byte(secret)) {
				t.Errorf("the secret reached the client")
			}
			waitClosed(t, closed)
			ev := h.audit.waitFor(t, "websocket", func(ev clauderon.AuditEvent) bool { return ev.Path == "/v1/responses" })
			if ev.Status != 101 || ev.Decision != clauderon.DecisionError || !strings.Contains(ev.Error, tc.reason) {
				t.Errorf("event %+v", ev)
			}
			if !strings.Contains(h.logs.String(), "leak guard closed a WebSocket") {
				t.Errorf("no log line for the cut")
			}
			h.assertNoCanary(t, secret)
		})
	}
}

// posPattern is an endless source of body bytes that depend only on their
// position, however they are read.
type posPattern struct{ off int }

func (p *posPattern) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte('a' + (p.off+i)%26)
	}
	p.off += len(b)
	return len(b), nil
}

// wsLargeBody is an 8 MiB message with auth at the start, across the
// guard's first buffer boundary, in the middle and at the end.
func wsLargeBody(auth string, size int) io.Reader {
	a := copyBufferSize - 20
	b := size/2 - a - 2*len(auth)
	c := size - a - b - 4*len(auth)
	s := func() io.Reader { return strings.NewReader(auth) }
	p := func(n int) io.Reader { return io.LimitReader(&posPattern{}, int64(n)) }
	return io.MultiReader(s(), p(a), s(), p(b), s(), p(c), s())
}

// TestWebSocketLargeMessageBoundedMemory sends one 8 MiB frame with the
// credential in it and samples the heap: the guard streams the frame in
// pieces (as fragments), so the heap grows by far less than the message.
// Not parallel, so that the heap it measures is its own.
func TestWebSocketLargeMessageBoundedMemory(t *testing.T) {
	const size = 8 << 20
	up := startUpstreamProto(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := rawWSAccept(w, r, "")
		if err != nil {
			return
		}
		defer conn.Close()
		brw.Write(appendWSHeader(nil, true, wsOpBinary, size))
		io.Copy(brw, wsLargeBody(r.Header.Get("Authorization"), size)) // the client checks what arrives
		brw.Flush()
		conn.SetReadDeadline(time.Now().Add(20 * time.Second))
		io.Copy(io.Discard, conn)
	}), false)
	h, secret := openaiProxy(t, up)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, _ := dialWebSocket(t, ctx, h, "/v1/responses", websocket.DialOptions{})
	c.SetReadLimit(-1)

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	stopSampling := sampleHeap(5 * time.Millisecond)

	typ, rd, err := c.Reader(ctx)
	if err != nil || typ != websocket.MessageBinary {
		t.Fatalf("reader: %v, %v", typ, err)
	}
	ph := "Bearer " + openaiPH
	wantSize := size + 4*(len(ph)-len("Bearer "+secret))
	if n, err := sameStream(rd, wsLargeBody(ph, wantSize)); err != nil {
		t.Fatalf("after %d bytes: %v", n, err)
	}
	peak := max(stopSampling(), base)
	if grew := peak - base; grew > size/2 {
		t.Errorf("heap in use grew by %d KiB while an %d MiB message passed", grew>>10, size>>20)
	} else {
		t.Logf("heap in use grew by %d KiB", grew>>10)
	}
	h.assertNoCanary(t, secret)
}

// sameStream reads got and want to the end in step, without holding either
// whole, and reports how far they agree.
func sameStream(got, want io.Reader) (int, error) {
	a, b := make([]byte, 16<<10), make([]byte, 16<<10)
	n := 0
	for {
		na, errA := io.ReadFull(got, a)
		nb, _ := io.ReadFull(want, b[:max(na, 1)])
		if !bytes.Equal(a[:na], b[:nb]) {
			i := 0
			for i < min(na, nb) && a[i] == b[i] {
				i++
			}
			return n + i, fmt.Errorf("differs: got %.40q, want %.40q", a[i:na], b[i:nb])
		}
		n += na
		if errA == io.EOF || errA == io.ErrUnexpectedEOF {
			if m, _ := want.Read(b[:1]); m != 0 {
				return n, errors.New("got ends early")
			}
			return n, nil
		}
		if errA != nil {
			return n, errA
		}
	}
}

// TestOtherProtocolSwitchRedacted: a protocol switch the guard cannot parse
// is redacted as a byte stream.
func TestOtherProtocolSwitchRedacted(t *testing.T) {
	t.Parallel()
	up := startUpstreamProto(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer conn.Close()
		auth := r.Header.Get("Authorization")
		io.WriteString(brw, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x-test\r\nConnection: Upgrade\r\n\r\n")
		brw.Flush()
		for i := range auth { // a byte at a time
			io.WriteString(brw, auth[i:i+1])
			brw.Flush()
		}
		io.WriteString(brw, "\n")
		brw.Flush()
	}), false)
	h, secret := openaiProxy(t, up)
	c, res := h.rawConnect(t, openaiHost+":443", basicAuth(h.session, testToken))
	if res.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: %d", res.StatusCode)
	}
	tc := tls.Client(c, &tls.Config{ServerName: openaiHost, RootCAs: h.ca.pool})
	io.WriteString(tc, "GET /x HTTP/1.1\r\nHost: "+openaiHost+"\r\nConnection: Upgrade\r\nUpgrade: x-test\r\nAuthorization: Bearer "+openaiPH+"\r\n\r\n")
	br := bufio.NewReader(tc)
	if res, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet}); err != nil || res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %v, %v", res, err)
	}
	if got, err := io.ReadAll(br); err != nil || string(got) != "Bearer "+openaiPH+"\n" {
		t.Errorf("client got %q, %v", got, err)
	}
	h.assertNoCanary(t, secret)
}
