package proxy

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/clauderon/clauderon"
)

// roundTrip forwards an intercepted request to its upstream on a pooled
// HTTP/1.1 connection and streams the answer back through the leak guard,
// all on the goroutine serving the client (see upstream.go for why).
// Protocol switches (WebSocket) still go through ReverseProxy.
//
// A request with a body takes a pooled connection only after probing it; a
// request without one that fails on a reused connection before any of the
// response arrived is retried once on a new connection (the upstream closed
// the idle connection, as it may at any time).
func (p *Proxy) roundTrip(w *auditWriter, rw *respWriter, r *http.Request, ex *exchange) {
	key := upstreamKey{session: ex.id.Session, target: ex.target}
	var body io.Reader
	if r.Body != nil && r.Body != http.NoBody {
		body = countingBody{ReadCloser: r.Body, n: &ex.up}
	}
	host := hostHeader(ex.target, ex.scheme)
	ctx := r.Context()
	for attempt := 0; ; attempt++ {
		uc := p.upstreams.get(key, body != nil)
		if uc == nil {
			var err error
			uc, err = p.dialUpstream(context.WithValue(ctx, exchangeKey{}, ex), key, ex.host)
			if err != nil {
				p.failUpstream(w, ctx, ex, err)
				return
			}
		}
		// A client that goes away interrupts the upstream connection
		// (goneWatcher).
		if !rw.watch.watchUpstream(uc.raw) {
			p.upstreams.put(uc) // unused: nothing was sent on it
			ex.reason = "client went away"
			rw.abort = true
			return
		}
		res, err := p.send(uc, r, body, host, ex)
		if err != nil {
			rw.watch.watchUpstream(nil)
			uc.close()
			var se sendError
			retry := errors.As(err, &se) && se.retryable && uc.reused && body == nil && attempt == 0 && ctx.Err() == nil
			if retry {
				continue
			}
			p.failUpstream(w, ctx, ex, err)
			return
		}
		reusable := p.relay(ctx, w, rw, uc, res, ex)
		if rw.watch.watchUpstream(nil) && reusable { // (a connection interrupted is not)
			p.upstreams.put(uc)
		} else {
			uc.close()
		}
		return
	}
}

// sendError wraps a failure to send a request or read its response head.
// retryable means nothing of a response arrived: the connection was found
// closed.
type sendError struct {
	err       error
	retryable bool
}

func (e sendError) Error() string { return e.err.Error() }
func (e sendError) Unwrap() error { return e.err }

// send writes the request and reads the response head.
func (p *Proxy) send(uc *upstreamConn, r *http.Request, body io.Reader, host string, ex *exchange) (*http.Response, error) {
	writeErr := writeRequest(uc.bw, r, body, host, ex)
	uc.src.limit, uc.src.hitLim = MaxHeaderBytes+4096, false
	defer func() { uc.src.limit = -1 }()
	// Wait for the first byte of the answer apart from parsing it, to tell a
	// connection that was already closed (nothing arrives) from a broken
	// answer.
	if _, err := uc.br.Peek(1); err != nil {
		if writeErr != nil {
			err = writeErr
		}
		return nil, sendError{err: err, retryable: true}
	}
	for informational := 0; ; informational++ {
		res, err := http.ReadResponse(uc.br, r)
		if err != nil {
			if uc.src.hitLim {
				err = errHeadTooLarge
			}
			return nil, sendError{err: err}
		}
		if writeErr != nil {
			// The upstream answered before taking the whole body (a
			// refusal): relay the answer, then close the connection.
			res.Close = true
		}
		if res.StatusCode >= 200 || res.StatusCode == http.StatusSwitchingProtocols {
			if res.StatusCode == http.StatusSwitchingProtocols {
				return nil, sendError{err: errors.New("upstream switched protocols unasked")}
			}
			return res, nil
		}
		// 1xx: 100 Continue (not asked for: Expect is not forwarded) and
		// 103 Early Hints are dropped, as a proxy may.
		if informational >= 8 {
			return nil, sendError{err: errors.New("upstream sent too many informational responses")}
		}
	}
}

