package session

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/clauderon/clauderon"
)

// Create starts a new session: it records the session (so a crash after this
// point loses nothing reported), registers its proxy token, creates its
// worktree and starts its container. If anything after the record fails, the
// session is rolled back completely and the error says why.
func (m *Manager) Create(ctx context.Context, req clauderon.CreateRequest) (*clauderon.Session, error) {
	s, agent, err := m.newSession(req)
	if err != nil {
		return nil, err
	}
	backend, err := m.backend(s.Backend)
	if err != nil {
		return nil, err
	}
	// Check the engine before touching anything, so "Docker is not running"
	// is the first and only thing the user hears.
	if err := backend.Ping(ctx); err != nil {
		return nil, err
	}
	unlock := m.lock(s.Name)
	defer unlock()

	token, hash := NewToken()
	s.TokenHash = hash
	if err := m.cfg.Store.CreateSession(ctx, s); err != nil {
		return nil, err
	}
	m.events.publish(Event{Type: EventCreated, Session: s})
	m.cfg.Tokens.Set(hash, identity(s))

	if err := m.provision(ctx, s, agent, token, backend); err != nil {
		m.rollback(s, backend)
		return nil, err
	}
	s.Status = clauderon.StatusRunning
	if err := m.save(ctx, s); err != nil {
		return nil, err
	}
	m.watch(s)
	m.log.Info("session created", "session", s.Name, "agent", s.Agent, "backend", s.Backend, "mode", s.Mode)
	return s, nil
}

// newSession validates req and fills in defaults.
func (m *Manager) newSession(req clauderon.CreateRequest) (*clauderon.Session, clauderon.Agent, error) {
	if err := clauderon.ValidateSessionName(req.Name); err != nil {
		return nil, clauderon.Agent{}, err
	}
	agentName := req.Agent
	if agentName == "" {
		agentName = m.cfg.DefaultAgent
	}
	agent, err := clauderon.LookupAgent(agentName)
	if err != nil {
		return nil, agent, err
	}
	access, err := clauderon.ParseAccessMode(string(req.AccessMode))
	if err != nil {
		return nil, agent, err
	}
	if _, _, err := clauderon.ParseAllow(req.Allow); err != nil {
		return nil, agent, err
	}
	mem, err := ParseMemory(req.Memory)
	if err != nil {
		return nil, agent, err
	}
	if req.CPUs < 0 || req.CPUs > 1024 {
		return nil, agent, clauderon.Errorf(clauderon.EINVALID, "invalid --cpus %g: use a positive number like 2 or 0.5", req.CPUs)
	}
	image := req.Image
	if image == "" {
		image = m.cfg.AgentImages[agent.Name]
	}
	if image == "" {
		image = m.cfg.DefaultImage
	}
	if image == "" {
		return nil, agent, clauderon.Errorf(clauderon.EINVALID, "no image for agent %s: pass --image IMAGE or set default_image in config.toml (README: \"Agent images\")", agent.Name)
	}
	backend := req.Backend
	if backend == "" {
		backend = m.cfg.DefaultBackend
	}
	mode := clauderon.ModeInteractive
	if req.Print {
		mode = clauderon.ModePrint
	}
	if mode == clauderon.ModePrint && strings.TrimSpace(req.Prompt) == "" {
		return nil, agent, clauderon.Errorf(clauderon.EINVALID, "print mode needs a prompt: pass --prompt")
	}
	now := m.cfg.Now().UTC()
	return &clauderon.Session{
		ID: newID(), Name: req.Name, Agent: agent.Name, Backend: backend, Image: image,
		Repo: req.Repo, Prompt: req.Prompt, Mode: mode, AccessMode: access, Allow: allowList(req.Allow),
		Status: clauderon.StatusCreating, CPUs: req.CPUs, MemoryBytes: mem,
		CreatedAt: now, UpdatedAt: now,
	}, agent, nil
}

