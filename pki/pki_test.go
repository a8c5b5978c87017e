package pki

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
)

// MustCA creates a CA in a fresh temporary directory.
func MustCA(tb testing.TB) (*CA, string) {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "home")
	ca, err := LoadOrCreateCA(dir)
	if err != nil {
		tb.Fatalf("LoadOrCreateCA: %v", err)
	}
	return ca, dir
}

func rootPool(ca *CA) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Certificate())
	return p
}

func TestCreateCAFilesAndFields(t *testing.T) {
	ca, dir := MustCA(t)
	for name, want := range map[string]os.FileMode{"": 0o700, KeyFile: 0o600, CertFile: 0o644} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("mode of %q = %04o, want %04o", name, got, want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("dir holds %d entries, want exactly the cert and key (no temp files left)", len(entries))
	}
	c := ca.Certificate()
	if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("root constraints: IsCA=%v MaxPathLen=%d MaxPathLenZero=%v", c.IsCA, c.MaxPathLen, c.MaxPathLenZero)
	}
	if c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("KeyUsage = %v", c.KeyUsage)
	}
	if len(c.SubjectKeyId) == 0 {
		t.Error("no SubjectKeyId")
	}
	if c.SerialNumber.BitLen() > 128 || c.SerialNumber.Sign() <= 0 {
		t.Errorf("serial %v is not a positive 128-bit number", c.SerialNumber)
	}
	if d := c.NotAfter.Sub(c.NotBefore); d < 9*365*24*time.Hour || d > 11*365*24*time.Hour {
		t.Errorf("root validity %v, want about 10 years", d)
	}
	if !strings.Contains(c.Subject.CommonName, "clauderon") {
		t.Errorf("subject %q does not name clauderon", c.Subject)
	}
	if !bytes.Contains(ca.CertPEM(), []byte("BEGIN CERTIFICATE")) {
		t.Error("CertPEM is not PEM")
	}
}

func TestLoadReusesCA(t *testing.T) {
	ca1, dir := MustCA(t)
	ca2, err := LoadOrCreateCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ca1.Certificate().Raw, ca2.Certificate().Raw) || !bytes.Equal(ca1.CertPEM(), ca2.CertPEM()) {
		t.Fatal("second LoadOrCreateCA returned a different CA")
	}
	// A leaf from the reloaded CA verifies against the first one's root.
	leaf, err := NewIssuer(ca2, IssuerOptions{}).Leaf("example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leaf.Leaf.Verify(x509.VerifyOptions{Roots: rootPool(ca1), DNSName: "example.com"}); err != nil {
		t.Fatalf("leaf from reloaded CA does not verify against the original root: %v", err)
	}
}

// snapshot records every file in dir (content and mode), to check that a
// failed load changed nothing.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		data := ""
		if fi.Mode().IsRegular() {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			data = string(b)
		}
		out[e.Name()] = fmt.Sprintf("%v %q", fi.Mode(), data)
	}
	return out
}

