package audit

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/clauderon/clauderon"
)

// Follow calls fn, in order, for each event matching f (f.Limit is ignored)
// written after the call, until ctx ends, when it returns nil; an error from
// fn stops it and is returned. It polls the file and carries on across
// rotations: when the file at the log's path is no longer the one it was
// reading, it finishes that one, reads any rotated files written since, and
// moves to the new one, so no event is missed even if the log rotated several
// times between polls. A file truncated in place is read again from its start.
func (r *Reader) Follow(ctx context.Context, f clauderon.AuditFilter, fn func(clauderon.AuditEvent) error) error {
	fl := &follower{r: r, filter: f, fn: fn}
	if err := fl.start(); err != nil {
		return err
	}
	defer fl.close()
	t := time.NewTicker(followInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := fl.poll(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// follower is the state of one Follow call.
type follower struct {
	r      *Reader
	filter clauderon.AuditFilter
	fn     func(clauderon.AuditEvent) error
	cur    *os.File // the file being followed; nil until the log exists
	off    int64    // offset in cur just past the last complete line read
}

// start positions the follower at the current end of the log, so only later
// events are sent.
func (fl *follower) start() error {
	file, err := os.Open(fl.r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // everything written from now on is new
	}
	if err != nil {
		return fmt.Errorf("open audit log: %w", err)
	}
	fi, err := file.Stat()
	if err != nil {
		file.Close()
		return fmt.Errorf("stat audit log: %w", err)
	}
	fl.cur, fl.off = file, fi.Size()
	return fl.skipFragment()
}

// skipFragment moves off back to the start of a line when start landed in the
// middle of one being written: the rest of that line arrives later and must
// still be read whole.
func (fl *follower) skipFragment() error {
	if fl.off == 0 {
		return nil
	}
	var b [1]byte
	for fl.off > 0 {
		if _, err := fl.cur.ReadAt(b[:], fl.off-1); err != nil {
			return fmt.Errorf("read audit log: %w", err)
		}
		if b[0] == '\n' {
			return nil
		}
		fl.off--
	}
	return nil
}

func (fl *follower) close() {
	if fl.cur != nil {
		fl.cur.Close()
	}
}

// poll sends what was written since the last poll.
func (fl *follower) poll(ctx context.Context) error {
	if fl.cur == nil {
		file, err := os.Open(fl.r.path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("open audit log: %w", err)
		}
		fl.cur, fl.off = file, 0
	}
	if err := fl.drain(ctx); err != nil {
		return err
	}
	now, err := os.Stat(fl.r.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // between the writer's rename and its new file: look again next tick
	}
	if err != nil {
		return fmt.Errorf("stat audit log: %w", err)
	}
	mine, err := fl.cur.Stat()
	if err != nil {
		return fmt.Errorf("stat audit log: %w", err)
	}
	if os.SameFile(now, mine) {
		if mine.Size() < fl.off {
			fl.off = 0 // truncated in place
		}
		return nil
	}
	return fl.rotated(ctx)
}

// rotated moves on after the file at the path changed: the writer never
// writes to the old file again, so it is read to its end, then every file
// rotated after it, oldest first, then the new current file becomes cur.
func (fl *follower) rotated(ctx context.Context) error {
	if err := fl.drain(ctx); err != nil {
		return err
	}
	fl.dropFragment()
	files, err := fl.r.openChain(ctx)
	if err != nil {
		return err
	}
	if len(files) == 0 || files[0].Name() != fl.r.path {
		closeAll(files) // the new file is not there yet
		return nil
	}
	mine, err := fl.cur.Stat()
	if err != nil {
		closeAll(files)
		return fmt.Errorf("stat audit log: %w", err)
	}
	newer := len(files) // if ours was dropped already, every file is newer
	for i, file := range files {
		if fi, err := file.Stat(); err == nil && os.SameFile(fi, mine) {
			newer = i
			break
		}
	}
	defer func() { // whatever did not become cur
		for _, file := range files {
			if file != nil {
				file.Close()
			}
		}
	}()
	for i := newer - 1; i >= 0; i-- {
		fl.switchTo(files[i])
		files[i] = nil
		if err := fl.drain(ctx); err != nil {
			return err
		}
		if i > 0 {
			fl.dropFragment()
		}
	}
	return nil
}

// switchTo makes file the one being followed, from its start.
func (fl *follower) switchTo(file *os.File) {
	fl.cur.Close()
	fl.cur, fl.off = file, 0
}

// dropFragment counts an unfinished last line of a file the writer has left
// for good: it is the remains of a crash and will never be completed.
func (fl *follower) dropFragment() {
	if fi, err := fl.cur.Stat(); err == nil && fi.Size() > fl.off {
		fl.r.reportMalformed(fl.cur, 1)
	}
}

// drain sends the complete lines of cur after off.
func (fl *follower) drain(ctx context.Context) error {
	bad := 0
	off, err := scanLines(fl.cur, fl.off, func(line []byte) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		ev, err := decodeLine(line)
		if err != nil {
			bad++
			return nil
		}
		if !matches(fl.filter, ev) {
			return nil
		}
		return fl.fn(ev)
	})
	fl.off = off
	fl.r.reportMalformed(fl.cur, bad)
	return err
}
