package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"

	"github.com/clauderon/clauderon"
)

// ProxyEnv mints a proxy token for a container started by hand and returns
// the docker run arguments that route it through the proxy. The token is
// recorded as a "manual" session: it shows in `list` and `delete` revokes it.
func (m *Manager) ProxyEnv(ctx context.Context, name string) (*clauderon.ProxyEnv, error) {
	if m.cfg.ManualArgs == nil {
		return nil, clauderon.Errorf(clauderon.EINVALID, "proxy-env is not available with this daemon's backends")
	}
	if name == "" {
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		name = "manual-" + hex.EncodeToString(b)
	}
	if err := clauderon.ValidateSessionName(name); err != nil {
		return nil, err
	}
	defer m.lock(name)()
	token, hash := NewToken()
	now := m.cfg.Now().UTC()
	s := &clauderon.Session{
		ID: newID(), Name: name, Backend: "manual", Mode: clauderon.ModeInteractive,
		AccessMode: clauderon.AccessReadWrite, Status: clauderon.StatusRunning,
		TokenHash: hash, Manual: true, CreatedAt: now, UpdatedAt: now,
	}
	if err := m.cfg.Store.CreateSession(ctx, s); err != nil {
		return nil, err
	}
	m.cfg.Tokens.Set(hash, identity(s))
	m.events.publish(Event{Type: EventCreated, Session: s})
	env := placeholderEnv(m.creds())
	env = append(env, proxyEnv(name, token, m.cfg.ProxyPort)...)
	env = append(env, "HOME="+clauderon.ContainerHome)
	args, err := m.cfg.ManualArgs(name, env, m.files(env))
	if err != nil {
		return nil, err
	}
	return &clauderon.ProxyEnv{Session: name, Token: token, Args: args}, nil
}