var (
	aLongTimeAgo    = time.Unix(1, 0)
	errHeadTooLarge = errors.New("upstream response head too large")
)

// relay sends the response head and body to the client. It reports whether
// the exchange left the upstream connection fit for another request.
func (p *Proxy) relay(ctx context.Context, w *auditWriter, rw *respWriter, uc *upstreamConn, res *http.Response, ex *exchange) bool {
	removeHopHeaders(res.Header)
	ex.red.redactHeader(res.Header)
	if err := guardBody(ex.red, res); err != nil {
		p.failUpstream(w, ctx, ex, err)
		return false
	}
	h := w.Header()
	for k, vv := range res.Header {
		h[k] = vv
	}
	if len(res.Trailer) > 0 {
		names := make([]string, 0, len(res.Trailer))
		for k := range res.Trailer {
			names = append(names, k)
		}
		h["Trailer"] = []string{strings.Join(names, ", ")}
	}
	w.WriteHeader(res.StatusCode)

	bp := copyBuffers.get()
	defer copyBuffers.put(bp)
	buf := *bp
	for {
		n, rerr := res.Body.Read(buf)
		if n > 0 {
			if _, err := w.Write(buf[:n]); err != nil {
				ex.reason = "client went away"
				rw.abort = true
				break
			}
			if rerr == nil {
				// Flush as the upstream sends: server-sent events reach the
				// client at once. (The last piece is flushed with the
				// response's end.)
				if err := rw.FlushError(); err != nil {
					ex.reason = "client went away"
					rw.abort = true
					break
				}
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			// The client must not take a cut answer for a whole one: its
			// connection is closed without the body's proper end.
			if ctx.Err() != nil {
				ex.reason = "client went away"
			} else {
				ex.decision, ex.reason = clauderon.DecisionError, "upstream broke off the response"
			}
			rw.abort = true
			break
		}
	}
	if rw.abort {
		// The connection goes first: closing an unfinished body reads it to
		// its end, which could take as long as the upstream streams.
		uc.raw.Close()
		res.Body.Close()
		return false
	}
	res.Body.Close()
	for k, vv := range res.Trailer {
		h[k] = vv
	}
	// The client gets the end of the response now, before the audit line
	// is written.
	if err := rw.finish(); err != nil && ex.reason == "" {
		ex.reason = "client went away"
	}
	return !res.Close && uc.br.Buffered() == 0
}

// writeRequest writes the request head and body. The head carries the
// client's end-to-end headers, minus hop-by-hop ones, the rule's stripped
// headers and Expect (100 Continue is answered to the client by the proxy
// itself), plus the credential and the proxy's own framing.
func writeRequest(bw *bufio.Writer, r *http.Request, body io.Reader, host string, ex *exchange) error {
	bw.WriteString(r.Method)
	bw.WriteString(" ")
	bw.WriteString(r.URL.RequestURI())
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	named := connectionNamed(r.Header)
	var injected string
	if ex.cred != nil && ex.scheme == "https" {
		injected = http.CanonicalHeaderKey(ex.cred.Rule.Header)
	}
	for k, vv := range r.Header {
		if k == "Te" { // hop-by-hop, but "trailers" is passed on, as ReverseProxy does
			if !slices.Contains(named, k) && hasToken(strings.Join(vv, ","), "trailers") {
				bw.WriteString("Te: trailers\r\n")
			}
			continue
		}
		if skipRequestHeader(k, named) || k == injected || (ex.cred != nil && stripped(ex.cred.Rule.Strip, k)) {
			continue
		}
		for _, v := range vv {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(v)
			bw.WriteString("\r\n")
		}
	}
	if injected != "" {
		bw.WriteString(injected)
		bw.WriteString(": ")
		bw.WriteString(ex.cred.HeaderValue())
		bw.WriteString("\r\n")
		ex.injected = true
	}
	chunked := false
	switch {
	case body == nil:
		if r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
			bw.WriteString("Content-Length: 0\r\n")
		}
	case r.ContentLength > 0:
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.FormatInt(r.ContentLength, 10))
		bw.WriteString("\r\n")
	default:
		chunked = true
		bw.WriteString("Transfer-Encoding: chunked\r\n")
		if len(r.Trailer) > 0 {
			names := make([]string, 0, len(r.Trailer))
			for k := range r.Trailer {
				names = append(names, k)
			}
			bw.WriteString("Trailer: " + strings.Join(names, ", ") + "\r\n")
		}
	}
	if _, err := bw.WriteString("\r\n"); err != nil {
		return err
	}
	if body != nil {
		if err := writeBody(bw, r, body, chunked); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// writeBody copies the request body: as it is for a declared length, or in
// chunks with the client's trailers.
func writeBody(bw *bufio.Writer, r *http.Request, body io.Reader, chunked bool) error {
	bp := copyBuffers.get()
	defer copyBuffers.put(bp)
	var dst io.Writer = writerOnly{bw}
	if chunked {
		dst = chunkWriter{bw}
	}
	// writerOnly hides bufio.Writer's ReadFrom, which would copy through
	// its 4 KiB buffer: large bodies go in 32 KiB writes.
	n, err := io.CopyBuffer(dst, body, *bp)
	if err != nil {
		return err
	}
	if !chunked {
		if n != r.ContentLength {
			return io.ErrUnexpectedEOF
		}
		return nil
	}
	bw.WriteString("0\r\n") // the last chunk
	if err := r.Trailer.Write(bw); err != nil {
		return err
	}
	_, err = bw.WriteString("\r\n")
	return err
}

// chunkWriter frames each write as one chunk (see writeChunk).
type chunkWriter struct{ bw *bufio.Writer }

func (c chunkWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil // a zero-length chunk would end the body
	}
	return writeChunk(c.bw, p)
}

