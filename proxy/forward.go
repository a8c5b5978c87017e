package proxy

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"

	"github.com/clauderon/clauderon"
)

// forward sends the request upstream through the shared ReverseProxy, which
// streams both bodies, flushes every write (SSE), hands redirects back to the
// client instead of following them, and bridges protocol switches
// (WebSocket). The exchange rides in the context to rewrite, modifyResponse
// and upstreamError.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, ex *exchange) {
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = countingBody{ReadCloser: r.Body, n: &ex.up}
	}
	r.Header.Del("Proxy-Authorization")
	r.Header.Del("Proxy-Connection")
	p.rp.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), exchangeKey{}, ex)))
}

// servePlain forwards an absolute-form http:// request. Nothing is injected
// on plain HTTP: a credential must never cross the network in clear text.
func (p *Proxy) servePlain(w http.ResponseWriter, r *http.Request, ex *exchange) {
	ex.path = r.URL.Path
	ex.scheme = "http"
	defer p.finishAfterPanic(ex)
	if r.URL.Scheme != "http" || r.URL.Host == "" {
		ex.host = requestHost(r)
		ex.deny(w, http.StatusBadRequest, "send http:// URLs in absolute form, and use CONNECT for https://")
		return
	}
	host, port, err := parseAuthority(r.URL.Host, 80)
	if err != nil {
		ex.deny(w, http.StatusBadRequest, "invalid host in request URL")
		return
	}
	ex.host = host
	ex.target = net.JoinHostPort(host, strconv.Itoa(port))
	if !p.allowed(w, r, ex) {
		return
	}
	ex.red = p.redactors.get(p.credentials())
	ex.path = ex.red.redactString(ex.path)
	p.forward(w, r, ex)
}

// rewrite builds the upstream request: the destination is always the one the
// client's CONNECT (or absolute URL) named, never taken from other headers.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	ex := exchangeFrom(pr.In.Context())
	out := pr.Out
	out.URL.Scheme = ex.scheme
	out.URL.Host = ex.target
	out.URL.RawQuery = pr.In.URL.RawQuery // as sent; ReverseProxy would re-encode it
	// The Host header is the checked, normalised name (no trailing dot, lower
	// case), with the port only when it is not the scheme's default.
	out.Host = hostHeader(ex.target, ex.scheme)
	out.Header.Del("Proxy-Authorization")
	out.Header.Del("Proxy-Connection")
	if ex.cred != nil && ex.scheme == "https" {
		for _, h := range ex.cred.Rule.Strip {
			out.Header.Del(h)
		}
		out.Header.Set(ex.cred.Rule.Header, ex.cred.HeaderValue())
		ex.injected = true
	}
	if ex.red != nil && out.Header.Get("Upgrade") != "" {
		// No permessage-deflate: the leak guard must read every frame
		// (wsguard.go). Any upgrade, not only one of exactly "websocket":
		// the container chooses the header.
		out.Header.Del("Sec-WebSocket-Extensions")
	}
}

var defaultPort = map[string]string{"https": "443", "http": "80"}

// modifyResponse applies the leak guard to the upstream's answer before any
// of it reaches the client.
func (p *Proxy) modifyResponse(res *http.Response) error {
	ex := exchangeFrom(res.Request.Context())
	ex.red.redactHeader(res.Header)
	if res.StatusCode == http.StatusSwitchingProtocols {
		// Body is the upstream connection, which ReverseProxy copies to the
		// client: the leak guard reads it frame by frame (wsguard.go).
		if rwc, ok := res.Body.(io.ReadWriteCloser); ok {
			guarded, err := p.guardSwitch(ex, res, rwc)
			if err != nil {
				return err // ReverseProxy closes the body and answers 502
			}
			res.Body = countingConn{ReadWriteCloser: guarded, ex: ex}
		}
		ex.status = res.StatusCode
		return nil
	}
	return guardBody(ex.red, res)
}

