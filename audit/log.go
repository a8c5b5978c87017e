package audit

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/clauderon/clauderon"
)

// Defaults for Options. 100 MiB holds roughly 300,000 events; with five
// rotated files a busy week of sessions stays readable.
const (
	DefaultMaxBytes = 100 << 20
	DefaultMaxFiles = 5
)

// Permissions of what the log creates. The log names every host a session
// reached, so only the user may read it.
const (
	fileMode = 0o600
	dirMode  = 0o700
)

// Options tune a Log. The zero value is usable.
type Options struct {
	// MaxBytes is the size the current file may reach before it is rotated
	// (DefaultMaxBytes if <= 0). A single line larger than MaxBytes is still
	// written, alone in its file: an event is never dropped for its size.
	MaxBytes int64
	// MaxFiles is how many rotated files (path.1 … path.MaxFiles) are kept
	// (DefaultMaxFiles if <= 0).
	MaxFiles int
	// Logger receives write failures, which Record cannot return
	// (slog.Default() if nil).
	Logger *slog.Logger
}

// Log appends audit events to a file. It implements clauderon.AuditLog.
//
// One process writes a given log: the size used to decide rotation is kept in
// memory. Lines reach the operating system on every Record (a crash of the
// process loses nothing already recorded); the file is synced on rotation and
// on Close.
type Log struct {
	path     string
	maxBytes int64
	maxFiles int
	logger   *slog.Logger
	bufs     sync.Pool // *bytes.Buffer, to encode lines outside the lock

	mu     sync.Mutex // serialises writes and rotation, so lines never interleave
	f      *os.File   // nil once closed
	lock   *os.File   // path.lock, see rotateLocked
	size   int64      // bytes in f
	failed int        // events lost since the last successful write
	// rotateFailing is set while rotation fails, so the failure is logged
	// once rather than on every line.
	rotateFailing bool
}

// Open opens (creating if needed) the audit log at path, with its directory.
// An existing file is appended to and narrowed to mode 0600.
func Open(path string, opts Options) (*Log, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.MaxFiles <= 0 {
		opts.MaxFiles = DefaultMaxFiles
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		return nil, fmt.Errorf("create audit log directory: %w", err)
	}
	l := &Log{
		path:     path,
		maxBytes: opts.MaxBytes,
		maxFiles: opts.MaxFiles,
		logger:   opts.Logger.With(slog.String("path", path)),
		bufs:     sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
	lock, err := os.OpenFile(lockName(path), os.O_RDWR|os.O_CREATE, fileMode)
	if err != nil {
		return nil, fmt.Errorf("open audit log lock: %w", err)
	}
	l.lock = lock
	if err := l.openFile(); err != nil {
		lock.Close()
		return nil, err
	}
	return l, nil
}

// openFile opens l.path for appending and learns its size. Callers hold l.mu
// (or own l exclusively).
func (l *Log) openFile() error {
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, fileMode)
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	// O_CREATE's mode applies only to a new file; an old one may be wider.
	if err := f.Chmod(fileMode); err != nil {
		f.Close()
		return fmt.Errorf("restrict audit log permissions: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("stat audit log: %w", err)
	}
	l.f, l.size = f, fi.Size()
	return nil
}

// Record appends ev as one line. It is safe for concurrent use. The event is
// encoded before the lock is taken, so the time a caller may wait on another
// is one write(2) of one line (or, rarely, a rotation: a few renames).
//
// Record normalises ev: the time is made UTC (now, if it is zero) and any
// query string is cut from Path, since queries often carry tokens. A failed
// write is reported through the Logger, never to the caller: a request is not
// failed because its audit line could not be written.
func (l *Log) Record(ev clauderon.AuditEvent) {
	buf := l.bufs.Get().(*bytes.Buffer)
	defer l.putBuf(buf)
	if err := encodeLine(buf, ev); err != nil {
		l.logger.Error("audit event not recorded: cannot encode it", slog.Any("error", err))
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.writeLocked(buf.Bytes())
}

// putBuf returns buf to the pool unless one huge line made it too large to
// keep around.
func (l *Log) putBuf(buf *bytes.Buffer) {
	if buf.Cap() > 64<<10 {
		return
	}
	buf.Reset()
	l.bufs.Put(buf)
}

// encodeLine writes ev as one JSON line to buf.
func encodeLine(buf *bytes.Buffer, ev clauderon.AuditEvent) error {
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.Time = ev.Time.UTC()
	ev.Path = StripQuery(ev.Path)
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false) // paths and errors stay readable: '&' and '<' are not a hazard in a log file
	return enc.Encode(ev)    // Encode ends the line with '\n'
}

// StripQuery returns path without its query string ('?' and after).
func StripQuery(path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		return path[:i]
	}
	return path
}

// writeLocked writes one encoded line, rotating first if the line would take
// the file past maxBytes. Callers hold l.mu.
func (l *Log) writeLocked(line []byte) {
	if l.f == nil {
		l.fail(fs.ErrClosed)
		return
	}
	if l.size > 0 && l.size+int64(len(line)) > l.maxBytes {
		err := l.rotateLocked()
		switch {
		case errors.Is(err, errRotationBusy):
			// Try again with the next line.
		case err != nil && !l.rotateFailing:
			// The current file is still open: keep appending to it
			// rather than lose events, and retry on the next line.
			l.logger.Error("audit log not rotated; appending past its size limit", slog.Any("error", err))
			l.rotateFailing = true
		case err == nil && l.rotateFailing:
			l.logger.Warn("audit log rotated again")
			l.rotateFailing = false
		}
	}
	n, err := l.f.Write(line)
	l.size += int64(n)
	if err != nil {
		l.fail(fmt.Errorf("write audit log: %w", err))
		return
	}
	if l.failed > 0 {
		l.logger.Warn("audit log writable again", slog.Int("lost_events", l.failed))
		l.failed = 0
	}
}

// fail reports a lost event. Only the first failure of a run is logged, with
// the count reported on recovery, so a full disk does not flood the daemon's
// log with one error per request. Callers hold l.mu.
func (l *Log) fail(err error) {
	if l.failed == 0 {
		l.logger.Error("audit event not recorded; further failures are counted until a write succeeds", slog.Any("error", err))
	}
	l.failed++
}

// Close syncs and closes the file. Record after Close loses the event and
// reports it through the Logger.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	f := l.f
	l.f = nil
	l.lock.Close()
	syncErr := f.Sync()
	if err := f.Close(); err != nil {
		return fmt.Errorf("close audit log: %w", err)
	}
	if syncErr != nil {
		return fmt.Errorf("sync audit log: %w", syncErr)
	}
	return nil
}
