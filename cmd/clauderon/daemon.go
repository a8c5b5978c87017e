package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/audit"
	"github.com/clauderon/clauderon/gitrepo"
	"github.com/clauderon/clauderon/httpapi"
	"github.com/clauderon/clauderon/policy"
	"github.com/clauderon/clauderon/proxy"
	"github.com/clauderon/clauderon/session"
	"github.com/clauderon/clauderon/sqlite"
)

// shutdownGrace bounds the graceful part of shutdown; a second signal ends it
// at once.
const shutdownGrace = 10 * time.Second

func daemonCmd(g *globals, io stdio) *cobra.Command {
	m := &Main{}
	var logLevel, logFormat string
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run the daemon: the proxy, the session store and the API",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			home, err := g.Home()
			if err != nil {
				return err
			}
			m.Home = home
			m.Logger, err = newLogger(io.err, logLevel, logFormat)
			if err != nil {
				return err
			}
			return m.Run(cmd.Context())
		},
	}
	m.Flags.register(cmd.Flags())
	m.Web.register(cmd.Flags())
	cmd.Flags().StringVar(&m.DockerHost, "docker-host", "", "Docker engine address (default DOCKER_HOST, else the local socket)")
	cmd.Flags().StringVar(&m.Kubeconfig, "kubeconfig", "", "kubeconfig of the cluster for --backend kubernetes (default [kubernetes] kubeconfig, $KUBECONFIG, ~/.kube/config)")
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	cmd.Flags().StringVar(&logFormat, "log-format", "text", "text or json")
	return cmd
}

