package proxy

import (
	"bytes"
	"cmp"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/clauderon/clauderon"
)

// redactor replaces real secret values with their placeholders in what an
// upstream sends back: an API that echoes a request header, or an error page
// quoting the key, must not hand the container the secret it was kept from.
//
// Values are tried longest first, and at each position the first value that
// matches wins, which is exactly strings.Replacer's rule for the same ordered
// pairs; a streaming body therefore comes out as the whole body would through
// strings.NewReplacer(r.pairs()...).Replace.
type redactor struct {
	values       [][]byte
	finders      []finder // one per value
	placeholders [][]byte
	// lengthChanges reports whether a replacement can change a body's length,
	// in which case Content-Length cannot be passed on.
	lengthChanges bool
}

// newRedactor returns nil when there is nothing to redact, and every method
// treats a nil redactor as "pass through", so the common path costs nothing.
func newRedactor(rs []clauderon.Redaction) *redactor {
	var r redactor
	slices.SortStableFunc(rs, func(a, b clauderon.Redaction) int { return cmp.Compare(b.Value.Len(), a.Value.Len()) })
	for _, x := range rs {
		if x.Value.IsZero() || x.Value.Len() > maxRedactedLen {
			continue
		}
		r.values = append(r.values, []byte(x.Value.Reveal()))
		r.placeholders = append(r.placeholders, []byte(x.Placeholder))
		if x.Value.Len() != len(x.Placeholder) {
			r.lengthChanges = true
		}
	}
	if len(r.values) == 0 {
		return nil
	}
	for _, v := range r.values {
		r.finders = append(r.finders, newFinder(v))
	}
	return &r
}

// maxRedactedLen bounds the values the body guard looks for, so that what it
// holds back always fits its copy buffer. Credentials are far shorter.
const maxRedactedLen = 8 << 10

// pairs returns old, new pairs for strings.NewReplacer (tests compare with it).
func (r *redactor) pairs() []string {
	var out []string
	for i := range r.values {
		out = append(out, string(r.values[i]), string(r.placeholders[i]))
	}
	return out
}

// redactString replaces every secret in s; it allocates only on a match.
func (r *redactor) redactString(s string) string {
	if r == nil {
		return s
	}
	for _, v := range r.values {
		if strings.Contains(s, string(v)) {
			out, _ := r.process(nil, []byte(s), true)
			return string(out)
		}
	}
	return s
}

// redactHeader rewrites header values in place.
func (r *redactor) redactHeader(h http.Header) {
	if r == nil {
		return
	}
	for _, vs := range h {
		for i, v := range vs {
			vs[i] = r.redactString(v)
		}
	}
}

// process appends src to dst with secrets replaced, and returns how many
// trailing bytes of src it held back: the longest suffix that is the start of
// some secret, which the next read may complete. Only that suffix is held, so
// an SSE event ending in "\n\n" is released at once. With final set nothing is
// held.
func (r *redactor) process(dst, src []byte, final bool) ([]byte, int) {
	var next [8]int
	idx := next[:0]
	if len(r.values) > len(next) {
		idx = make([]int, 0, len(r.values))
	}
	for i := range r.finders {
		idx = append(idx, r.finders[i].index(src, 0))
	}
	from := 0
	for {
		h := len(src)
		if !final {
			h -= r.pendingSuffix(src[from:])
		}
		// Leftmost full match; ties go to the earlier (longer) value.
		p, which := -1, -1
		for i := range r.finders {
			if idx[i] >= 0 && idx[i] < from {
				idx[i] = r.finders[i].index(src, from)
			}
			if idx[i] >= 0 && (p < 0 || idx[i] < p) {
				p, which = idx[i], i
			}
		}
		if p < 0 || p >= h {
			return append(dst, src[from:h]...), len(src) - h
		}
		dst = append(dst, src[from:p]...)
		dst = append(dst, r.placeholders[which]...)
		from = p + len(r.values[which])
	}
}

// contains reports whether a secret occurs in b.
func (r *redactor) contains(b []byte) bool {
	for i := range r.finders {
		if r.finders[i].index(b, 0) >= 0 {
			return true
		}
	}
	return false
}