// allowList trims the entries and drops empty ones.
func allowList(in []string) []string {
	var out []string
	for _, a := range in {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// provision creates the worktree and the container.
func (m *Manager) provision(ctx context.Context, s *clauderon.Session, agent clauderon.Agent, token string, backend clauderon.Backend) error {
	var gitDir string
	user := m.hostUser()
	if s.Repo != "" {
		if m.cfg.Worktrees == nil {
			return clauderon.Errorf(clauderon.EINVALID, "this daemon cannot create worktrees")
		}
		s.Worktree = filepath.Join(m.cfg.WorktreeDir, s.Name)
		s.Branch = "clauderon/" + s.Name
		top, gd, err := m.cfg.Worktrees.Add(ctx, s.Repo, s.Worktree, s.Branch)
		if err != nil {
			s.Worktree, s.Branch = "", ""
			return err
		}
		s.Repo, gitDir = top, gd
		// The agent works on the user's files: run as their owner, so its
		// commits are the user's to keep and nothing ends up owned by root.
		if u, ok := ownerOf(top); ok {
			user = u
		}
	}
	spec := m.spec(s, agent, token, user)
	spec.WorkDir, spec.GitDir = s.Worktree, gitDir
	id, err := backend.Create(ctx, spec)
	if err != nil {
		return err
	}
	s.ContainerID = id
	return nil
}

// spec builds what the backend runs.
func (m *Manager) spec(s *clauderon.Session, agent clauderon.Agent, token, user string) clauderon.SessionSpec {
	env := placeholderEnv(m.creds())
	env = append(env, agent.Env...)
	env = append(env, proxyEnv(s.Name, token, m.cfg.ProxyPort)...)
	env = append(env, "HOME="+clauderon.ContainerHome, "CLAUDERON_SESSION="+s.Name)
	root := user == "0:0"
	if root {
		// Claude Code refuses --dangerously-skip-permissions as root unless
		// told it is in a sandbox; it is, and only then do we say so.
		env = append(env, "IS_SANDBOX=1")
	}
	tty := s.Mode == clauderon.ModeInteractive
	if tty {
		env = append(env, "TERM=xterm-256color")
	}
	return clauderon.SessionSpec{
		Name:        s.Name,
		Image:       s.Image,
		Command:     agent.Command(s.Mode, s.Prompt),
		Env:         env,
		TTY:         tty,
		Files:       m.files(env),
		HomeDir:     clauderon.ContainerHome,
		User:        user,
		ProxyHost:   ProxyHost,
		CPUs:        s.CPUs,
		MemoryBytes: s.MemoryBytes,
		Labels: map[string]string{
			clauderon.LabelManaged: "true",
			clauderon.LabelSession: s.Name,
			clauderon.LabelAgent:   s.Agent,
			clauderon.LabelMode:    string(s.Mode),
		},
	}
}

// files are what every container gets: the CA alone, the CA bundle, and a
// writable ~/.claude.json of its own (Claude Code rewrites it during a run).
func (m *Manager) files(env []string) []clauderon.SpecFile {
	return []clauderon.SpecFile{
		{Path: clauderon.ContainerCAPath, Data: m.cfg.CACertPEM, Mode: 0o644},
		{Path: clauderon.ContainerCABundlePath, Data: m.cfg.CABundle, Mode: 0o644},
		{Path: clauderon.ContainerHome + "/.claude.json", Data: claudeJSON(env), Mode: 0o600, Writable: true},
	}
}

func (m *Manager) creds() *clauderon.CredentialSet {
	if m.cfg.Credentials == nil {
		return nil
	}
	return m.cfg.Credentials()
}

// hostUser is who agents run as without a repository: the configured user,
// the daemon's own user, or a sandbox user when the daemon runs as root.
func (m *Manager) hostUser() string {
	if m.cfg.HostUser != "" {
		return m.cfg.HostUser
	}
	if uid := os.Getuid(); uid != 0 {
		return fmt.Sprintf("%d:%d", uid, os.Getgid())
	}
	return sandboxUser
}

// ownerOf returns "uid:gid" of path's owner.
func ownerOf(path string) (string, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	return fmt.Sprintf("%d:%d", st.Uid, st.Gid), true
}

// rollback undoes a failed Create. It runs on a fresh context: the request's
// may be what was cancelled.
func (m *Manager) rollback(s *clauderon.Session, backend clauderon.Backend) {
	ctx := context.WithoutCancel(context.Background())
	m.cfg.Tokens.Remove(s.TokenHash)
	if s.ContainerID != "" {
		if err := backend.Remove(ctx, s.ContainerID); err != nil && clauderon.ErrorCode(err) != clauderon.ENOTFOUND {
			m.log.Warn("rollback: remove container", "session", s.Name, "err", err)
		}
	}
	if s.Worktree != "" {
		if err := m.cfg.Worktrees.Remove(ctx, s.Repo, s.Worktree); err != nil {
			m.log.Warn("rollback: remove worktree", "session", s.Name, "err", err)
		}
	}
	if err := m.cfg.Store.DeleteSession(ctx, s.Name); err != nil && !errors.Is(err, context.Canceled) {
		m.log.Warn("rollback: delete record", "session", s.Name, "err", err)
	}
	m.events.publish(Event{Type: EventDeleted, Session: s})
}