func newLogger(w interface{ Write([]byte) (int, error) }, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, clauderon.Errorf(clauderon.EINVALID, "invalid --log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, clauderon.Errorf(clauderon.EINVALID, "invalid --log-format %q: use text or json", format)
}

// Main is the daemon: its configuration and, once running, its components.
// Tests run it in-process on a temporary home and port 0.
type Main struct {
	Home       string
	Flags      proxyFlags
	DockerHost string
	Kubeconfig string // for the kubernetes backend; see kubeBackend
	Web        webFlags
	Logger     *slog.Logger

	// Ready, if set, is called once everything listens.
	Ready func(m *Main)

	// Set by Run.
	ProxyAddr string // loopback address of the proxy
	WebAddr   string // address of the web UI, "" when disabled
	Firewall  bool   // the host firewall rules are installed
	lock      *os.File
	closers   []func(context.Context) error
}

// Run starts the daemon and blocks until ctx ends, then shuts down: first
// gracefully, then (when ctx's parent signals again, see main) at once.
func (m *Main) Run(ctx context.Context) (err error) {
	log := m.Logger
	if log == nil {
		log = slog.Default()
	}
	if err := m.acquireLock(); err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		for i := len(m.closers) - 1; i >= 0; i-- {
			if cerr := m.closers[i](cctx); cerr != nil && !errors.Is(cerr, net.ErrClosed) {
				log.Warn("shutdown", "err", cerr)
			}
		}
		m.lock.Close()
	}()

	parts, err := buildProxyParts(ctx, m.Home, &m.Flags)
	if err != nil {
		return err
	}
	for _, line := range credentialSummary(parts.secrets.Statuses()) {
		log.Info("credential", "detail", line)
	}
	web, err := m.prepareWeb(parts.cfg)
	if err != nil {
		return err
	}

	auditLog, err := audit.Open(filepath.Join(m.Home, "audit.jsonl"), audit.Options{
		MaxBytes: int64(parts.cfg.Audit.MaxSizeMB) << 20, MaxFiles: parts.cfg.Audit.MaxFiles, Logger: log.With("component", "audit"),
	})
	if err != nil {
		return err
	}
	m.onClose(func(context.Context) error { return auditLog.Close() })

	db, err := sqlite.Open(ctx, filepath.Join(m.Home, "clauderon.db"))
	if err != nil {
		return err
	}
	m.onClose(func(context.Context) error { return db.Close() })

	dk, netInfo, err := m.connectDocker(ctx, parts.cfg.DefaultBackend, log)
	if err != nil {
		return err
	}
	gateway := netInfo.Gateway // invalid without Docker

	tokens := session.NewTokens()
	allowHosts, allowAddrs := egressDefaults(parts.cfg.Allow)
	pol := policy.New(policy.Config{
		Allow:      allowHosts,
		AllowAddrs: allowAddrs,
		Current:    tokens.Current,
		Credentialed: func(host string) bool {
			_, ok := parts.secrets.Current().Lookup(host)
			return ok
		},
	})
	px, err := proxy.New(proxy.Config{
		Policy:         pol.Check,
		AllowAddr:      pol.AllowAddr,
		GetCertificate: parts.issuer.GetCertificate,
		Auth:           tokens,
		Credentials:    parts.secrets.Current,
		Audit:          auditLog,
		UpstreamRoots:  parts.roots,
		Resolve:        parts.resolve,
		ConnectPorts:   parts.cfg.ConnectPorts,
		Logger:         log.With("component", "proxy"),
	})
	if err != nil {
		return err
	}
	listeners, port, err := proxyListeners(parts.listen, gateway)
	if err != nil {
		return err
	}
	m.onClose(func(context.Context) error { // (the kube ones appended below too)
		for _, ln := range listeners {
			ln.Close()
		}
		return nil
	})
	m.ProxyAddr = listeners[0].Addr().String()
	kb, kubeListeners, err := kubeBackend(m.Kubeconfig, parts.cfg, port, log)
	if err != nil {
		return err
	}
	listeners = append(listeners, kubeListeners...)
	for _, ln := range listeners {
		go func() {
			if err := px.Serve(ln); err != nil && !errors.Is(err, net.ErrClosed) {
				log.Error("proxy stopped", "addr", ln.Addr().String(), "err", err)
			}
		}()
	}
	m.onClose(px.Shutdown)
	if dk != nil {
		if err := m.installFirewall(ctx, log, netInfo, port); err != nil {
			return err
		}
	}

	caPEM := parts.ca.CertPEM()
	bundle := caBundle(caPEM)
	if err := writeFileAtomic(filepath.Join(m.Home, "ca-bundle.pem"), bundle, 0o644); err != nil {
		return err
	}
	backends := map[string]clauderon.Backend{}
	var manual func(string, []string, []clauderon.SpecFile) ([]string, error)
	if dk != nil {
		backends[dk.Name()] = dk
		manual = manualArgs(m.Home, dk.Network(), gateway, port)
	}
	if kb != nil {
		backends[kb.Name()] = kb
	}
	mgr := session.New(session.Config{
		Store:       db,
		Backends:    backends,
		Worktrees:   gitrepo.Worktrees{},
		Tokens:      tokens,
		Credentials: parts.secrets.Current,
		CACertPEM:   caPEM,
		CABundle:    bundle,
		ProxyPort:   port,
		WorktreeDir: filepath.Join(m.Home, "worktrees"),

		DefaultAgent:   parts.cfg.DefaultAgent,
		DefaultImage:   parts.cfg.DefaultImage,
		DefaultBackend: parts.cfg.DefaultBackend,
		ManualArgs:     manual,
		Logger:         log,
	})
	if err := mgr.Open(ctx); err != nil {
		return err
	}
	m.onClose(func(context.Context) error { mgr.Close(); return nil })
	// After Open: its reconciliation tells sessions that still run from
	// those whose containers are gone (after a reboot, say).
	if err := checkProxyPort(ctx, m.Home, port, db, log); err != nil {
		return err
	}

	auditReader := audit.NewReader(filepath.Join(m.Home, "audit.jsonl"))
	api := httpapi.NewServer(httpapi.ServerConfig{
		Sessions: mgr,
		Audit:    auditReader,
		Events:   mgr,
		Logger:   log.With("component", "api"),
		Version:  version,
	})
	sock := filepath.Join(m.Home, "clauderon.sock")
	apiLn, err := api.ListenUnix(sock)
	if err != nil {
		return err
	}
	go func() {
		if err := api.Serve(apiLn); err != nil {
			log.Error("api stopped", "err", err)
		}
	}()
	m.onClose(api.Shutdown)

	if err := m.startWeb(web, webParts{sessions: mgr, audit: auditReader, events: mgr, log: log.With("component", "web")}); err != nil {
		return err
	}

	reloadOnHUP(ctx, parts.secrets, log)

	forContainers := "none (no Docker)"
	if gateway.IsValid() {
		forContainers = netip.AddrPortFrom(gateway, uint16(port)).String()
	}
	log.Info("clauderon daemon ready", "home", m.Home, "socket", sock, "proxy", m.ProxyAddr, "proxy_for_containers", forContainers, "version", version)
	if m.Ready != nil {
		m.Ready(m)
	}
	<-ctx.Done()
	log.Info("shutting down (a second signal forces it)")
	return nil
}

func (m *Main) onClose(f func(context.Context) error) { m.closers = append(m.closers, f) }
