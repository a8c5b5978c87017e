// Package pki is clauderon's local certificate authority. The proxy terminates
// TLS for hosts that get a credential, so it must present a certificate for
// each of them that the agent's container trusts. A root created once per
// machine (and placed in each container's trust store) signs short-lived leaf
// certificates minted on demand, one per server name.
//
// The root's private key never leaves the host. It is the one file that, if
// stolen, lets someone impersonate any site to clauderon's containers, so it is
// written 0600 and atomically, and a broken CA is an error to fix by hand, never
// a reason to quietly create a new one.
//
// The proxy does not import this package: cmd/ wires Issuer.GetCertificate
// into the proxy's tls.Config.
package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"os/user"
	"path/filepath"
	"time"

	"github.com/clauderon/clauderon"
)

// File names of the root inside the CA directory ($CLAUDERON_HOME).
const (
	CertFile = "proxy-ca.pem"
	KeyFile  = "proxy-ca-key.pem"
)

const (
	// caValidity is long because every image or container that trusts the
	// root must be refreshed when it changes; the key stays on this host.
	caValidity = 10 * 365 * 24 * time.Hour
	// clockSkew backdates NotBefore so that a container whose clock runs a
	// little behind the host's still accepts a certificate minted just now.
	clockSkew = time.Hour
	keyMode   = 0o600
	certMode  = 0o644
	dirMode   = 0o700
)

// CA is the local root: its certificate, which containers trust, and its key,
// which signs leaves. A CA is immutable and safe for concurrent use.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     *ecdsa.PrivateKey
}

// CertPEM returns the root certificate in PEM form, for containers' trust
// stores. The slice must not be changed.
func (ca *CA) CertPEM() []byte { return ca.certPEM }

// Certificate returns the parsed root certificate. It must not be changed.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// LoadOrCreateCA returns the CA stored in dir, creating it (and dir, 0700) if
// neither file exists. Any other state (one file without the other, an
// unreadable or unparsable file, a key that does not match the certificate, an
// expired root) is a *clauderon.Error with code EINVALID that says how to
// repair it; the files are left untouched. A new CA is never made over a
// broken one because containers and images that trust the old root would
// silently stop working, and the key may be only temporarily unreadable.
func LoadOrCreateCA(dir string) (*CA, error) {
	certPath := filepath.Join(dir, CertFile)
	keyPath := filepath.Join(dir, KeyFile)
	certExists, err := exists(certPath)
	if err != nil {
		return nil, err
	}
	keyExists, err := exists(keyPath)
	if err != nil {
		return nil, err
	}
	switch {
	case !certExists && !keyExists:
		return createCA(dir, certPath, keyPath)
	case certExists && !keyExists:
		return nil, clauderon.Errorf(clauderon.EINVALID,
			"proxy CA certificate %s exists but its key %s is missing: restore the key from a backup, "+
				"or remove %s to create a new CA (images and containers that trust the old CA must then be refreshed)",
			certPath, keyPath, certPath)
	case !certExists && keyExists:
		return nil, clauderon.Errorf(clauderon.EINVALID,
			"proxy CA key %s exists but its certificate %s is missing: restore the certificate from a backup, "+
				"or remove %s to create a new CA (images and containers that trust the old CA must then be refreshed)",
			keyPath, certPath, keyPath)
	}
	return loadCA(certPath, keyPath)
}

func exists(path string) (bool, error) {
	_, err := os.Lstat(path)
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, clauderon.Errorf(clauderon.EINVALID, "cannot check proxy CA file %s: %v: fix the permissions of its directory", path, err)
}

// brokenCA is the advice shared by every "the files are there but unusable" error.
func brokenCA(certPath, keyPath, problem string) error {
	return clauderon.Errorf(clauderon.EINVALID,
		"proxy CA in %s is unusable: %s; restore both files from a backup, or remove %s and %s to create a new CA "+
			"(images and containers that trust the old CA must then be refreshed)",
		filepath.Dir(certPath), problem, certPath, keyPath)
}

