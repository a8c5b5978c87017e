package docker

import (
	"bytes"
	"context"
	"maps"
	"net/netip"
	"slices"
	"strings"

	"github.com/clauderon/clauderon"
	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/mount"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
)

// ContainerName is the container name of session name.
func ContainerName(session string) string { return "clauderon-" + session }

// Create creates the session's container, places spec.Files, HOME, /tmp and
// the workspace in it, starts it and returns its id. The files go in before
// the start so the agent never runs without its CA or settings.
//
// Errors: EINVALID for a bad spec, ENOTFOUND when the image is not local
// (clauderon never pulls), ECONFLICT when the container name is taken,
// EUNAVAILABLE when the engine is down. A container that was created but
// could not be prepared or started is removed again.
func (b *Backend) Create(ctx context.Context, spec clauderon.SessionSpec) (string, error) {
	if err := clauderon.ValidateSessionName(spec.Name); err != nil {
		return "", err
	}
	user, err := parseUser(spec.User)
	if err != nil {
		return "", err
	}
	tree, err := specTree(spec, user)
	if err != nil {
		return "", err
	}
	archive, err := tree.tar()
	if err != nil {
		return "", err
	}
	if err := b.checkImage(ctx, spec.Image); err != nil {
		return "", err
	}
	nw, err := b.ensureNetwork(ctx)
	if err != nil {
		return "", err
	}
	gw, err := gateway(nw)
	if err != nil {
		return "", err
	}

	name := ContainerName(spec.Name)
	hc := &container.HostConfig{
		NetworkMode: container.NetworkMode(nw.ID), // by id: see ensureNetwork
		Init:        new(true),                    // reaps the zombies agents leave behind, forwards signals
		SecurityOpt: []string{"no-new-privileges"},
		Resources: container.Resources{
			NanoCPUs: int64(spec.CPUs * 1e9),
			Memory:   spec.MemoryBytes,
		},
	}
	if user.uid != 0 {
		// An agent running as a user has no use for capabilities; root
		// agents (IS_SANDBOX) keep Docker's default set to install things.
		hc.CapDrop = []string{"ALL"}
	}
	// Mounts, not Binds: a missing host directory is an error instead of an
	// empty root-owned directory Docker would make in its place.
	if spec.WorkDir != "" {
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: spec.WorkDir, Target: clauderon.ContainerWorkspace})
	}
	if spec.GitDir != "" {
		// A worktree's .git file names the main repository by its host path.
		hc.Mounts = append(hc.Mounts, mount.Mount{Type: mount.TypeBind, Source: spec.GitDir, Target: spec.GitDir})
	}
	if spec.ProxyHost != "" {
		hc.ExtraHosts = []string{spec.ProxyHost + ":" + gw.String()}
	}
	if b.opts.InternalNetwork {
		// Docker's embedded DNS forwards names it does not know to the
		// host's resolvers; older engines do so even from internal
		// networks, and from the host's namespace for loopback resolvers
		// (CVE-2024-29018). The gateway is the only upstream it gets:
		// there, the host firewall refuses port 53, so DNS carries no data
		// out. Containers need no DNS: the proxy resolves names.
		hc.DNS = []netip.Addr{gw}
	}
	cfg := &container.Config{
		Image:      spec.Image,
		Cmd:        spec.Command,
		Env:        withHome(spec.Env, tree.home),
		User:       spec.User,
		WorkingDir: clauderon.ContainerWorkspace,
		Labels:     labels(spec),
		Tty:        spec.TTY,
		OpenStdin:  spec.TTY,
	}
	res, err := b.cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Name:       name,
		Config:     cfg,
		HostConfig: hc,
		NetworkingConfig: &network.NetworkingConfig{
			EndpointsConfig: map[string]*network.EndpointSettings{nw.ID: {}},
		},
	})
	if err != nil {
		if cerrdefs.IsConflict(err) {
			return "", clauderon.Errorf(clauderon.ECONFLICT, "container %s already exists: pick another session name, or remove the old container with `docker rm -f %s`", name, name)
		}
		if cerrdefs.IsInvalidArgument(err) {
			// The engine's reason, e.g. "invalid mount config for type
			// "bind": bind source path does not exist: /x".
			return "", clauderon.Errorf(clauderon.EINVALID, "Docker refused the container for session %s: %s", spec.Name, strings.TrimPrefix(err.Error(), "Error response from daemon: "))
		}
		return "", b.wrap(err, "create container "+name)
	}
	for _, w := range res.Warnings {
		b.log.Warn("container create", "container", name, "warning", w)
	}
	if err := b.prepareAndStart(ctx, res.ID, archive); err != nil {
		// Leave nothing half-made behind; the caller's ctx may be done.
		_, rmErr := b.cli.ContainerRemove(context.WithoutCancel(ctx), res.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		if rmErr != nil {
			b.log.Warn("remove failed container", "container", name, "err", rmErr)
		}
		return "", err
	}
	b.log.Debug("created", "container", name, "id", shortID(res.ID))
	return res.ID, nil
}

func (b *Backend) prepareAndStart(ctx context.Context, id string, archive []byte) error {
	_, err := b.cli.CopyToContainer(ctx, id, client.CopyToContainerOptions{
		DestinationPath: "/",
		Content:         bytes.NewReader(archive),
	})
	if err != nil {
		return b.wrapContainer(err, "copy session files into", id)
	}
	return b.Start(ctx, id)
}

// checkImage returns ENOTFOUND when ref is not in the engine's image store.
func (b *Backend) checkImage(ctx context.Context, ref string) error {
	if ref == "" {
		return clauderon.Errorf(clauderon.EINVALID, "no image given: name a local image with --image")
	}
	ok, err := b.ImageExists(ctx, ref)
	if err != nil {
		return err
	}
	if !ok {
		return clauderon.Errorf(clauderon.ENOTFOUND, "image %s not found locally: build it (see README) — clauderon never pulls", ref)
	}
	return nil
}

// labels are spec.Labels plus the two every clauderon container carries, so
// List and reconcile find it even when the caller forgot them.
func labels(spec clauderon.SessionSpec) map[string]string {
	l := map[string]string{
		clauderon.LabelManaged: "true",
		clauderon.LabelSession: spec.Name,
	}
	maps.Copy(l, spec.Labels)
	return l
}

// withHome adds HOME=home unless env sets HOME: FROM scratch images have no
// /etc/passwd, where Docker would otherwise look it up.
func withHome(env []string, home string) []string {
	if slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "HOME=") }) {
		return env
	}
	return append(slices.Clip(env), "HOME="+home)
}
