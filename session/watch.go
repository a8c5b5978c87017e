package session

import (
	"context"

	"github.com/clauderon/clauderon"
)

// watch waits in the background for a running session's container to stop
// and records its exit code, so `list` shows print sessions as exited without
// anyone waiting on them.
func (m *Manager) watch(s *clauderon.Session) {
	b, err := m.backend(s.Backend)
	if err != nil || s.ContainerID == "" {
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	if cancel, ok := m.watchers[s.Name]; ok {
		cancel()
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.watchers[s.Name] = cancel
	name, id := s.Name, s.ContainerID
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		code, err := b.Wait(ctx, id)
		if ctx.Err() != nil {
			return
		}
		m.mu.Lock()
		delete(m.watchers, name)
		m.mu.Unlock()
		if err != nil {
			m.log.Warn("wait for container", "session", name, "err", err)
			return
		}
		unlock := m.lock(name)
		defer unlock()
		if _, err := m.recordExitLocked(ctx, name, id, code); err != nil && clauderon.ErrorCode(err) != clauderon.ENOTFOUND {
			m.log.Warn("record exit", "session", name, "err", err)
		}
	}()
}

func (m *Manager) unwatch(name string) {
	m.mu.Lock()
	if cancel, ok := m.watchers[name]; ok {
		cancel()
		delete(m.watchers, name)
	}
	m.mu.Unlock()
}

// recordExit stores a session's exit code.
func (m *Manager) recordExit(ctx context.Context, name string, code int) (*clauderon.Session, error) {
	defer m.lock(name)()
	return m.recordExitLocked(ctx, name, "", code)
}

// recordExitLocked stores the exit code unless the session has moved on (a
// different container, or started again).
func (m *Manager) recordExitLocked(ctx context.Context, name, containerID string, code int) (*clauderon.Session, error) {
	s, err := m.cfg.Store.GetSession(ctx, name)
	if err != nil {
		return nil, err
	}
	if containerID != "" && s.ContainerID != containerID {
		return s, nil
	}
	if s.Status == clauderon.StatusRunning {
		s.Status = clauderon.StatusExited
	}
	s.ExitCode = &code
	if err := m.save(ctx, s); err != nil {
		return nil, err
	}
	return s, nil
}

// Reconcile brings the store in line with the backends: a session whose
// container is gone is marked failed, a stopped one exited with its code, a
// running one is watched again.
func (m *Manager) Reconcile(ctx context.Context) ([]*clauderon.Session, error) {
	all, err := m.cfg.Store.ListSessions(ctx, clauderon.SessionFilter{Archived: true})
	if err != nil {
		return nil, err
	}
	var changed []*clauderon.Session
	for _, s := range all {
		if s.Manual || s.Status == clauderon.StatusArchived {
			continue
		}
		ok, err := m.reconcileOne(ctx, s)
		if err != nil {
			if clauderon.ErrorCode(err) == clauderon.EUNAVAILABLE {
				return changed, err
			}
			m.log.Warn("reconcile", "session", s.Name, "err", err)
			continue
		}
		if ok {
			changed = append(changed, s)
		}
	}
	return changed, nil
}

func (m *Manager) reconcileOne(ctx context.Context, s *clauderon.Session) (bool, error) {
	defer m.lock(s.Name)()
	b, err := m.backend(s.Backend)
	if err != nil {
		return false, err
	}
	before := *s
	if s.ContainerID == "" {
		// Created but never got a container: the daemon died mid-create.
		s.Status, s.Error = clauderon.StatusFailed, "the daemon stopped before the container was created"
	} else {
		st, err := b.Inspect(ctx, s.ContainerID)
		switch {
		case clauderon.ErrorCode(err) == clauderon.ENOTFOUND:
			s.Status, s.Error = clauderon.StatusFailed, "the container is gone"
		case err != nil:
			return false, err
		case st.Running:
			s.Status = clauderon.StatusRunning
			m.watch(s)
		default:
			code := st.ExitCode
			s.Status, s.ExitCode = clauderon.StatusExited, &code
		}
	}
	if before.Status == s.Status && before.Error == s.Error && eqCode(before.ExitCode, s.ExitCode) {
		return false, nil
	}
	if err := m.save(ctx, s); err != nil {
		return false, err
	}
	return true, nil
}

func eqCode(a, b *int) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
