package clauderon

import (
	"context"
	"io"
)

// SessionSpec is everything a backend needs to run a session's agent. It is
// plain data: backends know nothing of the proxy, the store or the rules, only
// that the agent must reach ProxyURL and trust CACertPEM.
type SessionSpec struct {
	Name    string
	Image   string
	Command []string
	Env     []string // KEY=VALUE, placeholders only: never a real credential
	TTY     bool     // interactive: a terminal and open stdin
	WorkDir string   // host directory mounted at /workspace ("" for an empty workspace)
	GitDir  string   // host repository .git directory to mount at the same path, for worktrees
	Files   []SpecFile
	HomeDir string // the agent's home directory (HOME), created writable for User
	User    string // uid:gid to run as; "0:0" only when the agent must run as root
	// ProxyHost is the name the container uses for the proxy; the backend maps
	// it to an address where the proxy listens for its containers.
	ProxyHost   string
	CPUs        float64
	MemoryBytes int64
	Labels      map[string]string
}

// SpecFile is a file the backend places in the container before the agent
// starts: the proxy's CA certificate, the CA bundle, the agent's settings.
// Each session gets its own copy; a Writable file may be changed by the agent
// and is owned by the session's user.
type SpecFile struct {
	Path     string // absolute path in the container
	Data     []byte
	Mode     uint32 // permission bits, e.g. 0o644
	Writable bool
}

// BackendState is what a backend knows about a session's container.
type BackendState struct {
	ID       string
	Running  bool
	ExitCode int // valid when !Running
	Error    string
}

// Backend runs session containers. Implementations return *Error with
// ENOTFOUND when the container is gone and EUNAVAILABLE when the engine or
// cluster cannot be reached, with a message that says how to fix it.
type Backend interface {
	// Name is "docker" or "kubernetes".
	Name() string
	// Create creates and starts the container and returns its id.
	Create(ctx context.Context, spec SessionSpec) (string, error)
	Start(ctx context.Context, id string) error
	Stop(ctx context.Context, id string) error
	// Remove deletes the container and everything the backend created for it.
	Remove(ctx context.Context, id string) error
	Inspect(ctx context.Context, id string) (BackendState, error)
	// Wait blocks until the container stops and returns its exit code.
	Wait(ctx context.Context, id string) (int, error)
	// Attach connects to the container's terminal.
	Attach(ctx context.Context, id string) (Terminal, error)
	// Logs streams the container's output; with follow it goes on until the
	// container stops or ctx ends.
	Logs(ctx context.Context, id string, follow bool) (LogStream, error)
	// Ping checks that the engine is reachable.
	Ping(ctx context.Context) error
}

// Terminal is an attached session terminal: raw bytes both ways.
type Terminal interface {
	io.ReadWriteCloser
	Resize(ctx context.Context, cols, rows uint16) error
}

// LogStream is a session's output.
type LogStream = io.ReadCloser
