package main

import (
	"net/netip"
	"os"
	"path/filepath"
	"sync"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/session"
)

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
