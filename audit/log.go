package audit

import (
	"bytes"
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
	// Spacing is how long after a write no new write starts from idle
	// (DefaultSpacing if 0; none if negative). A line recorded sooner waits
	// for the first Record after Spacing, which writes it with its own, or,
	// when none comes, for a timer 2×Spacing after the last write: a proxy
	// answering thousands of requests a second makes about a write(2) per
	// millisecond rather than one per request. (A writer already busy writes
	// the lines that come meanwhile right after its own, as without
	// spacing.)
	Spacing time.Duration
}

// DefaultSpacing is a millisecond: an agent's requests, seconds apart, are
// each written as they are recorded, and a line waits 2 ms at most (longer
// only behind a slow write, or a timer late on a loaded machine).
const DefaultSpacing = time.Millisecond

// maxPending is how many bytes of lines may wait for the writer before
// Record waits for room instead of adding more. A megabyte is some 3,000
// events: far more than arrive during one write(2), even on a slow disk.
const maxPending = 1 << 20

// maxBatchesPerTurn bounds how many batches one Record writes for others.
// When lines keep arriving beyond it, a goroutine takes over the writer's
// role, so no single request waits on everyone's writes.
const maxBatchesPerTurn = 4

// Log appends audit events to a file. It implements clauderon.AuditLog.
//
// One process writes a given log: the size used to decide rotation is kept in
// memory.
//
// Writes are grouped ("group commit"). A Record that finds no other Record
// writing, and the last write at least Spacing old, becomes the writer: it
// writes its own line, then, one write(2) per batch, the lines other Records
// added while it wrote, until none is left. A Record that finds a writer busy
// only adds its line to the writer's next batch and returns; one that comes
// within Spacing of the last write leaves its line pending for the first
// Record after Spacing, or, if none comes, for a timer 2×Spacing after the
// last write. A Record waits only while a megabyte of lines is already
// pending. So:
//
//   - A Record that finds no writer busy and no write in the last Spacing
//     (always so for requests that come one at a time, seconds apart)
//     returns after its line has reached the operating system: a crash of
//     the process loses nothing already recorded, and a Reader sees the line.
//   - Any other Record may return before its line is written, at most
//     2×Spacing (or the busy writer's write) before. Until then a crash of
//     the process can lose it, and a Reader may not see it yet. Lines from
//     one goroutine stay in the order it recorded them.
//   - Spacing is what keeps a busy proxy from paying a write(2) per request:
//     under the benchmark's 64 clients those writes took a tenth of the
//     proxy's CPU.
//   - A writer's turn is bounded (maxBatchesPerTurn): when lines keep
//     coming, a goroutine takes the writer's role over, so the request whose
//     Record happened to become the writer is not held for everyone's
//     writes.
//   - Close writes every line still pending before it syncs and closes the
//     file.
//
// The file is synced on rotation and on Close.
type Log struct {
	path     string
	maxBytes int64
	maxFiles int
	logger   *slog.Logger
	bufs     sync.Pool // *bytes.Buffer, to encode lines outside the lock

	spacing   time.Duration
	mu        sync.Mutex
	room      sync.Cond // on mu: broadcast when the writer takes the pending lines or stops writing
	pending   []byte    // whole lines added and not yet taken by the writer, in order
	spare     []byte    // the writer's last batch, emptied, to be pending again
	writing   bool      // a goroutine (a Record, finishTurn, timedFlush or Close) is the writer; it alone uses the fields below
	closed    bool      // Close was called; Record loses its event
	failed    int       // events lost since the last successful write
	lastWrite time.Time // when the last batch was written
	timer     *time.Timer
	scheduled bool // the timer will write what is pending

	// The writer's own: used only by the Record that set writing, or by
	// Open and Close, which run when there is no writer. Lines never
	// interleave because only one goroutine writes.
	f    *os.File // nil once closed
	lock *os.File // path.lock, see rotate
	size int64    // bytes in f
	// torn is set when f ends in part of a line: a write cut short (a full
	// disk), or a crash mid-write before Open. The next write ends that
	// part with a newline first, so the line after it is whole.
	torn bool
	// rotateFailing is set while rotation fails, so the failure is logged
	// once rather than on every batch.
	rotateFailing bool

	testHookWrote func() // if set, runs after each batch is written (outside mu)
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
	if opts.Spacing == 0 {
		opts.Spacing = DefaultSpacing
	}
	if err := os.MkdirAll(filepath.Dir(path), dirMode); err != nil {
		return nil, fmt.Errorf("create audit log directory: %w", err)
	}
	l := &Log{
		path:     path,
		maxBytes: opts.MaxBytes,
		maxFiles: opts.MaxFiles,
		spacing:  opts.Spacing,
		logger:   opts.Logger.With(slog.String("path", path)),
		bufs:     sync.Pool{New: func() any { return new(bytes.Buffer) }},
	}
	l.room.L = &l.mu
	l.timer = time.AfterFunc(time.Hour, l.timedFlush)
	l.timer.Stop()
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

// openFile opens l.path for appending and learns its size. Callers are the
// writer (or own l exclusively).
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
	l.f, l.size, l.torn = f, fi.Size(), endsTorn(l.path, fi.Size())
	return nil
}

