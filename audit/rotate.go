package audit

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
)

// rotatedName is the name of the i-th rotated file (1 is the newest).
func rotatedName(path string, i int) string {
	return path + "." + strconv.Itoa(i)
}

// lockName is the file whose advisory lock makes rotation atomic for readers.
func lockName(path string) string { return path + ".lock" }

// errRotationBusy means a reader holds the lock: rotation waits for a later
// batch of lines rather than make Record wait for the reader.
var errRotationBusy = errors.New("audit log is being read; rotation postponed")

// rotateFile moves the current file to path.1, shifting older files up and
// dropping those beyond maxFiles, and opens a fresh file. Only the writer (see
// Log) calls it, so no line is written in between: every line lands in
// exactly one file.
//
// The old file is synced before it is renamed and never written after, so a
// reader that follows it by its open descriptor sees all of it. On error the
// current file stays open (possibly under the name path.1) and writes go on.
//
// Readers see a rotation as one step: it runs under an exclusive lock on
// path.lock that they take shared while opening the files. The lock is only
// tried, never waited for, so a reader that hangs delays rotation but never
// blocks Record.
func (l *Log) rotateFile() error {
	ok, err := tryLock(l.lock, true)
	if err != nil {
		return err
	}
	if !ok {
		return errRotationBusy
	}
	defer unlock(l.lock)
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("sync audit log before rotation: %w", err)
	}
	// Drop the oldest kept file and any left over from a larger MaxFiles.
	for i := l.maxFiles; ; i++ {
		err := os.Remove(rotatedName(l.path, i))
		if errors.Is(err, fs.ErrNotExist) {
			break
		}
		if err != nil {
			return fmt.Errorf("remove old audit log: %w", err)
		}
	}
	for i := l.maxFiles - 1; i >= 1; i-- {
		err := os.Rename(rotatedName(l.path, i), rotatedName(l.path, i+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("rotate audit log: %w", err)
		}
	}
	if err := os.Rename(l.path, rotatedName(l.path, 1)); err != nil {
		return fmt.Errorf("rotate audit log: %w", err)
	}
	old := l.f
	if err := l.openFile(); err != nil {
		// The old file lives on as path.1; keep writing to it so events
		// are not lost, and try rotating again on the next line.
		return err
	}
	if err := old.Close(); err != nil {
		return fmt.Errorf("close rotated audit log: %w", err)
	}
	return nil
}
