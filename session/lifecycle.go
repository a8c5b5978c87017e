package session

import (
	"context"

	"github.com/clauderon/clauderon"
)

// Get returns the named session.
func (m *Manager) Get(ctx context.Context, name string) (*clauderon.Session, error) {
	return m.cfg.Store.GetSession(ctx, name)
}

// List returns sessions, oldest first.
func (m *Manager) List(ctx context.Context, f clauderon.SessionFilter) ([]*clauderon.Session, error) {
	return m.cfg.Store.ListSessions(ctx, f)
}

// container returns the session and its backend, refusing sessions that have
// no container (proxy-env tokens).
func (m *Manager) container(ctx context.Context, name string) (*clauderon.Session, clauderon.Backend, error) {
	s, err := m.cfg.Store.GetSession(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	if s.Manual || s.ContainerID == "" {
		return nil, nil, clauderon.Errorf(clauderon.EINVALID, "session %q has no container (it is a proxy-env token)", name)
	}
	b, err := m.backend(s.Backend)
	if err != nil {
		return nil, nil, err
	}
	return s, b, nil
}

// Start restarts a stopped session's container.
func (m *Manager) Start(ctx context.Context, name string) (*clauderon.Session, error) {
	defer m.lock(name)()
	s, b, err := m.container(ctx, name)
	if err != nil {
		return nil, err
	}
	if s.Status == clauderon.StatusArchived {
		return nil, clauderon.Errorf(clauderon.ECONFLICT, "session %q is archived: unarchive it first ('clauderon unarchive %s')", name, name)
	}
	if err := b.Start(ctx, s.ContainerID); err != nil {
		return nil, gone(name, err)
	}
	s.Status, s.ExitCode, s.Error = clauderon.StatusRunning, nil, ""
	if err := m.save(ctx, s); err != nil {
		return nil, err
	}
	m.watch(s)
	return s, nil
}

// Stop stops the session's container; its worktree and record stay.
func (m *Manager) Stop(ctx context.Context, name string) (*clauderon.Session, error) {
	defer m.lock(name)()
	s, b, err := m.container(ctx, name)
	if err != nil {
		return nil, err
	}
	if err := m.stopContainer(ctx, s, b); err != nil {
		return nil, err
	}
	return s, m.save(ctx, s)
}

// stopContainer stops the container and records how it ended.
func (m *Manager) stopContainer(ctx context.Context, s *clauderon.Session, b clauderon.Backend) error {
	m.unwatch(s.Name)
	if err := b.Stop(ctx, s.ContainerID); err != nil {
		return gone(s.Name, err)
	}
	st, err := b.Inspect(ctx, s.ContainerID)
	if err != nil {
		return gone(s.Name, err)
	}
	if s.Status != clauderon.StatusArchived {
		s.Status = clauderon.StatusExited
	}
	code := st.ExitCode
	s.ExitCode = &code
	return nil
}

// Archive stops the session and hides it from the default list. Its proxy
// token stops working until it is unarchived.
func (m *Manager) Archive(ctx context.Context, name string) (*clauderon.Session, error) {
	defer m.lock(name)()
	s, err := m.cfg.Store.GetSession(ctx, name)
	if err != nil {
		return nil, err
	}
	if s.Status == clauderon.StatusArchived {
		return s, nil
	}
	if !s.Manual && s.ContainerID != "" {
		if b, err := m.backend(s.Backend); err == nil {
			if err := m.stopContainer(ctx, s, b); err != nil && clauderon.ErrorCode(err) != clauderon.ENOTFOUND {
				return nil, err
			}
		}
	}
	s.Status = clauderon.StatusArchived
	m.cfg.Tokens.Remove(s.TokenHash)
	return s, m.save(ctx, s)
}

// Unarchive brings an archived session back as stopped (start it to run it).
func (m *Manager) Unarchive(ctx context.Context, name string) (*clauderon.Session, error) {
	defer m.lock(name)()
	s, err := m.cfg.Store.GetSession(ctx, name)
	if err != nil {
		return nil, err
	}
	if s.Status != clauderon.StatusArchived {
		return nil, clauderon.Errorf(clauderon.ECONFLICT, "session %q is not archived", name)
	}
	s.Status = clauderon.StatusExited
	if s.Manual {
		s.Status = clauderon.StatusRunning
	}
	m.cfg.Tokens.Set(s.TokenHash, identity(s))
	return s, m.save(ctx, s)
}

// Delete removes the session's container, worktree and record, and revokes
// its token at once. Uncommitted work in the worktree is never dropped
// without force.
func (m *Manager) Delete(ctx context.Context, name string, force bool) error {
	defer m.lock(name)()
	s, err := m.cfg.Store.GetSession(ctx, name)
	if err != nil {
		return err
	}
	if s.Worktree != "" && !force && m.cfg.Worktrees != nil {
		dirty, err := m.cfg.Worktrees.Dirty(ctx, s.Worktree)
		if err != nil {
			return err
		}
		if dirty {
			return clauderon.Errorf(clauderon.ECONFLICT, "session %q has uncommitted changes in %s: commit them (they land on branch %s) or delete with --force to drop them", name, s.Worktree, s.Branch)
		}
	}
	m.cfg.Tokens.Remove(s.TokenHash)
	m.unwatch(name)
	if !s.Manual && s.ContainerID != "" {
		b, err := m.backend(s.Backend)
		if err != nil {
			return err
		}
		if err := b.Remove(ctx, s.ContainerID); err != nil && clauderon.ErrorCode(err) != clauderon.ENOTFOUND {
			return err
		}
	}
	if s.Worktree != "" && m.cfg.Worktrees != nil {
		if err := m.cfg.Worktrees.Remove(ctx, s.Repo, s.Worktree); err != nil {
			return err
		}
	}
	if err := m.cfg.Store.DeleteSession(ctx, name); err != nil {
		return err
	}
	m.events.publish(Event{Type: EventDeleted, Session: s})
	m.log.Info("session deleted", "session", name)
	return nil
}

// SetAccessMode changes what the session may do on credentialed hosts. It
// applies to the next request, on open connections too.
func (m *Manager) SetAccessMode(ctx context.Context, name string, mode clauderon.AccessMode) (*clauderon.Session, error) {
	mode, err := clauderon.ParseAccessMode(string(mode))
	if err != nil {
		return nil, err
	}
	defer m.lock(name)()
	s, err := m.cfg.Store.GetSession(ctx, name)
	if err != nil {
		return nil, err
	}
	s.AccessMode = mode
	if err := m.save(ctx, s); err != nil {
		return nil, err
	}
	if s.Status != clauderon.StatusArchived {
		m.cfg.Tokens.Set(s.TokenHash, identity(s))
	}
	return s, nil
}

// Attach connects to an interactive session's terminal.
func (m *Manager) Attach(ctx context.Context, name string) (clauderon.Terminal, error) {
	s, b, err := m.container(ctx, name)
	if err != nil {
		return nil, err
	}
	if s.Mode == clauderon.ModePrint {
		return nil, clauderon.Errorf(clauderon.EINVALID, "session %q runs in print mode and has no terminal: see its output with 'clauderon logs %s'", name, name)
	}
	if s.Status != clauderon.StatusRunning {
		return nil, clauderon.Errorf(clauderon.ECONFLICT, "session %q is %s: start it first ('clauderon start %s')", name, s.Status, name)
	}
	t, err := b.Attach(ctx, s.ContainerID)
	return t, gone(name, err)
}

// Logs streams the session's output.
func (m *Manager) Logs(ctx context.Context, name string, follow bool) (clauderon.LogStream, error) {
	s, b, err := m.container(ctx, name)
	if err != nil {
		return nil, err
	}
	r, err := b.Logs(ctx, s.ContainerID, follow)
	return r, gone(name, err)
}

// Wait blocks until the session's agent exits and returns the session with
// its exit code.
func (m *Manager) Wait(ctx context.Context, name string) (*clauderon.Session, error) {
	s, b, err := m.container(ctx, name)
	if err != nil {
		return nil, err
	}
	if s.Status != clauderon.StatusRunning {
		return s, nil
	}
	code, err := b.Wait(ctx, s.ContainerID)
	if err != nil {
		return nil, gone(name, err)
	}
	return m.recordExit(ctx, name, code)
}

// gone rewrites a backend's not-found into a message about the session.
func gone(name string, err error) error {
	if err != nil && clauderon.ErrorCode(err) == clauderon.ENOTFOUND {
		return clauderon.Errorf(clauderon.ENOTFOUND, "the container of session %q is gone: delete the session ('clauderon delete %s') and create it again", name, name)
	}
	return err
}
