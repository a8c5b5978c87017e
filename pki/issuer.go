package pki

import (
	"container/list"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/clauderon/clauderon"
)

// Defaults for IssuerOptions.
const (
	DefaultCacheSize    = 1024
	DefaultLeafValidity = 7 * 24 * time.Hour
	// maxHostLen is the longest DNS name (RFC 1035), which is also longer
	// than any IP literal.
	maxHostLen = 253
)

// IssuerOptions tunes an Issuer. The zero value gives the defaults.
type IssuerOptions struct {
	// CacheSize bounds how many leaves are kept (least recently used are
	// dropped first). 0 means DefaultCacheSize.
	CacheSize int
	// Validity of each leaf. Short, because a leaf's key lives in memory
	// only and there is no revocation; 0 means DefaultLeafValidity.
	Validity time.Duration
}

// Issuer mints leaf certificates signed by a CA, one per server name, and
// caches them. It is safe for concurrent use; concurrent first requests for
// the same name share one minting.
type Issuer struct {
	ca       *CA
	validity time.Duration
	now      func() time.Time

	group singleflight.Group
	cache *lru
	mints atomic.Int64 // leaves minted, for tests
}

// NewIssuer returns an Issuer signing with ca.
func NewIssuer(ca *CA, opts IssuerOptions) *Issuer {
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if opts.Validity <= 0 {
		opts.Validity = DefaultLeafValidity
	}
	return &Issuer{ca: ca, validity: opts.Validity, now: time.Now, cache: newLRU(opts.CacheSize)}
}

// GetCertificate returns the leaf for the client's SNI name; it fits
// tls.Config.GetCertificate. A ClientHello without SNI is an error: the proxy
// can only present a certificate for a name it knows.
func (is *Issuer) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if hello == nil || hello.ServerName == "" {
		return nil, clauderon.Errorf(clauderon.EINVALID,
			"TLS client sent no server name (SNI): connect by host name, not by IP address, so the proxy knows which certificate to present")
	}
	return is.Leaf(hello.ServerName)
}