// endsTorn reports whether the file of size bytes at path ends in part of a
// line. A file that cannot be read (a log one may only append to) is taken
// as whole, as before the check existed.
func endsTorn(path string, size int64) bool {
	if size == 0 {
		return false
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var last [1]byte
	_, err = f.ReadAt(last[:], size-1)
	return err == nil && last[0] != '\n'
}

// Record appends ev as one line. It is safe for concurrent use. The event is
// encoded before the lock is taken, and the lock is held only to add the line
// to the pending batch, never across a write(2). See Log for when the line
// has been written by the time Record returns. A Record that becomes the
// writer returns once nothing is pending, so under sustained contention it
// may write several batches of other Records' lines first.
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
	l.addLocked(buf.Bytes())
}

// addLocked adds one encoded line to the pending batch and, if no Record is
// writing and Spacing has passed since the last write, becomes the writer
// until the batch is empty; otherwise it leaves the line pending (see Log).
// Callers hold l.mu.
func (l *Log) addLocked(line []byte) {
	// Bound the memory a stalled write can pin; a line alone is always
	// added, however long.
	for l.writing && len(l.pending) >= maxPending {
		l.room.Wait()
	}
	if l.closed {
		l.fail(fs.ErrClosed, 1)
		return
	}
	l.pending = append(l.pending, line...)
	if l.writing {
		return // the writer writes it before it returns
	}
	if l.scheduled {
		if len(l.pending) < maxPending && time.Since(l.lastWrite) < l.spacing {
			return // the next Record after Spacing, or the timer, writes it
		}
		// Spacing has passed (or a megabyte is pending): this Record writes
		// what the timer would have, and the timer is pushed back below.
	} else if l.spacing > 0 {
		if wait := l.spacing - time.Since(l.lastWrite); wait > 0 {
			l.scheduled = true
			l.timer.Reset(wait + l.spacing)
			return
		}
	}
	l.writing = true
	done := l.flushLocked(maxBatchesPerTurn)
	if l.scheduled {
		// Under steady traffic the Records do the writing and the timer,
		// pushed back on each, never fires: it is for the end of a burst.
		// (Pushing a timer later costs next to nothing; a timer firing wakes
		// a thread and writes at a moment of its own.)
		l.timer.Reset(2 * l.spacing)
	}
	if !done {
		go l.finishTurn()
		return
	}
	l.writing = false
	l.room.Broadcast() // Close may be waiting for the writer
}

// finishTurn writes what a Record left pending at the end of its turn, in
// the writer's role it inherited.
func (l *Log) finishTurn() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked(0)
	l.writing = false
	l.room.Broadcast()
}

// timedFlush writes, 2×Spacing after the last write, the lines recorded
// since when no Record after Spacing came to write them.
func (l *Log) timedFlush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.scheduled {
		return // Close wrote them
	}
	l.scheduled = false
	if l.writing {
		return // a writer is busy (a Record after Spacing, or a megabyte) and writes them
	}
	l.writing = true
	l.flushLocked(0)
	l.writing = false
	l.room.Broadcast()
}

