package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/clauderon/clauderon"
)

// acquireLock makes this the only daemon for its home. The lock file holds
// the owner's pid, so a second start can say who holds it.
func (m *Main) acquireLock() error {
	path := filepath.Join(m.Home, "daemon.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		pid := string(b[:n])
		return clauderon.Errorf(clauderon.ECONFLICT, "another clauderon daemon (pid %s) is running for %s: stop it first, or use another --home", trimSpace(pid), m.Home)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	m.lock = f
	return nil
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	if s == "" {
		return "unknown"
	}
	return s
}