func TestBrokenCARefused(t *testing.T) {
	_, otherDir := MustCA(t)
	otherKey, err := os.ReadFile(filepath.Join(otherDir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		breakCA func(t *testing.T, dir string)
		want    []string // substrings of the message
	}{
		{"cert without key", func(t *testing.T, dir string) {
			must(t, os.Remove(filepath.Join(dir, KeyFile)))
		}, []string{"key", "is missing", "restore the key", "remove", "refreshed"}},
		{"key without cert", func(t *testing.T, dir string) {
			must(t, os.Remove(filepath.Join(dir, CertFile)))
		}, []string{"certificate", "is missing", "restore", "remove", KeyFile}},
		{"key unreadable", func(t *testing.T, dir string) {
			p := filepath.Join(dir, KeyFile)
			must(t, os.Remove(p))
			must(t, os.Mkdir(p, 0o700)) // exists, but cannot be read as a file, even by root
		}, []string{"cannot read the key", "restore both files", "remove"}},
		{"key garbled", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, KeyFile), []byte("not a key"), 0o600))
		}, []string{"no PEM PRIVATE KEY", "restore both files", "remove"}},
		{"key of another CA", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, KeyFile), otherKey, 0o600))
		}, []string{"does not belong to the certificate", "remove"}},
		{"cert garbled", func(t *testing.T, dir string) {
			must(t, os.WriteFile(filepath.Join(dir, CertFile), []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), 0o644))
		}, []string{"cannot parse the certificate", "remove"}},
		{"key readable by others", func(t *testing.T, dir string) {
			must(t, os.Chmod(filepath.Join(dir, KeyFile), 0o644))
		}, []string{"readable by other users", "chmod 600"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, dir := MustCA(t)
			tt.breakCA(t, dir)
			before := snapshot(t, dir)
			ca, err := LoadOrCreateCA(dir)
			if err == nil {
				t.Fatalf("LoadOrCreateCA succeeded (CA %v) on a broken CA", ca.Certificate().SerialNumber)
			}
			var ce *clauderon.Error
			if !errors.As(err, &ce) || ce.Code != clauderon.EINVALID {
				t.Fatalf("error %v (%T) is not an EINVALID *clauderon.Error", err, err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			after := snapshot(t, dir)
			if fmt.Sprint(before) != fmt.Sprint(after) {
				t.Errorf("files changed by a failed load:\nbefore %v\nafter  %v", before, after)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestLeafVerifies(t *testing.T) {
	ca, _ := MustCA(t)
	is := NewIssuer(ca, IssuerOptions{})
	for _, tc := range []struct{ host, verifyAs string }{
		{"api.anthropic.com", "api.anthropic.com"},
		{"API.Example.COM.", "api.example.com"},
		{"127.0.0.1", "127.0.0.1"},
		{"::1", "::1"},
		{"[2001:db8::1]", "2001:db8::1"},
	} {
		t.Run(tc.host, func(t *testing.T) {
			c, err := is.Leaf(tc.host)
			if err != nil {
				t.Fatal(err)
			}
			if c.Leaf == nil || len(c.Certificate) != 1 {
				t.Fatalf("Leaf set: %v, chain length %d (want the leaf alone)", c.Leaf != nil, len(c.Certificate))
			}
			_, err = c.Leaf.Verify(x509.VerifyOptions{
				Roots:     rootPool(ca),
				DNSName:   tc.verifyAs,
				KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
			})
			if err != nil {
				t.Fatalf("verify: %v", err)
			}
			if _, err := c.Leaf.Verify(x509.VerifyOptions{Roots: rootPool(ca), DNSName: "other.example"}); err == nil {
				t.Error("leaf verifies for a different name")
			}
			l := c.Leaf
			if l.IsCA || l.SerialNumber.BitLen() > 128 || l.SerialNumber.Sign() <= 0 {
				t.Errorf("leaf IsCA=%v serial=%v", l.IsCA, l.SerialNumber)
			}
			if d := l.NotAfter.Sub(l.NotBefore); d > DefaultLeafValidity+2*time.Hour {
				t.Errorf("leaf validity %v is longer than %v", d, DefaultLeafValidity)
			}
			if !l.NotBefore.Before(time.Now().Add(-30 * time.Minute)) {
				t.Errorf("NotBefore %v is not backdated for clock skew", l.NotBefore)
			}
		})
	}
}

func TestLeafSerialsDiffer(t *testing.T) {
	ca, _ := MustCA(t)
	is := NewIssuer(ca, IssuerOptions{})
	a, _ := is.Leaf("a.example")
	b, _ := is.Leaf("b.example")
	if a.Leaf.SerialNumber.Cmp(b.Leaf.SerialNumber) == 0 {
		t.Fatal("two leaves share a serial number")
	}
}

func TestInvalidHosts(t *testing.T) {
	ca, _ := MustCA(t)
	is := NewIssuer(ca, IssuerOptions{})
	for _, h := range []string{
		"", ".", "a..b", ".a", "exa mple.com", "example.com/path", "example.com:443", "*.example.com",
		"bücher.de", "a\x00b", strings.Repeat("a", 64) + ".com", strings.Repeat("a.", 130) + "com", "fe80::1%eth0",
	} {
		_, err := is.Leaf(h)
		var ce *clauderon.Error
		if !errors.As(err, &ce) || ce.Code != clauderon.EINVALID {
			t.Errorf("Leaf(%q) error = %v, want EINVALID", h, err)
			continue
		}
		if len(ce.Message) > 300 {
			t.Errorf("Leaf(%q) error is %d bytes: long input must be cut", h, len(ce.Message))
		}
	}
	if _, err := is.GetCertificate(&tls.ClientHelloInfo{}); err == nil || !strings.Contains(err.Error(), "SNI") {
		t.Errorf("GetCertificate without SNI: %v, want an error naming SNI", err)
	}
	if n := is.mints.Load(); n != 0 {
		t.Errorf("%d leaves minted for invalid names", n)
	}
}

func TestConcurrentFirstRequestsMintOnce(t *testing.T) {
	ca, _ := MustCA(t)
	is := NewIssuer(ca, IssuerOptions{})
	const n = 64
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		certs = make([]*tls.Certificate, n)
		errs  = make([]error, n)
	)
	for i := range n {
		wg.Go(func() {
			<-start
			certs[i], errs[i] = is.GetCertificate(&tls.ClientHelloInfo{ServerName: "api.openai.com"})
		})
	}
	close(start)
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if certs[i] != certs[0] {
			t.Fatalf("goroutine %d got a different certificate", i)
		}
	}
	if got := is.mints.Load(); got != 1 {
		t.Fatalf("minted %d times, want 1", got)
	}
}

func TestCacheIsBoundedLRU(t *testing.T) {
	ca, _ := MustCA(t)
	is := NewIssuer(ca, IssuerOptions{CacheSize: 3})
	leaf := func(h string) *tls.Certificate {
		t.Helper()
		c, err := is.Leaf(h)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a := leaf("a.test")
	leaf("b.test")
	leaf("c.test")
	if leaf("a.test") != a { // a is now most recent
		t.Fatal("a.test re-minted while cached")
	}
	leaf("d.test") // evicts b, the least recently used
	if got := is.cache.len(); got != 3 {
		t.Fatalf("cache holds %d, want 3", got)
	}
	before := is.mints.Load()
	leaf("a.test")
	leaf("c.test")
	leaf("d.test")
	if is.mints.Load() != before {
		t.Fatal("a recently used leaf was evicted")
	}
	leaf("b.test")
	if is.mints.Load() != before+1 {
		t.Fatal("b.test was not evicted")
	}
	for i := range 50 {
		leaf(fmt.Sprintf("h%d.test", i))
	}
	if got := is.cache.len(); got != 3 {
		t.Fatalf("cache holds %d after many hosts, want 3", got)
	}
}

func TestLeafRenewedNearExpiry(t *testing.T) {
	ca, _ := MustCA(t)
	is := NewIssuer(ca, IssuerOptions{Validity: 8 * time.Hour})
	now := time.Now()
	is.now = func() time.Time { return now }
	first, _ := is.Leaf("x.test")
	now = now.Add(5 * time.Hour) // 3h of 8h left: still more than a quarter
	if c, _ := is.Leaf("x.test"); c != first {
		t.Fatal("re-minted with more than a quarter of the validity left")
	}
	now = now.Add(2 * time.Hour) // 1h left
	c, _ := is.Leaf("x.test")
	if c == first {
		t.Fatal("leaf close to expiry was not re-minted")
	}
	if !c.Leaf.NotAfter.After(first.Leaf.NotAfter) {
		t.Fatal("renewed leaf does not expire later")
	}
}

func TestTLSHandshake(t *testing.T) {
	ca, _ := MustCA(t)
	is := NewIssuer(ca, IssuerOptions{})
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: is.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if err := c.(*tls.Conn).Handshake(); err != nil {
					return
				}
				io.WriteString(c, "hello from "+c.(*tls.Conn).ConnectionState().ServerName)
			}()
		}
	}()

	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: "api.github.com", RootCAs: rootPool(ca)})
	if err != nil {
		t.Fatalf("handshake with the root trusted: %v", err)
	}
	got, err := io.ReadAll(conn)
	conn.Close()
	if err != nil || string(got) != "hello from api.github.com" {
		t.Fatalf("read %q, %v", got, err)
	}

	// Without the root, the same handshake must fail: the leaf is only
	// trusted through our CA.
	if c, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{ServerName: "api.github.com", RootCAs: x509.NewCertPool()}); err == nil {
		c.Close()
		t.Fatal("handshake succeeded without trusting the root")
	}
	// Dialling by IP sends no SNI; the server refuses rather than guess.
	d := &net.Dialer{}
	if c, err := tls.DialWithDialer(d, "tcp", ln.Addr().String(), &tls.Config{RootCAs: rootPool(ca)}); err == nil {
		c.Close()
		t.Fatal("handshake without SNI succeeded")
	}
}

func BenchmarkLeafMint(b *testing.B) {
	ca, _ := MustCA(b)
	is := NewIssuer(ca, IssuerOptions{})
	for b.Loop() {
		if _, _, err := is.mint("bench.example.com", netip.Addr{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLeafCached(b *testing.B) {
	ca, _ := MustCA(b)
	is := NewIssuer(ca, IssuerOptions{})
	hello := &tls.ClientHelloInfo{ServerName: "api.anthropic.com"}
	if _, err := is.GetCertificate(hello); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := is.GetCertificate(hello); err != nil {
			b.Fatal(err)
		}
	}
}
