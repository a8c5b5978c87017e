// Package testimage builds the image tests run sessions in: FROM scratch with
// the static test agent (internal/testagent) installed as claude, codex and
// gemini. Nothing is pulled; the image is built through the engine's classic
// builder and tagged with a hash of its content, so an unchanged agent reuses
// the image and a changed one gets a new tag.
package testimage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/clauderon/clauderon/docker"
)

// Repository is the image name; the tag is a content hash.
const Repository = "clauderon-testagent"

// AgentNames are the names the test agent is installed under in the image.
var AgentNames = []string{"claude", "codex", "gemini"}

const dockerfile = `FROM scratch
COPY claude codex gemini /usr/local/bin/
ENV PATH=/usr/local/bin
LABEL clauderon.testagent=true
`

// built memoizes Build per process: building the agent costs a go build.
var built struct {
	sync.Mutex
	ref string
}

// Build returns the reference of the test agent image, building the agent
// and the image when they changed. Safe for concurrent use.
func Build(ctx context.Context, b *docker.Backend) (string, error) {
	built.Lock()
	defer built.Unlock()
	if built.ref != "" {
		if ok, err := b.ImageExists(ctx, built.ref); err != nil || ok {
			return built.ref, err
		}
	}
	dir, err := os.MkdirTemp("", "clauderon-testimage-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	bin, err := BuildAgent(ctx, dir)
	if err != nil {
		return "", err
	}
	agent, err := os.ReadFile(bin)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(append([]byte(dockerfile), agent...))
	ref := Repository + ":" + hex.EncodeToString(sum[:])[:12]
	ok, err := b.ImageExists(ctx, ref)
	if err != nil {
		return "", err
	}
	if !ok {
		buildCtx, err := contextTar(agent)
		if err != nil {
			return "", err
		}
		if err := b.BuildImage(ctx, ref, bytes.NewReader(buildCtx)); err != nil {
			return "", err
		}
	}
	built.ref = ref
	return ref, nil
}

// MustBuild is Build for tests: it fails tb on error.
func MustBuild(tb testing.TB, b *docker.Backend) string {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ref, err := Build(ctx, b)
	if err != nil {
		tb.Fatalf("build the test agent image: %v", err)
	}
	return ref
}

// BuildAgent compiles the test agent, static and reproducible (CGO off,
// -trimpath, no VCS stamp, stripped), to dir/claude and returns that path.
func BuildAgent(ctx context.Context, dir string) (string, error) {
	out := filepath.Join(dir, "claude")
	cmd := exec.CommandContext(ctx, goTool(), "build", "-trimpath", "-buildvcs=false", "-ldflags=-s -w",
		"-o", out, "github.com/clauderon/clauderon/internal/testagent")
	cmd.Dir = sourceDir()
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build internal/testagent: %v\n%s", err, msg)
	}
	return out, nil
}

// goTool is the go command of the toolchain running the tests, falling back
// to the one on PATH.
func goTool() string {
	p := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(p); err == nil {
		return p
	}
	return "go"
}

// sourceDir is this package's directory when the source is on disk (so go
// build finds the module whatever the caller's working directory), else "".
func sourceDir() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	dir := filepath.Dir(file)
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}

// contextTar is the build context: the Dockerfile and the agent under each
// of its names, executable by anyone.
func contextTar(agent []byte) ([]byte, error) {
	files := []docker.ContextFile{{Name: "Dockerfile", Mode: 0o644, Data: []byte(dockerfile)}}
	for _, n := range AgentNames {
		files = append(files, docker.ContextFile{Name: n, Mode: 0o755, Data: agent})
	}
	return docker.BuildContext(files...)
}