func loadCA(certPath, keyPath string) (*CA, error) {
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, brokenCA(certPath, keyPath, fmt.Sprintf("cannot read the certificate %s: %v", certPath, err))
	}
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, brokenCA(certPath, keyPath, fmt.Sprintf("%s holds no PEM CERTIFICATE block", certPath))
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, brokenCA(certPath, keyPath, fmt.Sprintf("cannot parse the certificate %s: %v", certPath, err))
	}
	if !cert.IsCA || cert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, brokenCA(certPath, keyPath, fmt.Sprintf("%s is not a CA certificate", certPath))
	}
	if now := time.Now(); now.After(cert.NotAfter) {
		return nil, brokenCA(certPath, keyPath, fmt.Sprintf("the certificate expired on %s", cert.NotAfter.Format(time.DateOnly)))
	}

	fi, err := os.Stat(keyPath)
	if err != nil {
		return nil, brokenCA(certPath, keyPath, fmt.Sprintf("cannot read the key %s: %v", keyPath, err))
	}
	if fi.Mode().Perm()&0o077 != 0 {
		// Not repaired silently: a key others could read may already be
		// copied, and the user should know.
		return nil, clauderon.Errorf(clauderon.EINVALID,
			"proxy CA key %s is readable by other users (mode %04o): run `chmod 600 %s`; if others may have copied it, "+
				"remove %s and %s to create a new CA", keyPath, fi.Mode().Perm(), keyPath, certPath, keyPath)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, brokenCA(certPath, keyPath, fmt.Sprintf("cannot read the key %s: %v", keyPath, err))
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != "PRIVATE KEY" {
		return nil, brokenCA(certPath, keyPath, fmt.Sprintf("%s holds no PEM PRIVATE KEY block", keyPath))
	}
	parsed, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, brokenCA(certPath, keyPath, fmt.Sprintf("cannot parse the key %s: %v", keyPath, err))
	}
	key, ok := parsed.(*ecdsa.PrivateKey)
	if !ok {
		return nil, brokenCA(certPath, keyPath, fmt.Sprintf("the key %s is a %T, want an ECDSA key", keyPath, parsed))
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, brokenCA(certPath, keyPath, fmt.Sprintf("the key %s does not belong to the certificate %s", keyPath, certPath))
	}
	return &CA{cert: cert, certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), key: key}, nil
}

func createCA(dir, certPath, keyPath string) (*CA, error) {
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return nil, clauderon.Errorf(clauderon.EINVALID, "cannot create the proxy CA directory %s: %v", dir, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate CA key: %w", err)
	}
	skid, err := subjectKeyID(&key.PublicKey)
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	owner := ownerName()
	now := time.Now()
	tpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			// The user and host in the name tell people which machine's
			// clauderon a trusted root belongs to when they look at a
			// container's trust store.
			Organization:       []string{"clauderon local proxy CA"},
			OrganizationalUnit: []string{owner},
			CommonName:         "clauderon proxy CA " + owner,
		},
		// Set explicitly (truncated SHA-256 of the public key, RFC 7093)
		// so that leaves carry a matching AuthorityKeyId and chain building
		// does not depend on the library's default.
		SubjectKeyId: skid,
		NotBefore:    now.Add(-clockSkew),
		NotAfter:     now.Add(caValidity),
		// CRLSign alongside CertSign is conventional for roots; we never
		// publish a CRL, leaves are short-lived instead.
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		// Path length zero: the root signs leaves only, so a leaf's key,
		// if ever stolen, cannot act as an intermediate CA.
		MaxPathLen:     0,
		MaxPathLenZero: true,
		// No name constraints: the proxy must be able to mint for any host
		// a user adds a rule for. The root's reach is limited instead by
		// being trusted only inside clauderon's containers.
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse new CA certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode CA key: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	// Key first: a crash in between leaves a key without a certificate, which
	// LoadOrCreateCA reports; a certificate without its key would be worse,
	// since something may already have been told to trust it.
	if err := writeFileAtomic(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), keyMode); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(certPath, certPEM, certMode); err != nil {
		return nil, err
	}
	return &CA{cert: cert, certPEM: certPEM, key: key}, nil
}

// writeFileAtomic writes data to a temporary file in path's directory, syncs
// it and renames it into place, so that readers (and a crash) see either no
// file or the whole file, never a truncated key.
func writeFileAtomic(path string, data []byte, mode os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return clauderon.Errorf(clauderon.EINVALID, "cannot write %s: %v", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	// CreateTemp already uses 0600; Chmod makes the mode explicit and
	// independent of the umask for the certificate's 0644.
	if err = f.Chmod(mode); err != nil {
		return fmt.Errorf("chmod %s: %w", tmp, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", tmp, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	// Sync the directory so the rename itself survives a crash.
	if d, derr := os.Open(dir); derr == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// subjectKeyID is the leftmost 160 bits of the SHA-256 of the subject public
// key bit string (RFC 7093 method 1).
func subjectKeyID(pub *ecdsa.PublicKey) ([]byte, error) {
	spkiDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("encode public key: %w", err)
	}
	var spki struct {
		Algorithm        pkix.AlgorithmIdentifier
		SubjectPublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(spkiDER, &spki); err != nil {
		return nil, fmt.Errorf("decode public key: %w", err)
	}
	sum := sha256.Sum256(spki.SubjectPublicKey.Bytes)
	return sum[:20], nil
}

// serialLimit is 2^128: serials are 128 random bits, well above the 64 bits
// of entropy the CA/Browser Forum asks for, within RFC 5280's 20 octets.
var serialLimit = new(big.Int).Lsh(big.NewInt(1), 128)

func randomSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, serialLimit)
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	// A zero serial is not allowed by RFC 5280; 2^-128 odds, but free to check.
	if n.Sign() == 0 {
		n.SetInt64(1)
	}
	return n, nil
}

// ownerName is "user@host", best effort.
func ownerName() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	host, _ := os.Hostname()
	switch {
	case name != "" && host != "":
		return name + "@" + host
	case host != "":
		return host
	case name != "":
		return name
	}
	return "unknown"
}