// Leaf returns a certificate for host (a DNS name or an IP literal, any
// case, without port), minting it if no fresh one is cached. The result has
// Leaf set and must not be changed. An invalid host is a *clauderon.Error
// with code EINVALID.
func (is *Issuer) Leaf(host string) (*tls.Certificate, error) {
	name, ip, err := normalizeHost(host)
	if err != nil {
		return nil, err
	}
	if c := is.cache.get(name, is.now()); c != nil {
		return c, nil
	}
	v, err, _ := is.group.Do(name, func() (any, error) {
		// A caller that arrives after another's minting finished but
		// before it left the group finds the leaf here.
		if c := is.cache.get(name, is.now()); c != nil {
			return c, nil
		}
		c, renewAt, err := is.mint(name, ip)
		if err != nil {
			return nil, err
		}
		is.cache.add(name, c, renewAt)
		return c, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(*tls.Certificate), nil
}

// mint creates a leaf for name. renewAt is when a cached copy should be
// replaced: with a quarter of its validity left, so a client never receives
// a leaf about to expire mid-connection.
func (is *Issuer) mint(name string, ip netip.Addr) (*tls.Certificate, time.Time, error) {
	is.mints.Add(1)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("generate leaf key: %w", err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, time.Time{}, err
	}
	now := is.now()
	notAfter := now.Add(is.validity)
	if caEnd := is.ca.cert.NotAfter; notAfter.After(caEnd) {
		// A leaf outliving its root is rejected by verifiers anyway.
		notAfter = caEnd
	}
	tpl := &x509.Certificate{
		SerialNumber: serial,
		// CommonName only for humans reading the certificate; clients
		// match on the SAN below.
		Subject:   pkix.Name{Organization: []string{"clauderon proxy"}, CommonName: name},
		NotBefore: now.Add(-clockSkew),
		NotAfter:  notAfter,
		// ECDSA keys only sign (ECDHE handshakes), so no KeyEncipherment.
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  false,
	}
	if ip.IsValid() {
		tpl.IPAddresses = append(tpl.IPAddresses, ip.AsSlice())
	} else {
		tpl.DNSNames = []string{name}
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, is.ca.cert, &key.PublicKey, is.ca.key)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("sign leaf for %s: %w", name, err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("parse leaf for %s: %w", name, err)
	}
	renewAt := notAfter.Add(-is.validity / 4)
	// The chain is the leaf alone: clients trust the root itself, and
	// sending it would only add bytes to every handshake.
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, renewAt, nil
}

// normalizeHost validates host and returns the cache key (lower case, IP
// literals in canonical form) and, for IP literals, the address.
func normalizeHost(host string) (string, netip.Addr, error) {
	show := host
	if len(show) > 64 {
		show = show[:64] + "…"
	}
	if host == "" {
		return "", netip.Addr{}, clauderon.Errorf(clauderon.EINVALID, "no host name given for a certificate")
	}
	if len(host) > maxHostLen+1 { // +1 for a trailing dot
		return "", netip.Addr{}, clauderon.Errorf(clauderon.EINVALID,
			"host name %q is %d bytes long: a host name has at most %d", show, len(host), maxHostLen)
	}
	// The IP checks are skipped for ordinary names: ParseAddr's error
	// allocates, and this runs on every handshake.
	if h := strings.TrimPrefix(strings.TrimSuffix(host, "]"), "["); maybeIP(h) {
		if ip, err := netip.ParseAddr(h); err == nil {
			if ip.Zone() != "" {
				return "", netip.Addr{}, clauderon.Errorf(clauderon.EINVALID,
					"IP address %q has a zone: certificates cannot name one", show)
			}
			ip = ip.Unmap()
			return ip.String(), ip, nil
		}
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if maybeIP(h) {
		if ip, err := netip.ParseAddr(h); err == nil && ip.Zone() == "" { // "1.2.3.4." is still an address
			ip = ip.Unmap()
			return ip.String(), ip, nil
		}
	}
	if h == "" {
		return "", netip.Addr{}, clauderon.Errorf(clauderon.EINVALID, "no host name given for a certificate")
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 {
			return "", netip.Addr{}, clauderon.Errorf(clauderon.EINVALID,
				"invalid host name %q: each dot-separated part must be 1 to 63 characters", show)
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			// Underscores are not valid in host names but appear in real
			// DNS names, and Go's verifier accepts them.
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				return "", netip.Addr{}, clauderon.Errorf(clauderon.EINVALID,
					"invalid host name %q: only letters, digits, '-' and '_' are allowed (use the xn-- form for international names)", show)
			}
		}
	}
	return h, netip.Addr{}, nil
}

// maybeIP is a cheap pre-check: IPv6 literals hold a colon, IPv4 literals end
// in a digit, and no top-level domain does.
func maybeIP(h string) bool {
	return h != "" && (strings.IndexByte(h, ':') >= 0 || '0' <= h[len(h)-1] && h[len(h)-1] <= '9')
}

// lru is a fixed-size least-recently-used cache of leaves.
type lru struct {
	mu    sync.Mutex
	max   int
	order *list.List // front: most recently used; values are *entry
	items map[string]*list.Element
}

type entry struct {
	name    string
	cert    *tls.Certificate
	renewAt time.Time
}

func newLRU(max int) *lru {
	return &lru{max: max, order: list.New(), items: make(map[string]*list.Element)}
}

// get returns the cached leaf for name unless it is due for renewal.
func (c *lru) get(name string, now time.Time) *tls.Certificate {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[name]
	if !ok {
		return nil
	}
	e := el.Value.(*entry)
	if !now.Before(e.renewAt) {
		c.order.Remove(el)
		delete(c.items, name)
		return nil
	}
	c.order.MoveToFront(el)
	return e.cert
}

func (c *lru) add(name string, cert *tls.Certificate, renewAt time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[name]; ok {
		el.Value = &entry{name: name, cert: cert, renewAt: renewAt}
		c.order.MoveToFront(el)
		return
	}
	c.items[name] = c.order.PushFront(&entry{name: name, cert: cert, renewAt: renewAt})
	for c.order.Len() > c.max {
		old := c.order.Back()
		c.order.Remove(old)
		delete(c.items, old.Value.(*entry).name)
	}
}

func (c *lru) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
