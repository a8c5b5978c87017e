package httpapi

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/clauderon/clauderon"
)

// staleProbeTimeout bounds the check for a daemon still answering on an old
// socket; a live daemon accepts a unix connection at once.
const staleProbeTimeout = 2 * time.Second

// ListenUnix listens on the unix socket at path, readable and writable by the
// owner only (0600): whoever can connect can drive every session.
//
// A socket file left behind by a daemon that died is removed, but only when
// nothing answers on it; a live daemon is reported as ECONFLICT, and a path
// that is not a socket at all is never removed.
//
// The socket is bound in a fresh 0700 directory beside path, set to 0600 and
// only then renamed into place, so there is no moment at which it exists at
// path with the process umask's looser mode. Closing the listener removes
// the socket file.
func (s *Server) ListenUnix(path string) (net.Listener, error) {
	if err := removeStaleSocket(path); err != nil {
		return nil, err
	}
	tmpDir, err := os.MkdirTemp(filepath.Dir(path), ".sock-")
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	defer os.RemoveAll(tmpDir)
	tmp := filepath.Join(tmpDir, "s")
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: tmp, Net: "unix"})
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	// The listener would unlink its bind path (tmp) on Close; the file lives at
	// path by then, so unixListener removes that instead.
	ln.SetUnlinkOnClose(false)
	if err := os.Chmod(tmp, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		ln.Close()
		return nil, fmt.Errorf("listen on %s: %w", path, err)
	}
	return &unixListener{UnixListener: ln, path: path}, nil
}

// removeStaleSocket removes path if it is a socket nobody answers on.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("check socket %s: %w", path, err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return clauderon.Errorf(clauderon.ECONFLICT, "%s exists and is not a socket: move it away and start the daemon again", path)
	}
	conn, err := net.DialTimeout("unix", path, staleProbeTimeout)
	if err == nil {
		conn.Close()
		return clauderon.Errorf(clauderon.ECONFLICT, "a clauderon daemon is already listening on %s", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("check socket %s: %w", path, err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}

// unixListener removes its socket file on its first Close; later calls must
// not remove a socket that a new daemon may have bound since.
type unixListener struct {
	*net.UnixListener
	path string
	once sync.Once
}

func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	l.once.Do(func() {
		if rmErr := os.Remove(l.path); rmErr != nil && !errors.Is(rmErr, fs.ErrNotExist) && err == nil {
			err = rmErr
		}
	})
	return err
}
