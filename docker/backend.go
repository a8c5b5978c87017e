package docker

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/clauderon/clauderon"
	"github.com/moby/moby/client"
)

// Defaults for Options.
const (
	DefaultNetwork     = "clauderon"
	DefaultStopTimeout = 10 * time.Second
)

// Options configure a Backend. The zero value is usable.
type Options struct {
	// Host is the engine's address, e.g. "unix:///var/run/docker.sock".
	// Empty means DOCKER_HOST, or the default socket.
	Host string
	// Network is the user-defined bridge network sessions join
	// (default "clauderon").
	Network string
	// InternalNetwork makes EnsureNetwork create the network as internal
	// (no route out except to the host's gateway address, where the proxy
	// listens). An existing network with the other setting is an error.
	InternalNetwork bool
	// StopTimeout is how long Stop waits after SIGTERM before it kills
	// (default 10s).
	StopTimeout time.Duration
	// Logger receives debug records; nil discards them.
	Logger *slog.Logger
}

// Backend is a clauderon.Backend on a Docker Engine. It is safe for
// concurrent use.
type Backend struct {
	cli  *client.Client
	opts Options
	log  *slog.Logger

	netMu sync.Mutex // serializes network creation
}

var _ clauderon.Backend = (*Backend)(nil)

// New connects to the engine and checks that it answers, negotiating the API
// version so that older engines (Debian's 20.10, API 1.41) work. An engine
// that cannot be reached is a *clauderon.Error with code EUNAVAILABLE.
func New(ctx context.Context, opts Options) (*Backend, error) {
	if opts.Network == "" {
		opts.Network = DefaultNetwork
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	clientOpts := []client.Opt{client.FromEnv}
	if opts.Host != "" {
		clientOpts = append(clientOpts, client.WithHost(opts.Host))
	}
	cli, err := client.New(clientOpts...)
	if err != nil {
		return nil, clauderon.Errorf(clauderon.EINVALID, "invalid Docker host %q: %v", opts.Host, err)
	}
	b := &Backend{cli: cli, opts: opts, log: opts.Logger.With("component", "docker")}
	if err := b.Ping(ctx); err != nil {
		cli.Close()
		return nil, err
	}
	return b, nil
}

// Name is "docker".
func (b *Backend) Name() string { return "docker" }

// Network is the name of the network sessions join.
func (b *Backend) Network() string { return b.opts.Network }

// Ping checks that the engine answers; EUNAVAILABLE when it does not.
func (b *Backend) Ping(ctx context.Context) error {
	_, err := b.cli.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true})
	return b.wrap(err, "ping the Docker engine")
}

// Close releases the client's connections. Terminals and log streams already
// handed out stay open until their own Close.
func (b *Backend) Close() error { return b.cli.Close() }
