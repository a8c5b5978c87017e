package audit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"time"

	"github.com/clauderon/clauderon"
)

// followInterval is how often Follow looks for new lines. Events are for a
// person watching, so a fifth of a second is prompt enough and costs a stat
// call and a read per tick.
const followInterval = 150 * time.Millisecond

// lockRetry is how long a reader waits before trying again for the lock the
// writer holds while it rotates.
const lockRetry = 5 * time.Millisecond

// Reader reads an audit log written by Log, rotated files included. It
// implements clauderon.AuditReader and is safe for concurrent use.
type Reader struct {
	path string
	// Logger receives the count of malformed lines skipped (slog.Default()
	// if nil). Set it before the first Read or Follow.
	Logger *slog.Logger
}

// NewReader returns a Reader for the log at path (the file Open was given).
func NewReader(path string) *Reader {
	return &Reader{path: path}
}

func (r *Reader) logger() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.Default()
}

// Read returns the events matching f, oldest first, from the rotated files and
// the current one; with f.Limit > 0, only the newest f.Limit of them. A missing
// log is no events, not an error. Malformed lines are skipped and their count
// logged; a line still being written is not read.
func (r *Reader) Read(ctx context.Context, f clauderon.AuditFilter) ([]clauderon.AuditEvent, error) {
	files, err := r.openChain(ctx)
	if err != nil {
		return nil, err
	}
	defer closeAll(files)
	var out []clauderon.AuditEvent
	// Newest file first, so that with a limit the older files need not be
	// read at all.
	for _, file := range files {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		evs, err := r.readFile(file, 0, f)
		if err != nil {
			return nil, err
		}
		out = append(evs, out...)
		if f.Limit > 0 && len(out) >= f.Limit {
			break
		}
	}
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[len(out)-f.Limit:]
	}
	return out, nil
}

// readFile returns the events of file matching f from offset off.
func (r *Reader) readFile(file *os.File, off int64, f clauderon.AuditFilter) ([]clauderon.AuditEvent, error) {
	var out []clauderon.AuditEvent
	bad := 0
	_, err := scanLines(file, off, func(line []byte) error {
		ev, err := decodeLine(line)
		if err != nil {
			bad++
			return nil
		}
		if matches(f, ev) {
			out = append(out, ev)
		}
		return nil
	})
	r.reportMalformed(file, bad)
	return out, err
}

func (r *Reader) reportMalformed(file *os.File, n int) {
	if n > 0 {
		r.logger().Warn("skipped malformed audit log lines", slog.String("file", file.Name()), slog.Int("skipped", n))
	}
}

// openChain opens the current file and every rotated one, newest first
// (path, path.1, path.2, …), as one consistent snapshot: it holds the shared
// lock that the writer takes exclusively to rotate, so no rename happens while
// the files are being opened. Once open, a file's contents stay reachable
// whatever the writer renames or removes. A log that does not exist yet is no
// files.
func (r *Reader) openChain(ctx context.Context) ([]*os.File, error) {
	lock, err := os.OpenFile(lockName(r.path), os.O_RDONLY|os.O_CREATE, fileMode)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil // no directory, so no log
	}
	if err != nil {
		return nil, fmt.Errorf("open audit log lock: %w", err)
	}
	defer lock.Close()
	for {
		ok, err := tryLock(lock, false)
		if err != nil {
			return nil, err
		}
		if ok {
			break
		}
		select { // the writer is rotating: a few renames
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(lockRetry):
		}
	}
	defer unlock(lock)
	return openRotated(r.path)
}

// openRotated opens path, path.1, … until a rotated file is missing. A
// missing path is skipped: the log may have been removed by hand, or not
// written yet, with rotated files left.
func openRotated(path string) ([]*os.File, error) {
	var files []*os.File
	for i := 0; ; i++ {
		name := path
		if i > 0 {
			name = rotatedName(path, i)
		}
		file, err := os.Open(name)
		if errors.Is(err, fs.ErrNotExist) {
			if i == 0 {
				continue
			}
			return files, nil
		}
		if err != nil {
			closeAll(files)
			return nil, fmt.Errorf("open audit log: %w", err)
		}
		files = append(files, file)
	}
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
