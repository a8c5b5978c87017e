package clauderon

import (
	"context"
	"regexp"
	"time"
)

// SessionStatus is where a session is in its life.
type SessionStatus string

const (
	StatusCreating SessionStatus = "creating"
	StatusRunning  SessionStatus = "running"
	StatusExited   SessionStatus = "exited"
	StatusFailed   SessionStatus = "failed"
	StatusArchived SessionStatus = "archived"
)

// Mode is how the agent runs: interactive with a terminal, or print (one-shot).
type Mode string

const (
	ModeInteractive Mode = "interactive"
	ModePrint       Mode = "print"
)

// AccessMode limits what a session may do on hosts that get a credential.
type AccessMode string

const (
	AccessReadWrite AccessMode = "read-write"
	AccessReadOnly  AccessMode = "read-only"
)

// ParseAccessMode validates s ("" means read-write).
func ParseAccessMode(s string) (AccessMode, error) {
	switch AccessMode(s) {
	case "", AccessReadWrite:
		return AccessReadWrite, nil
	case AccessReadOnly:
		return AccessReadOnly, nil
	}
	return "", Errorf(EINVALID, "invalid access mode %q: use read-only or read-write", s)
}

// Session is one agent run: its container, its worktree and its proxy identity.
type Session struct {
	ID          string        `json:"id"`
	Name        string        `json:"name"`
	Agent       string        `json:"agent"`
	Backend     string        `json:"backend"`
	Image       string        `json:"image"`
	Repo        string        `json:"repo,omitempty"`
	Worktree    string        `json:"worktree,omitempty"`
	Branch      string        `json:"branch,omitempty"`
	Prompt      string        `json:"prompt"`
	Mode        Mode          `json:"mode"`
	AccessMode  AccessMode    `json:"access_mode"`
	Allow       []string      `json:"allow,omitempty"` // extra egress: host patterns, IP addresses or CIDR prefixes (create --allow)
	Status      SessionStatus `json:"status"`
	ContainerID string        `json:"container_id,omitempty"`
	TokenHash   string        `json:"-"` // sha256 of the proxy token, hex; the token itself is never stored
	ExitCode    *int          `json:"exit_code,omitempty"`
	CPUs        float64       `json:"cpus,omitempty"`
	MemoryBytes int64         `json:"memory_bytes,omitempty"`
	Manual      bool          `json:"manual,omitempty"` // a proxy-env token for a container started by hand
	Error       string        `json:"error,omitempty"`  // why the session failed, if it did
	CreatedAt   time.Time     `json:"created_at"`
	UpdatedAt   time.Time     `json:"updated_at"`
}

var sessionNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)

// ValidateSessionName checks a name against [a-z0-9][a-z0-9-]{0,62}: it becomes
// a container name, a branch name and a directory name, so it stays simple.
func ValidateSessionName(name string) error {
	if !sessionNameRE.MatchString(name) {
		return Errorf(EINVALID, "invalid session name %q: use 1-63 lower-case letters, digits and dashes, starting with a letter or digit", name)
	}
	return nil
}

// CreateRequest is what a user asks for when creating a session.
type CreateRequest struct {
	Name       string     `json:"name"`
	Prompt     string     `json:"prompt"`
	Repo       string     `json:"repo,omitempty"`
	Agent      string     `json:"agent,omitempty"`
	Backend    string     `json:"backend,omitempty"`
	Image      string     `json:"image,omitempty"`
	Print      bool       `json:"print,omitempty"`
	AccessMode AccessMode `json:"access_mode,omitempty"`
	CPUs       float64    `json:"cpus,omitempty"`
	Memory     string     `json:"memory,omitempty"` // "2g", "512m", or bytes
	Allow      []string   `json:"allow,omitempty"`
}

// SessionFilter selects sessions in List.
type SessionFilter struct {
	Archived bool // include archived sessions
}

// SessionStore persists sessions. Implementations return *Error with ENOTFOUND
// for an unknown name and ECONFLICT for a name already taken.
type SessionStore interface {
	CreateSession(ctx context.Context, s *Session) error
	GetSession(ctx context.Context, name string) (*Session, error)
	ListSessions(ctx context.Context, f SessionFilter) ([]*Session, error)
	UpdateSession(ctx context.Context, s *Session) error
	DeleteSession(ctx context.Context, name string) error
}

// ProxyEnv is what a container started by hand needs to use the proxy.
type ProxyEnv struct {
	Session string   `json:"session"`
	Token   string   `json:"token"` // shown once, at creation
	Args    []string `json:"args"`  // docker run arguments
}

// SessionService is what the daemon offers its clients (CLI, TUI, web UI).
type SessionService interface {
	Create(ctx context.Context, req CreateRequest) (*Session, error)
	Get(ctx context.Context, name string) (*Session, error)
	List(ctx context.Context, f SessionFilter) ([]*Session, error)
	Start(ctx context.Context, name string) (*Session, error)
	Stop(ctx context.Context, name string) (*Session, error)
	Archive(ctx context.Context, name string) (*Session, error)
	Unarchive(ctx context.Context, name string) (*Session, error)
	Delete(ctx context.Context, name string, force bool) error
	Reconcile(ctx context.Context) ([]*Session, error)
	Attach(ctx context.Context, name string) (Terminal, error)
	Logs(ctx context.Context, name string, follow bool) (LogStream, error)
	Wait(ctx context.Context, name string) (*Session, error)
	ProxyEnv(ctx context.Context, name string) (*ProxyEnv, error)
	SetAccessMode(ctx context.Context, name string, m AccessMode) (*Session, error)
}

// Paths inside every session container. They are part of the contract with
// images: agents find the proxy's CA here through the environment.
const (
	ContainerCAPath       = "/etc/clauderon/proxy-ca.pem"  // the proxy CA alone (NODE_EXTRA_CA_CERTS adds it)
	ContainerCABundlePath = "/etc/clauderon/ca-bundle.pem" // system roots plus the proxy CA (SSL_CERT_FILE and friends replace the roots)
	ContainerWorkspace    = "/workspace"                   // the worktree, or an empty workspace
	ContainerHome         = "/home/clauderon"              // HOME for the agent, with its per-session .claude.json
)

// Labels on everything clauderon creates in a backend.
const (
	LabelManaged = "clauderon.managed" // "true"
	LabelSession = "clauderon.session" // the session name
	LabelAgent   = "clauderon.agent"
	LabelMode    = "clauderon.mode"
)