// guardBody puts the leak guard between the response body and the client.
// The headers must have been redacted already.
func guardBody(red *redactor, res *http.Response) error {
	if red == nil || res.Body == nil || res.Body == http.NoBody {
		return nil
	}
	if !red.lengthChanges || res.Request.Method == http.MethodHead {
		res.Body = red.guard(res.Body, res.Trailer)
		return nil
	}
	if res.ContentLength >= 0 && res.ContentLength <= smallBody && len(res.Trailer) == 0 {
		return redactSmallBody(red, res)
	}
	// A replacement may change the length; the client gets chunked framing
	// (or a close-delimited body) instead.
	res.Header.Del("Content-Length")
	res.ContentLength = -1
	res.Body = red.guard(res.Body, res.Trailer)
	return nil
}

// smallBody is the largest announced body the leak guard reads whole. Most
// API answers are small; reading them whole keeps an exact Content-Length
// (one write to the client, no chunked framing) even when a replacement
// changes the length. (Trailers need chunked framing, so bodies announcing
// them are streamed.)
const smallBody = 16 << 10

func redactSmallBody(r *redactor, res *http.Response) error {
	bp := copyBuffers.get()
	defer copyBuffers.put(bp)
	buf := (*bp)[:res.ContentLength]
	_, err := io.ReadFull(res.Body, buf)
	if err == nil {
		// Read on to the end: the transport fills in trailers only there.
		var one [1]byte
		if n, _ := res.Body.Read(one[:]); n != 0 {
			err = errors.New("body longer than its Content-Length")
		}
	}
	res.Body.Close()
	if err != nil {
		return err // ReverseProxy answers 502 through upstreamError
	}
	r.redactHeader(res.Trailer)
	out, _ := r.process(make([]byte, 0, len(buf)), buf, true)
	res.Body = io.NopCloser(bytes.NewReader(out))
	res.ContentLength = int64(len(out))
	res.Header.Set("Content-Length", strconv.Itoa(len(out)))
	return nil
}

// upstreamError answers when the upstream could not be reached or failed
// before sending a response (ReverseProxy's ErrorHandler).
func (p *Proxy) upstreamError(w http.ResponseWriter, r *http.Request, err error) {
	p.failUpstream(w, r.Context(), exchangeFrom(r.Context()), err)
}

// failUpstream answers an upstream failure. The client gets a fixed message;
// the log gets the cause without the URL, whose query may carry tokens, and
// with any secret redacted.
func (p *Proxy) failUpstream(w http.ResponseWriter, ctx context.Context, ex *exchange, err error) {
	ex.decision = clauderon.DecisionError
	code, reason := classify(err)
	if ctx.Err() != nil {
		reason = "client went away"
	}
	ex.reason = reason
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	p.log.Warn("upstream request failed", "session", ex.id.Session, "host", ex.host,
		"reason", reason, "error", ex.red.redactString(err.Error()))
	if code == http.StatusForbidden {
		ex.decision = clauderon.DecisionDenied
	}
	refuse(w, code, reason)
}

// classify maps an upstream failure to a status and a short reason.
func classify(err error) (int, string) {
	var (
		unknownAuth x509.UnknownAuthorityError
		hostnameErr x509.HostnameError
		certInvalid x509.CertificateInvalidError
		recordErr   tls.RecordHeaderError
		dnsErr      *net.DNSError
		netErr      net.Error
	)
	switch {
	case errors.Is(err, errForbiddenAddr):
		return http.StatusForbidden, "destination address not allowed"
	case errors.As(err, &unknownAuth), errors.As(err, &hostnameErr), errors.As(err, &certInvalid):
		return http.StatusBadGateway, "upstream TLS certificate not trusted"
	case errors.As(err, &recordErr):
		return http.StatusBadGateway, "upstream does not speak TLS"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return http.StatusBadGateway, "upstream broke off the response"
	case errors.Is(err, errWSExtension):
		return http.StatusBadGateway, "upstream negotiated a WebSocket extension (compression) the leak guard cannot read"
	case errors.Is(err, errHeadTooLarge):
		return http.StatusBadGateway, "upstream response head too large"
	case errors.As(err, &dnsErr):
		return http.StatusBadGateway, "upstream host not found"
	case errors.As(err, &netErr) && netErr.Timeout():
		return http.StatusGatewayTimeout, "upstream timed out"
	default:
		return http.StatusBadGateway, "upstream unreachable"
	}
}
