// Package testutil holds what the tests of several packages share. Only
// tests import it.
package testutil

import (
	"bytes"
	"sync"
)

// SyncBuffer collects output written from many goroutines (a logger, a child
// process's stdout and stderr) while a test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
