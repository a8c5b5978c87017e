// Package session is the heart of the daemon: it turns a user's request into a
// running session (a proxy token, a worktree, a container) and keeps the store,
// the proxy's token table and the backend in agreement over the session's life.
//
// It knows the other rooms only through interfaces: a clauderon.SessionStore,
// clauderon.Backends, a Worktrees implementation and the credential set. The
// daemon (cmd/clauderon) wires the concrete ones in.
package session

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/clauderon/clauderon"
)

// Store is what the manager needs from persistence.
type Store interface {
	clauderon.SessionStore
	// ListTokenHashes returns every session by its token hash, to rebuild the
	// proxy's token table when the daemon starts.
	ListTokenHashes(ctx context.Context) (map[string]*clauderon.Session, error)
}

// Worktrees creates and removes per-session git worktrees.
type Worktrees interface {
	// Add creates a worktree of the repository containing repoDir at path on
	// branch, and returns the repository's top directory and its common .git
	// directory (which the container needs mounted for commits to land).
	Add(ctx context.Context, repoDir, path, branch string) (top, gitDir string, err error)
	// Dirty reports uncommitted changes in the worktree at path.
	Dirty(ctx context.Context, path string) (bool, error)
	// Remove deletes the worktree at path; its branch and commits stay.
	Remove(ctx context.Context, repoDir, path string) error
}

// Config wires a Manager.
type Config struct {
	Store       Store
	Backends    map[string]clauderon.Backend
	Worktrees   Worktrees
	Tokens      *Tokens
	Credentials func() *clauderon.CredentialSet

	CACertPEM   []byte // the proxy CA certificate, placed in every container
	CABundle    []byte // system roots plus the CA
	ProxyPort   int    // where containers reach the proxy (on ProxyHost)
	WorktreeDir string // parent of per-session worktrees ($CLAUDERON_HOME/worktrees)

	DefaultAgent   string
	DefaultImage   string
	DefaultBackend string
	// AgentImages maps an agent name to its default image, before DefaultImage.
	AgentImages map[string]string

	// ManualArgs renders the docker run arguments for a container started by
	// hand (proxy-env): its environment and the files to mount into it. nil
	// disables proxy-env.
	ManualArgs func(name string, env []string, files []clauderon.SpecFile) ([]string, error)
	// HostUser is the uid:gid agents run as when no repository says otherwise;
	// "" picks the daemon's own user, or a sandbox user when that is root.
	HostUser string

	Logger *slog.Logger
	Now    func() time.Time
}

// Manager implements clauderon.SessionService.
type Manager struct {
	cfg Config
	log *slog.Logger

	locks sync.Map // session name -> *sync.Mutex: one state change at a time per session

	mu       sync.Mutex
	watchers map[string]context.CancelFunc // running sessions whose exit we wait for
	wg       sync.WaitGroup
	closed   bool
	events   *broker
}

var _ clauderon.SessionService = (*Manager)(nil)

// New returns a Manager. Call Open to load tokens and reconcile.
func New(cfg Config) *Manager {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Tokens == nil {
		cfg.Tokens = NewTokens()
	}
	if cfg.DefaultBackend == "" {
		cfg.DefaultBackend = "docker"
	}
	return &Manager{
		cfg:      cfg,
		log:      cfg.Logger.With("component", "session"),
		watchers: map[string]context.CancelFunc{},
		events:   newBroker(),
	}
}

// Open loads every session's token into the proxy's table and reconciles the
// store with the backends, so a restarted daemon picks up where it left off.
func (m *Manager) Open(ctx context.Context) error {
	byHash, err := m.cfg.Store.ListTokenHashes(ctx)
	if err != nil {
		return err
	}
	for h, s := range byHash {
		if s.Status != clauderon.StatusArchived {
			m.cfg.Tokens.Set(h, identity(s))
		}
	}
	_, err = m.Reconcile(ctx)
	return err
}

// Close stops waiting for containers; the containers themselves keep running.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	for _, cancel := range m.watchers {
		cancel()
	}
	m.watchers = map[string]context.CancelFunc{}
	m.mu.Unlock()
	m.wg.Wait()
	m.events.close()
}

// lock serialises state changes of one session.
func (m *Manager) lock(name string) func() {
	v, _ := m.locks.LoadOrStore(name, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

func (m *Manager) backend(name string) (clauderon.Backend, error) {
	b, ok := m.cfg.Backends[name]
	if !ok {
		return nil, clauderon.Errorf(clauderon.EINVALID, "backend %q is not available in this daemon (available: %s)", name, backendNames(m.cfg.Backends))
	}
	return b, nil
}

func backendNames(m map[string]clauderon.Backend) string {
	s := ""
	for n := range m {
		if s != "" {
			s += ", "
		}
		s += n
	}
	if s == "" {
		return "none"
	}
	return s
}

// identity is what the proxy knows about a session's token: its name, its
// access mode and what it may reach besides the configured defaults (its
// agent's provider hosts and its own allow list). Allow entries were
// validated at creation; one that no longer parses is dropped (deny by
// default) and logged by the caller's next save.
func identity(s *clauderon.Session) clauderon.Identity {
	id := clauderon.Identity{Session: s.Name, AccessMode: s.AccessMode}
	if s.Manual {
		// A container started by hand may run any agent: every provider.
		for _, n := range clauderon.AgentNames() {
			a, _ := clauderon.LookupAgent(n)
			id.Allow = append(id.Allow, a.Hosts...)
		}
	} else if a, err := clauderon.LookupAgent(s.Agent); err == nil {
		id.Allow = append(id.Allow, a.Hosts...)
	}
	if hosts, addrs, err := clauderon.ParseAllow(s.Allow); err == nil {
		id.Allow = append(id.Allow, hosts...)
		id.AllowAddrs = addrs
	}
	return id
}

// save stamps and stores s, and tells subscribers.
func (m *Manager) save(ctx context.Context, s *clauderon.Session) error {
	s.UpdatedAt = m.cfg.Now().UTC()
	if err := m.cfg.Store.UpdateSession(ctx, s); err != nil {
		return err
	}
	m.events.publish(Event{Type: EventUpdated, Session: s})
	return nil
}
