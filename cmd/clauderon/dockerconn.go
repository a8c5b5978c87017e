package main

import (
	"context"
	"log/slog"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/docker"
)

// connectDocker connects to the Docker engine and makes sure the sessions'
// network exists. Session containers on that network reach nothing but the
// host's gateway address, where the proxy listens and the host firewall lets
// nothing else through.
//
// Docker is required unless Kubernetes is the default backend: a daemon that
// runs sessions as pods (in the cluster itself, say) has no engine to talk
// to. Then an unreachable engine leaves the daemon without the docker backend
// and proxy-env, with a warning, and dk is nil.
func (m *Main) connectDocker(ctx context.Context, defaultBackend string, log *slog.Logger) (*docker.Backend, docker.NetworkInfo, error) {
	dk, err := docker.New(ctx, docker.Options{Host: m.DockerHost, InternalNetwork: true, Logger: log.With("component", "docker")})
	var netInfo docker.NetworkInfo
	if err == nil {
		if netInfo, err = dk.EnsureNetworkInfo(ctx); err != nil {
			dk.Close()
		}
	}
	if err != nil {
		if defaultBackend == "kubernetes" {
			log.Warn("Docker is not available: running with the kubernetes backend only (no docker sessions, no proxy-env)", "reason", clauderon.ErrorMessage(err))
			return nil, docker.NetworkInfo{}, nil
		}
		return nil, docker.NetworkInfo{}, err
	}
	m.onClose(func(context.Context) error { return dk.Close() })
	return dk, netInfo, nil
}
