package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/audit"
	"github.com/clauderon/clauderon/docker"
	"github.com/clauderon/clauderon/firewall"
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
	if err := checkProxyPort(ctx, m.Home, port, db, log); err != nil {
		for _, ln := range listeners {
			ln.Close()
		}
		return err
	}
	m.ProxyAddr = listeners[0].Addr().String()
	kb, kubeListeners, err := kubeBackend(m.Kubeconfig, parts.cfg, port, log)
	if err != nil {
		for _, ln := range listeners {
			ln.Close()
		}
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
	if len(backends) == 0 {
		return clauderon.Errorf(clauderon.EUNAVAILABLE, "no backend is available: the kubernetes backend could not be set up (see the log above)")
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

// installFirewall adds the host rules that leave the proxy port on the
// gateway as the only thing session containers can reach, and removes them
// at shutdown. Without root (or iptables) the daemon runs on, and says how
// exposed the host is; `clauderon doctor` says it too.
func (m *Main) installFirewall(ctx context.Context, log *slog.Logger, n docker.NetworkInfo, port int) error {
	rules, err := firewall.Install(ctx, firewall.Spec{Bridge: n.Bridge, Subnet: n.Subnet, Gateway: n.Gateway, Port: port})
	if errors.Is(err, firewall.ErrNoPrivilege) {
		log.Warn("host firewall rules NOT installed: session containers can reach every port on this host's addresses; run the daemon as root (with iptables) to close them", "reason", err.Error())
		return nil
	}
	if err != nil {
		return fmt.Errorf("install host firewall rules for %s: %w", n.Bridge, err)
	}
	m.Firewall = true
	log.Info("host firewall installed", "bridge", n.Bridge, "allowed", netip.AddrPortFrom(n.Gateway, uint16(port)).String())
	m.onClose(rules.Remove)
	return nil
}

// egressDefaults is what every session may reach besides its agent's hosts
// and its own --allow: config.toml's allow list when it is set (it replaces
// the built-in list), else policy.DefaultAllow. Config validated the entries.
func egressDefaults(allow []string) ([]clauderon.HostPattern, []netip.Prefix) {
	if allow == nil {
		return policy.DefaultAllow(), nil
	}
	hosts, addrs, _ := clauderon.ParseAllow(allow)
	if hosts == nil {
		hosts = []clauderon.HostPattern{} // set, and empty: nothing by default
	}
	return hosts, addrs
}

func (m *Main) onClose(f func(context.Context) error) { m.closers = append(m.closers, f) }

// acquireLock makes this the only daemon for its home. The lock file holds
// the owner's pid, so a second start can say who holds it.
func (m *Main) acquireLock() error {
	path := filepath.Join(m.Home, "daemon.lock")
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open lock %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b := make([]byte, 32)
		n, _ := f.ReadAt(b, 0)
		f.Close()
		pid := string(b[:n])
		return clauderon.Errorf(clauderon.ECONFLICT, "another clauderon daemon (pid %s) is running for %s: stop it first, or use another --home", trimSpace(pid), m.Home)
	}
	_ = f.Truncate(0)
	_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	m.lock = f
	return nil
}

func trimSpace(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	if s == "" {
		return "unknown"
	}
	return s
}

// proxyListeners listens on the configured address and, so containers reach
// the proxy, on the Docker network's gateway with the same port. Listening on
// the gateway rather than every interface keeps the proxy off the LAN.
func proxyListeners(listen string, gateway netip.Addr) ([]net.Listener, int, error) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return nil, 0, clauderon.Errorf(clauderon.EINVALID, "invalid proxy address %q: want HOST:PORT, like 127.0.0.1:18080", listen)
	}
	first, err := net.Listen("tcp", listen)
	if err != nil {
		return nil, 0, clauderon.Errorf(clauderon.EUNAVAILABLE, "cannot listen on %s: %v (is another proxy running? pick another port with --listen)", listen, err)
	}
	port := first.Addr().(*net.TCPAddr).Port
	lns := []net.Listener{first}
	if ip := net.ParseIP(host); (ip != nil && ip.IsUnspecified()) || !gateway.IsValid() {
		return lns, port, nil // already reachable on the gateway, or no Docker network
	}
	gw, err := net.Listen("tcp", netip.AddrPortFrom(gateway, uint16(port)).String())
	if err != nil {
		first.Close()
		return nil, 0, clauderon.Errorf(clauderon.EUNAVAILABLE, "cannot listen on the Docker network gateway %s port %d: %v", gateway, port, err)
	}
	return append(lns, gw), port, nil
}

// manualArgs renders `docker run` arguments for proxy-env: the network, the
// proxy host mapping, the environment and the files, written under
// $CLAUDERON_HOME/manual/NAME and mounted.
func manualArgs(home, network string, gateway netip.Addr, port int) func(string, []string, []clauderon.SpecFile) ([]string, error) {
	var mu sync.Mutex
	return func(name string, env []string, files []clauderon.SpecFile) ([]string, error) {
		mu.Lock()
		defer mu.Unlock()
		dir := filepath.Join(home, "manual", name)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		args := []string{"--network", network, "--add-host", session.ProxyHost + ":" + gateway.String()}
		for _, kv := range env {
			args = append(args, "-e", kv)
		}
		for _, f := range files {
			host := filepath.Join(dir, filepath.Base(f.Path))
			mode := os.FileMode(f.Mode)
			if f.Writable {
				mode = 0o666 // the container's user is unknown: let it write its own copy
			}
			if err := writeFileAtomic(host, f.Data, mode); err != nil {
				return nil, err
			}
			mount := host + ":" + f.Path
			if !f.Writable {
				mount += ":ro"
			}
			args = append(args, "-v", mount)
		}
		if err := os.Chmod(dir, 0o755); err != nil {
			return nil, err
		}
		return args, nil
	}
}

// writeFileAtomic writes via a temporary file and rename, so readers never
// see half a file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
