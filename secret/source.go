// Package secret reads the real credentials clauderon injects: from the
// host's environment, from files under $CLAUDERON_HOME/secrets, or from a
// command such as a password manager's CLI. It turns the rules (built-in and
// the user's) into a clauderon.CredentialSet and keeps the current set in a
// Store that the daemon reloads on SIGHUP.
//
// Values are handled as clauderon.Secret from the moment they are read, and
// no error or status this package produces ever contains one: a failed
// command's output is dropped, not quoted, because it may hold the secret.
package secret

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/clauderon/clauderon"
)

// Source kinds, as the domain names them.
const (
	KindEnv  = clauderon.SourceEnv
	KindFile = clauderon.SourceFile
	KindCmd  = clauderon.SourceCmd
)

// Alternative is one element of a source string.
type Alternative = clauderon.SourceAlternative

// ParseSource parses a source string; see clauderon.ParseSecretSource.
func ParseSource(s string) ([]Alternative, error) { return clauderon.ParseSecretSource(s) }

const (
	// DefaultCommandTimeout bounds a cmd: source, so a password manager
	// waiting for a prompt nobody sees cannot hang the daemon's start.
	DefaultCommandTimeout = 10 * time.Second
	// maxSecretSize caps what is read from a file or a command: a
	// credential is small, and a mistaken path must not fill memory.
	maxSecretSize = 64 << 10
	// secretsDir is where relative file: paths resolve, under the home.
	secretsDir = "secrets"
)

// reader reads source alternatives; it is the part of Loader that touches
// the outside world.
type reader struct {
	home      string
	lookupEnv func(string) (string, bool)
	timeout   time.Duration
}

// read tries the alternatives of source in order and returns the first
// non-empty value and the alternative that supplied it. An absent variable,
// a missing file or a command printing nothing gives way to the next
// alternative; an alternative that fails (a file others can read, a command
// that exits non-zero) stops the search with an error, since falling back
// past it could quietly use a different credential than the user meant.
// A zero Secret with a nil error means no alternative had a value.
func (r *reader) read(ctx context.Context, source string) (clauderon.Secret, string, error) {
	alts, err := ParseSource(source)
	if err != nil {
		return clauderon.Secret{}, "", err
	}
	for _, a := range alts {
		var v string
		switch a.Kind {
		case KindEnv:
			v, _ = r.lookupEnv(a.Arg)
		case KindFile:
			v, err = r.readFile(a.Arg)
		case KindCmd:
			v, err = r.runCommand(ctx, a.Arg)
		}
		if err != nil {
			return clauderon.Secret{}, a.String(), err
		}
		if v = strings.TrimSpace(v); v != "" {
			return clauderon.NewSecret(v), a.String(), nil
		}
	}
	return clauderon.Secret{}, "", nil
}

// path resolves a file: argument: absolute as given, "~/" under the user's
// home, anything else under $CLAUDERON_HOME/secrets.
func (r *reader) path(p string) (string, error) {
	switch {
	case filepath.IsAbs(p):
		return p, nil
	case strings.HasPrefix(p, "~/"):
		home, err := os.UserHomeDir()
		if err != nil {
			return "", clauderon.Errorf(clauderon.EINVALID, "secret file %s: cannot find your home directory: %v", p, err)
		}
		return filepath.Join(home, p[2:]), nil
	}
	if r.home == "" {
		return "", clauderon.Errorf(clauderon.EINVALID, "secret file %s: relative path but no clauderon home is set: give an absolute path", p)
	}
	return filepath.Join(r.home, secretsDir, p), nil
}

// readFile reads a secret file. A missing file is not an error (the value
// is absent); a file readable by group or others is refused, because
// another local user or process may already have read the credential.
func (r *reader) readFile(arg string) (string, error) {
	p, err := r.path(arg)
	if err != nil {
		return "", err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", clauderon.Errorf(clauderon.EINVALID, "cannot read secret file %s: %v", p, errors.Unwrap(err))
	}
	defer f.Close()
	// Checked on the open file, so the file read is the file checked.
	fi, err := f.Stat()
	if err != nil {
		return "", clauderon.Errorf(clauderon.EINVALID, "cannot read secret file %s: %v", p, err)
	}
	if !fi.Mode().IsRegular() {
		return "", clauderon.Errorf(clauderon.EINVALID, "secret file %s is not a regular file", p)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return "", clauderon.Errorf(clauderon.EINVALID,
			"secret file %s is readable by other users (mode %04o): run `chmod 600 %s`, and rotate the secret if others may have read it", p, perm, p)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxSecretSize+1))
	if err != nil {
		return "", clauderon.Errorf(clauderon.EINVALID, "cannot read secret file %s: %v", p, err)
	}
	if len(data) > maxSecretSize {
		return "", clauderon.Errorf(clauderon.EINVALID, "secret file %s is larger than %d KiB: is it the right file?", p, maxSecretSize>>10)
	}
	return string(data), nil
}

// runCommand runs command with sh -c and returns its standard output. Its
// error never includes the output or the standard error, which may hold the
// secret (a tool printing what it read before failing); the user re-runs
// the command by hand to see them.
func (r *reader) runCommand(ctx context.Context, command string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "sh", "-c", command)
	var out limitedBuffer
	cmd.Stdout = &out
	cmd.Stderr = nil // discarded: it may quote the secret
	cmd.Stdin = nil
	// Should the shell leave a child holding stdout open after it is
	// killed, stop waiting for it soon.
	cmd.WaitDelay = time.Second
	setProcessGroup(cmd)
	err := cmd.Run()
	switch {
	case ctx.Err() == context.DeadlineExceeded:
		return "", clauderon.Errorf(clauderon.EINVALID,
			"secret command timed out after %v: check that it runs without a prompt (run it yourself in a shell)", r.timeout)
	case ctx.Err() != nil:
		return "", fmt.Errorf("secret command: %w", ctx.Err())
	case err != nil:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", clauderon.Errorf(clauderon.EINVALID,
				"secret command failed with %s: run it yourself in a shell to see why (its output is not shown, it may hold the secret)", ee.ProcessState)
		}
		return "", clauderon.Errorf(clauderon.EINVALID, "secret command could not run: %v", err)
	case out.overflow:
		return "", clauderon.Errorf(clauderon.EINVALID, "secret command printed more than %d KiB: is it the right command?", maxSecretSize>>10)
	}
	return out.String(), nil
}

// limitedBuffer keeps at most maxSecretSize bytes and notes the overflow,
// without failing the write (which could make the command fail instead).
type limitedBuffer struct {
	bytes.Buffer
	overflow bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if room := maxSecretSize - b.Len(); len(p) > room {
		b.overflow = true
		b.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return b.Buffer.Write(p)
}