// flushLocked writes the pending lines, batch after batch, until none is
// left or max batches (if max > 0) were written; it reports whether none is
// left. Callers hold l.mu and are the writer; l.mu is released during each
// write so that other Records can add lines meanwhile.
func (l *Log) flushLocked(max int) bool {
	for n := 0; len(l.pending) > 0; n++ {
		if max > 0 && n == max {
			return false
		}
		batch := l.pending
		l.pending, l.spare = l.spare[:0], nil
		l.room.Broadcast() // Records waiting for room may add again
		l.mu.Unlock()
		lost, err := l.writeBatch(batch)
		if l.testHookWrote != nil {
			l.testHookWrote()
		}
		l.mu.Lock()
		l.lastWrite = time.Now()
		switch {
		case lost > 0:
			l.fail(err, lost)
		case l.failed > 0:
			l.logger.Warn("audit log writable again", slog.Int("lost_events", l.failed))
			l.failed = 0
		}
		if cap(batch) <= 2*maxPending { // else one huge line grew it: let it go
			l.spare = batch[:0]
		}
	}
	return true
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

// StripQuery returns path without its query string ('?' and after).
func StripQuery(path string) string {
	if i := strings.IndexByte(path, '?'); i >= 0 {
		return path[:i]
	}
	return path
}

// writeBatch writes b, whole lines, to the current file, rotating whenever
// the next line would take the file past maxBytes, so that no line is split
// between two files. It returns the number of lines lost (those not written
// whole) and the write error that lost them. Only the writer calls it.
func (l *Log) writeBatch(b []byte) (lost int, err error) {
	for len(b) > 0 {
		n := l.fitting(b)
		if n == 0 && l.rotate() {
			n = l.fitting(b) // the new file is empty: at least a line fits
		}
		if n == 0 {
			n = len(b) // not rotated: append past the limit rather than lose events
		}
		if l.torn {
			if _, err := l.f.Write([]byte{'\n'}); err != nil {
				return bytes.Count(b, []byte{'\n'}), fmt.Errorf("write audit log: %w", err)
			}
			l.size++
			l.torn = false
		}
		w, err := l.f.Write(b[:n])
		l.size += int64(w)
		if err != nil {
			// A line cut short by the failure is lost with those after it;
			// the next write ends it.
			l.torn = w > 0 && b[w-1] != '\n'
			return bytes.Count(b[w:], []byte{'\n'}), fmt.Errorf("write audit log: %w", err)
		}
		b = b[n:]
	}
	return 0, nil
}

// fitting returns the length of the longest run of whole lines at the start
// of b that fits in the current file: 0 if the first line does not fit and
// the file must be rotated first. An empty file takes at least one line, so a
// line longer than maxBytes is written alone in its file.
func (l *Log) fitting(b []byte) int {
	room := l.maxBytes - l.size
	if int64(len(b)) <= room {
		return len(b)
	}
	n := 0
	if room > 0 {
		n = bytes.LastIndexByte(b[:room], '\n') + 1
	}
	if n == 0 && l.size == 0 {
		if n = bytes.IndexByte(b, '\n') + 1; n == 0 {
			n = len(b) // no newline: cannot happen with encodeLine's lines
		}
	}
	return n
}

// rotate rotates the file, reporting whether it did. A failure is logged
// once until rotation works again; the caller goes on appending to the
// current file, and the next batch tries again. Only the writer calls it.
func (l *Log) rotate() bool {
	err := l.rotateFile()
	switch {
	case errors.Is(err, errRotationBusy):
		// A reader holds the lock: try again with the next batch.
	case err != nil && !l.rotateFailing:
		// The current file is still open: keep appending to it
		// rather than lose events, and retry on the next batch.
		l.logger.Error("audit log not rotated; appending past its size limit", slog.Any("error", err))
		l.rotateFailing = true
	case err == nil && l.rotateFailing:
		l.logger.Warn("audit log rotated again")
		l.rotateFailing = false
	}
	return err == nil
}

// fail reports n lost events. Only the first failure of a run is logged, with
// the count reported on recovery, so a full disk does not flood the daemon's
// log with one error per request. Callers hold l.mu.
func (l *Log) fail(err error, n int) {
	if l.failed == 0 {
		l.logger.Error("audit event not recorded; further failures are counted until a write succeeds", slog.Any("error", err))
	}
	l.failed += n
}

// Close writes the lines still pending (waiting for a Record that is writing
// to finish), then syncs and closes the file. Record after Close loses the
// event and reports it through the Logger; so may a Record that runs
// concurrently with Close.
func (l *Log) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true // no line is added from now on
	// The writer writes every line added before it stops, and none can be
	// added once closed: when it is done, nothing is pending.
	for l.writing {
		l.room.Wait()
	}
	if l.f == nil {
		return nil
	}
	if l.scheduled {
		// The timer's lines are written now rather than lost.
		l.scheduled = false
		l.timer.Stop()
		l.writing = true
		l.flushLocked(0)
		l.writing = false
	}
	f := l.f
	l.f = nil
	l.pending, l.spare = nil, nil
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
