package main

import (
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/config"
	"github.com/clauderon/clauderon/kube"
)

// kubeWanted reports whether the daemon should offer the kubernetes backend:
// a kubeconfig named by flag, config or $KUBECONFIG, kubernetes as the
// default backend, an in-cluster service account, or ~/.kube/config.
func kubeWanted(flag string, cfg *config.Config) bool {
	if flag != "" || cfg.Kubernetes.Kubeconfig != "" || os.Getenv("KUBECONFIG") != "" || cfg.DefaultBackend == "kubernetes" {
		return true
	}
	if os.Getenv("KUBERNETES_SERVICE_HOST") != "" {
		return true
	}
	if home, err := os.UserHomeDir(); err == nil {
		if _, err := os.Stat(filepath.Join(home, ".kube", "config")); err == nil {
			return true
		}
	}
	return false
}

// kubeBackend builds the kubernetes backend, and when [kubernetes] proxy_url
// names an address of this machine (the single-node layout: the pod
// network's gateway), a proxy listener there, so pods reach the proxy.
// Nothing here contacts the cluster: a cluster that is away does not keep
// the daemon (and Docker sessions) from starting.
func kubeBackend(flag string, cfg *config.Config, proxyPort int, log *slog.Logger) (*kube.Backend, []net.Listener, error) {
	if !kubeWanted(flag, cfg) {
		return nil, nil, nil
	}
	kc := cfg.Kubernetes.Kubeconfig
	if flag != "" {
		kc = flag
	}
	kb, err := kube.New(kube.Options{
		Kubeconfig:    kc,
		Namespace:     cfg.Kubernetes.Namespace,
		StorageClass:  cfg.Kubernetes.StorageClass,
		ProxyURL:      cfg.Kubernetes.ProxyURL,
		NetworkPolicy: true,
		Logger:        log.With("component", "kube"),
	})
	if err != nil {
		if flag == "" && cfg.Kubernetes.Kubeconfig == "" && cfg.DefaultBackend != "kubernetes" {
			log.Warn("kubernetes backend not available", "err", clauderon.ErrorMessage(err))
			return nil, nil, nil
		}
		return nil, nil, err
	}
	if cfg.Kubernetes.ProxyURL == "" {
		log.Warn("kubernetes backend: [kubernetes] proxy_url is not set, so pods cannot reach the proxy; sessions on it will be refused")
		return kb, nil, nil
	}
	u, err := url.Parse(cfg.Kubernetes.ProxyURL)
	if err != nil {
		return nil, nil, clauderon.Errorf(clauderon.EINVALID, "invalid [kubernetes] proxy_url %q", cfg.Kubernetes.ProxyURL)
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || ip.IsLoopback() || ip.IsUnspecified() || (u.Port() != "" && u.Port() != strconv.Itoa(proxyPort)) {
		return kb, nil, nil // a Service or another host forwards to the proxy
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(ip.String(), strconv.Itoa(proxyPort)))
	if err != nil {
		// Not an address of this machine (the daemon's proxy is reached
		// through NAT), or the bridge is not up yet.
		log.Warn("kubernetes backend: cannot listen on proxy_url's address; pods must reach the proxy some other way", "addr", ip.String(), "err", err)
		return kb, nil, nil
	}
	return kb, []net.Listener{ln}, nil
}