// pendingSuffix is the length of the longest suffix of b that is a proper
// prefix of some secret.
func (r *redactor) pendingSuffix(b []byte) int {
	best := 0
	for _, v := range r.values {
		for l := min(len(v)-1, len(b)); l > best; l-- {
			if b[len(b)-l] == v[0] && bytes.Equal(b[len(b)-l:], v[:l]) {
				best = l
				break
			}
		}
	}
	return best
}

// guard wraps an upstream response body. Reads return data as soon as the
// upstream delivers it, minus at most one secret's length of held-back bytes.
// At the end of the body it also redacts the trailers, which the transport
// fills in only then.
type guard struct {
	src     io.ReadCloser
	r       *redactor
	trailer http.Header
	buf     *[]byte // pooled: held bytes, then freshly read ones
	held    int
	out     []byte
	off     int
	err     error
}

func (r *redactor) guard(body io.ReadCloser, trailer http.Header) io.ReadCloser {
	return &guard{src: body, r: r, trailer: trailer, buf: copyBuffers.get()}
}

func (g *guard) Read(p []byte) (int, error) {
	for {
		if g.off < len(g.out) {
			n := copy(p, g.out[g.off:])
			g.off += n
			return n, nil
		}
		if g.err != nil {
			return 0, g.err
		}
		if g.buf == nil {
			return 0, io.ErrClosedPipe
		}
		buf := *g.buf
		// The body is read straight into p when it has room beyond what is
		// held: a body without secrets (nearly all of them) is then never
		// copied. Only one with a match goes through g.out.
		in, direct := buf, len(p) > g.held
		if direct {
			in = p
			copy(in, buf[:g.held])
		}
		n, err := g.src.Read(in[g.held:])
		n += g.held
		g.err = err
		final := err == io.EOF
		if final {
			g.r.redactHeader(g.trailer)
		}
		// At the end of the body what was held is released (it was not a
		// secret); on a broken stream it is dropped, since it may be the
		// start of one.
		var keep int
		if direct && !g.r.contains(in[:n]) {
			if !final {
				keep = g.r.pendingSuffix(in[:n])
			}
			g.held = copy(buf, in[n-keep:n])
			if n-keep > 0 {
				return n - keep, nil
			}
			continue
		}
		g.out, keep = g.r.process(g.out[:0], in[:n], final)
		g.off = 0
		g.held = copy(buf, in[n-keep:n])
	}
}

func (g *guard) Close() error {
	if g.buf != nil {
		copyBuffers.put(g.buf)
		g.buf = nil
	}
	return g.src.Close()
}

// redactorCache builds a redactor once per credential set: sets are immutable
// and swapped whole, so the pointer identifies the contents.
type redactorCache struct {
	cur atomic.Pointer[redactorEntry]
}

type redactorEntry struct {
	set *clauderon.CredentialSet
	r   *redactor
}

func (c *redactorCache) get(set *clauderon.CredentialSet) *redactor {
	if e := c.cur.Load(); e != nil && e.set == set {
		return e.r
	}
	e := &redactorEntry{set: set, r: newRedactor(set.Redactions())}
	c.cur.Store(e)
	return e.r
}

// bufferPool recycles the 32 KiB buffers used to copy bodies, so streaming a
// response costs no large allocation per request.
type bufferPool struct{ p sync.Pool }

const copyBufferSize = 32 << 10

var copyBuffers = &bufferPool{p: sync.Pool{New: func() any {
	b := make([]byte, copyBufferSize)
	return &b
}}}

func (bp *bufferPool) get() *[]byte  { return bp.p.Get().(*[]byte) }
func (bp *bufferPool) put(b *[]byte) { bp.p.Put(b) }

// Get and Put implement httputil.BufferPool for ReverseProxy.
func (bp *bufferPool) Get() []byte { return *bp.get() }
func (bp *bufferPool) Put(b []byte) {
	if cap(b) >= copyBufferSize {
		b = b[:copyBufferSize]
		bp.put(&b)
	}
}
