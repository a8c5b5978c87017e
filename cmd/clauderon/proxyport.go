package main

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/clauderon/clauderon"
)

// checkProxyPort guards against a daemon restarted on another proxy port.
// Every session's container was given the port in HTTPS_PROXY when it was
// made; on another port its agent could no longer reach any provider, with
// nothing saying why. The port is remembered in $CLAUDERON_HOME/proxy-port: a
// daemon asked for a different one while sessions run refuses to start and
// names them; stopped sessions are only warned about (they would need to be
// created again). The new port is remembered once the check passes.
func checkProxyPort(ctx context.Context, home string, port int, store clauderon.SessionStore, log *slog.Logger) error {
	path := filepath.Join(home, "proxy-port")
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	old, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	if old != 0 && old != port {
		ss, err := store.ListSessions(ctx, clauderon.SessionFilter{Archived: true})
		if err != nil {
			return err
		}
		var running, others []string
		for _, s := range ss {
			switch {
			case s.Status == clauderon.StatusRunning:
				running = append(running, s.Name)
			case s.Status != clauderon.StatusFailed:
				others = append(others, s.Name)
			}
		}
		if len(running) > 0 {
			return clauderon.Errorf(clauderon.EINVALID,
				"the proxy port changed from %d to %d, but sessions %s run with the proxy on port %d: start the daemon with --listen on port %d (or set listen in config.toml), or stop those sessions first",
				old, port, strings.Join(running, ", "), old, old)
		}
		if len(others) > 0 {
			log.Warn("the proxy port changed; these sessions were made for the old port and cannot reach the proxy if started again: create them again",
				"old_port", old, "port", port, "sessions", strings.Join(others, ", "))
		}
	}
	if old == port {
		return nil
	}
	return writeFileAtomic(path, []byte(strconv.Itoa(port)+"\n"), 0o600)
}
