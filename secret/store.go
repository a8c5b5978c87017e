package secret

import (
	"context"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/clauderon/clauderon"
)

// Store holds the current credential set. The proxy calls Current for each
// request, so a Reload (on SIGHUP) takes effect on the next request without
// touching open connections, and a request never sees half a reload.
type Store struct {
	loader *Loader

	set atomic.Pointer[clauderon.CredentialSet]

	loadMu   sync.Mutex // serialises loads, which may run commands for seconds
	mu       sync.Mutex // guards statuses, held only briefly
	statuses []Status
}

// NewStore returns a Store that reads through loader. Until the first
// successful Load its set is empty.
func NewStore(loader *Loader) *Store {
	s := &Store{loader: loader}
	s.set.Store(clauderon.NewCredentialSet(nil))
	return s
}

// Load reads the secrets; it is Reload, named for the first call.
func (s *Store) Load(ctx context.Context) error { return s.Reload(ctx) }

// Reload reads every secret again and swaps the new set in. On failure the
// previous set (and its statuses) stay in use and the error, which names the
// failing rules, is returned: a typo during rotation must not take away the
// credentials that were working.
func (s *Store) Reload(ctx context.Context) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	set, statuses, err := s.loader.Load(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.set.Store(set)
	s.statuses = statuses
	s.mu.Unlock()
	return nil
}

// Current returns the credential set in use; never nil. Safe for concurrent
// use; the set must not be changed.
func (s *Store) Current() *clauderon.CredentialSet { return s.set.Load() }

// Statuses returns what the last successful load found for each rule.
func (s *Store) Statuses() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.statuses)
}
