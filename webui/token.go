package webui

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/clauderon/clauderon"
)

// TokenFile is the login token's file in $CLAUDERON_HOME, mode 0600.
const TokenFile = "web-token"

// TokenSource returns the login token: the configured one ([web] token in
// config.toml) when set, else the content of $CLAUDERON_HOME/web-token, else
// a zero Secret (no token yet). It reads the file at each call, so a token
// rotated with `clauderon web token --rotate` applies to the next login.
func TokenSource(home string, configured clauderon.Secret) func() (clauderon.Secret, error) {
	return func() (clauderon.Secret, error) {
		if !configured.IsZero() {
			return configured, nil
		}
		b, err := os.ReadFile(filepath.Join(home, TokenFile))
		if errors.Is(err, fs.ErrNotExist) {
			return clauderon.Secret{}, nil
		}
		if err != nil {
			return clauderon.Secret{}, fmt.Errorf("read the web token: %w", err)
		}
		return clauderon.NewSecret(strings.TrimSpace(string(b))), nil
	}
}

// EnsureToken returns the token in $CLAUDERON_HOME/web-token, creating a new
// random one (256 bits, hex) when there is none or when rotate is set.
func EnsureToken(home string, rotate bool) (clauderon.Secret, error) {
	path := filepath.Join(home, TokenFile)
	if !rotate {
		if tok, err := TokenSource(home, clauderon.Secret{})(); err != nil || !tok.IsZero() {
			return tok, err
		}
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return clauderon.Secret{}, err
	}
	tok := hex.EncodeToString(b)
	// Write beside and rename, with 0600 from the start: the file is never
	// readable by others, not even for a moment, and never half written.
	tmp, err := os.CreateTemp(home, ".web-token-")
	if err != nil {
		return clauderon.Secret{}, fmt.Errorf("write the web token: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(tok + "\n"); err != nil {
		tmp.Close()
		return clauderon.Secret{}, fmt.Errorf("write the web token: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return clauderon.Secret{}, fmt.Errorf("write the web token: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return clauderon.Secret{}, fmt.Errorf("write the web token: %w", err)
	}
	return clauderon.NewSecret(tok), nil
}
