package kube

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/clauderon/clauderon"
)

// Defaults for Options.
const (
	DefaultNamespace     = "clauderon"
	DefaultWorkspaceSize = "10Gi"
	DefaultStartTimeout  = 3 * time.Minute
	DefaultStopTimeout   = 10 * time.Second
	// pingTimeout bounds Ping: an unreachable API server otherwise hangs
	// until the TCP timeout.
	pingTimeout = 10 * time.Second
)

// Options configure a Backend.
type Options struct {
	// Kubeconfig is the kubeconfig file; "" means $KUBECONFIG,
	// ~/.kube/config, then the in-cluster service account.
	Kubeconfig string
	// Context selects a kubeconfig context; "" is the current one.
	Context string
	// Namespace holds the session pods (default "clauderon"); it is created
	// if missing.
	Namespace string
	// StorageClass of workspace claims; "" is the cluster's default.
	StorageClass string
	// WorkspaceSize is the size each claim requests (default 10Gi).
	WorkspaceSize string
	// ProxyURL is where pods reach the daemon's proxy, http://HOST[:PORT].
	// Without a port, the port the session's environment names is kept.
	// Required: Create refuses without it.
	ProxyURL string
	// NetworkPolicy, when true, makes Create ensure a NetworkPolicy that lets
	// session pods reach only the proxy (needs a CNI that enforces it, and
	// an IP address in ProxyURL).
	NetworkPolicy bool
	// StartTimeout bounds how long Create and Start wait for the agent to
	// start (default 3 min).
	StartTimeout time.Duration
	// StopTimeout is the pods' grace period on Stop (default 10s).
	StopTimeout time.Duration
	// Logger receives debug records; nil discards them.
	Logger *slog.Logger
}

// Backend is a clauderon.Backend on a Kubernetes cluster. It is safe for
// concurrent use.
type Backend struct {
	cs   kubernetes.Interface
	rc   *rest.Config
	opts Options
	log  *slog.Logger
	host string // the API server, for messages
}

var _ clauderon.Backend = (*Backend)(nil)

// New loads the kubeconfig and returns a Backend. It does not contact the
// cluster (Ping does), so a daemon starts while the cluster is away; a
// kubeconfig that cannot be loaded, or an invalid ProxyURL, is EINVALID.
func New(opts Options) (*Backend, error) {
	if opts.Namespace == "" {
		opts.Namespace = DefaultNamespace
	}
	if opts.WorkspaceSize == "" {
		opts.WorkspaceSize = DefaultWorkspaceSize
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = DefaultStartTimeout
	}
	if opts.StopTimeout <= 0 {
		opts.StopTimeout = DefaultStopTimeout
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opts.ProxyURL != "" {
		if _, err := parseProxyURL(opts.ProxyURL); err != nil {
			return nil, err
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = opts.Kubeconfig
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: opts.Context})
	rc, err := cc.ClientConfig()
	if err != nil {
		where := opts.Kubeconfig
		if where == "" {
			where = "$KUBECONFIG or ~/.kube/config"
		}
		return nil, clauderon.Errorf(clauderon.EINVALID, "cannot load the Kubernetes configuration from %s: %v (set [kubernetes] kubeconfig in config.toml or pass --kubeconfig)", where, err)
	}
	rc.UserAgent = "clauderon"
	cs, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return nil, clauderon.Errorf(clauderon.EINVALID, "invalid Kubernetes configuration: %v", err)
	}
	return &Backend{cs: cs, rc: rc, opts: opts, log: opts.Logger.With("component", "kube"), host: rc.Host}, nil
}

// Name is "kubernetes".
func (b *Backend) Name() string { return "kubernetes" }

// Namespace is where session pods live.
func (b *Backend) Namespace() string { return b.opts.Namespace }

// Ping checks that the API server answers and that this identity may manage
// pods in the namespace: EUNAVAILABLE when the cluster cannot be reached,
// EINVALID when the namespace is forbidden.
func (b *Backend) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	if err := b.cs.CoreV1().RESTClient().Get().AbsPath("/version").Do(ctx).Error(); err != nil {
		return b.wrap(err, "reach the Kubernetes API server")
	}
	if err := b.checkAccess(ctx); err != nil {
		return err
	}
	return nil
}

// parseProxyURL checks ProxyURL: http, a host, nothing else.
func parseProxyURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" || u.Hostname() == "" || u.User != nil || strings.Trim(u.Path, "/") != "" {
		return nil, clauderon.Errorf(clauderon.EINVALID, "invalid [kubernetes] proxy_url %q: use http://HOST[:PORT], an address pods can reach the daemon's proxy on", s)
	}
	return u, nil
}