type writerOnly struct{ io.Writer }

// hopByHop are meaningful for one connection only and are never forwarded,
// in either direction (RFC 9110, section 7.6.1).
var hopByHop = []string{
	"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade",
}

// connectionNamed returns the headers h's Connection header names (they are
// hop-by-hop too), canonical.
func connectionNamed(h http.Header) []string {
	var named []string
	for _, v := range h["Connection"] {
		for t := range strings.SplitSeq(v, ",") {
			if t = strings.TrimSpace(t); t != "" {
				named = append(named, http.CanonicalHeaderKey(t))
			}
		}
	}
	return named
}

// skipRequestHeader reports the request headers not forwarded: hop-by-hop
// ones, Expect (100 Continue is answered by the proxy) and the framing the
// proxy writes itself.
func skipRequestHeader(k string, named []string) bool {
	return k == "Expect" || k == "Content-Length" || slices.Contains(hopByHop, k) || slices.Contains(named, k)
}

func stripped(names []string, k string) bool {
	for _, s := range names {
		if http.CanonicalHeaderKey(s) == k {
			return true
		}
	}
	return false
}

// removeHopHeaders drops a response's hop-by-hop headers (the client's
// connection gets its own framing) and those its Connection header names.
func removeHopHeaders(h http.Header) {
	for _, k := range connectionNamed(h) {
		delete(h, k)
	}
	for _, k := range hopByHop {
		delete(h, k)
	}
}

// hostHeader is the Host the upstream gets: the checked CONNECT host, with
// the port only when it is not the scheme's default.
func hostHeader(target, scheme string) string {
	if i := strings.LastIndexByte(target, ':'); i >= 0 && target[i+1:] == defaultPort[scheme] {
		return target[:i] // keeps [v6] brackets
	}
	return target
}
