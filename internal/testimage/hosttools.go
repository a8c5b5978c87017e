package testimage

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/clauderon/clauderon/docker"
)

// BuildWithHostTools returns an image of the test agent plus the host's own
// copies of the named programs (git, say) and the shared libraries they load,
// found with ldd. It is how tests get real tools into a container without a
// registry. The tag hashes every file, so a change on the host rebuilds it.
func BuildWithHostTools(ctx context.Context, b *docker.Backend, tools ...string) (string, error) {
	base, err := Build(ctx, b)
	if err != nil {
		return "", err
	}
	files := map[string]bool{}
	for _, t := range tools {
		p, err := exec.LookPath(t)
		if err != nil {
			return "", fmt.Errorf("host tool %s: %w", t, err)
		}
		if p, err = filepath.EvalSymlinks(p); err != nil {
			return "", err
		}
		files[p] = true
		out, err := exec.CommandContext(ctx, "ldd", p).Output()
		if err != nil {
			continue // static: nothing to add
		}
		for _, line := range strings.Split(string(out), "\n") {
			for _, f := range strings.Fields(line) {
				if strings.HasPrefix(f, "/") {
					files[f] = true
				}
			}
		}
	}
	paths := make([]string, 0, len(files))
	for f := range files {
		paths = append(paths, f)
	}
	sort.Strings(paths)

	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	h := sha256.New()
	dockerfile := "FROM " + base + "\nCOPY rootfs/ /\nENV PATH=/usr/local/bin:/usr/bin:/bin\n"
	h.Write([]byte(dockerfile))
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		// The loader and libraries must sit where the binary expects them
		// (their real paths); symlinked names such as /lib64 are resolved.
		fmt.Fprintf(h, "%s\x00", p)
		h.Write(data)
		if err := tw.WriteHeader(&tar.Header{Name: "rootfs" + p, Mode: 0o755, Size: int64(len(data)), ModTime: time.Unix(0, 0)}); err != nil {
			return "", err
		}
		if _, err := tw.Write(data); err != nil {
			return "", err
		}
		if real, err := filepath.EvalSymlinks(p); err == nil && real != p {
			if err := tw.WriteHeader(&tar.Header{Name: "rootfs" + real, Mode: 0o755, Size: int64(len(data)), ModTime: time.Unix(0, 0)}); err != nil {
				return "", err
			}
			if _, err := tw.Write(data); err != nil {
				return "", err
			}
		}
	}
	if err := tw.WriteHeader(&tar.Header{Name: "Dockerfile", Mode: 0o644, Size: int64(len(dockerfile)), ModTime: time.Unix(0, 0)}); err != nil {
		return "", err
	}
	if _, err := tw.Write([]byte(dockerfile)); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	ref := Repository + "-tools:" + hex.EncodeToString(h.Sum(nil))[:12]
	ok, err := b.ImageExists(ctx, ref)
	if err != nil || ok {
		return ref, err
	}
	return ref, b.BuildImage(ctx, ref, &buf)
}
