package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/clauderon/clauderon/docker"
	"github.com/clauderon/clauderon/httpapi"
	"github.com/clauderon/clauderon/internal/fakeprovider"
	"github.com/clauderon/clauderon/internal/testimage"
	"github.com/clauderon/clauderon/internal/testutil"
)

// Canaries: real-looking credentials that must never show up anywhere but on
// the wire to the fake provider.
const (
	canaryOAuth  = "sk-ant-oat01-CANARY-0auth-t0ken-e2e-must-never-leak-0123456789"
	canaryAPIKey = "sk-ant-api03-CANARY-ap1-key-e2e-must-never-leak-0123456789abcd"
)

var (
	binPath  string // the clauderon binary under test
	buildErr error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "clauderon-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "clauderon")
	cmd := exec.Command("go", "build", "-o", binPath, "../cmd/clauderon")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		buildErr = fmt.Errorf("build clauderon: %v\n%s", err, out)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// env is one test's world: a docker backend (for building and inspecting),
// the test image, a fake provider and a clauderon home.
type env struct {
	t        testing.TB
	docker   *docker.Backend
	image    string
	provider *fakeprovider.Provider
	caFile   string
	home     string
	// proxyAddr stays the same across daemon restarts, as the default port
	// does for users: running containers keep the proxy URL they were given.
	proxyAddr string
	// daemonArgs are extra flags for the daemon (more --resolve, say).
	daemonArgs []string
}

var (
	imageOnce sync.Once
	imageRef  string
	imageErr  error
)

// newEnv needs Docker: it skips without it unless CLAUDERON_REQUIRE_DOCKER is
// set (as `make test` does), where a missing engine fails the test.
func newEnv(t testing.TB) *env {
	t.Helper()
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	ctx := context.Background()
	dk, err := docker.New(ctx, docker.Options{})
	if err != nil {
		if os.Getenv("CLAUDERON_REQUIRE_DOCKER") != "" {
			t.Fatalf("Docker is required (CLAUDERON_REQUIRE_DOCKER is set): %v", err)
		}
		t.Skipf("Docker is not available (%v): run scripts/ensure-docker.sh, or `make test`, which starts it", err)
	}
	t.Cleanup(func() { dk.Close() })
	imageOnce.Do(func() { imageRef, imageErr = testimage.Build(ctx, dk) })
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	p := fakeprovider.MustStart(t, fakeprovider.Config{})
	caFile := filepath.Join(t.TempDir(), "provider-ca.pem")
	if err := os.WriteFile(caFile, p.CAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	// Unix socket paths are limited to 108 bytes: keep the home short.
	home, err := os.MkdirTemp("", "ch-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	return &env{t: t, docker: dk, image: imageRef, provider: p, caFile: caFile, home: home, proxyAddr: freeAddr(t)}
}

// claim removes containers left by an earlier, interrupted run for these
// session names, and removes them again when the test ends, pass or fail.
func (e *env) claim(names ...string) {
	rm := func() {
		for _, n := range names {
			_ = exec.Command("docker", "rm", "-f", "clauderon-"+n).Run()
		}
	}
	rm()
	e.t.Cleanup(rm)
}

// freeAddr finds a loopback port nobody uses right now.
func freeAddr(t testing.TB) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// daemon is a running `clauderon daemon` process.
type daemon struct {
	cmd    *exec.Cmd
	output *testutil.SyncBuffer
	done   chan error
}

// daemonEnv is the daemon's environment: the real credentials live here and
// nowhere else.
func (e *env) daemonEnv(creds ...string) []string {
	var out []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "CLAUDE_CODE_OAUTH_TOKEN", "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "CODEX_API_KEY", "GEMINI_API_KEY", "GITHUB_TOKEN", "GH_TOKEN":
			continue
		}
		out = append(out, kv)
	}
	return append(out, creds...)
}

// startDaemon runs the daemon against the fake provider and waits until its
// API answers.
func (e *env) startDaemon(creds ...string) *daemon {
	e.t.Helper()
	return e.startDaemonBin(binPath, nil, creds...)
}

// startDaemonBin is startDaemon with another binary and extra arguments.
func (e *env) startDaemonBin(bin string, args []string, creds ...string) *daemon {
	e.t.Helper()
	if len(creds) == 0 {
		creds = []string{"CLAUDE_CODE_OAUTH_TOKEN=" + canaryOAuth}
	}
	cmd := exec.Command(bin, "daemon", "--home", e.home, "--listen", e.proxyAddr,
		"--resolve", "api.anthropic.com:443="+e.provider.Addr(), "--upstream-ca", e.caFile, "--log-level", "debug")
	cmd.Args = append(append(cmd.Args, args...), e.daemonArgs...)
	cmd.Env = e.daemonEnv(creds...)
	d := &daemon{cmd: cmd, output: &testutil.SyncBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = d.output, d.output
	if err := cmd.Start(); err != nil {
		e.t.Fatal(err)
	}
	go func() { d.done <- cmd.Wait() }()
	e.t.Cleanup(func() {
		d.stop(e.t)
		if out := d.output.String(); strings.Contains(out, "CANARY") {
			e.t.Errorf("a real credential reached the daemon's log:\n%s", out)
		}
	})
	client := httpapi.NewClient(filepath.Join(e.home, "clauderon.sock"))
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := client.Health(ctx)
		cancel()
		if err == nil {
			return d
		}
		select {
		case err := <-d.done:
			e.t.Fatalf("daemon exited: %v\n%s", err, d.output.String())
		default:
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("daemon did not answer: %v\n%s", err, d.output.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop ends the daemon gracefully (SIGTERM) and waits.
func (d *daemon) stop(t testing.TB) {
	if d.cmd.ProcessState != nil {
		return
	}
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
		t.Errorf("daemon ignored SIGTERM for 30 s:\n%s", d.output.String())
	}
}

// kill ends the daemon the hard way, as a crash would.
func (d *daemon) kill() {
	_ = d.cmd.Process.Kill()
	<-d.done
}

// result of one CLI run.
type result struct {
	stdout, stderr string
	code           int
}

// clauderon runs the CLI against this env's home and returns what it printed.
func (e *env) clauderon(args ...string) result {
	e.t.Helper()
	return e.clauderonCtx(context.Background(), args...)
}

func (e *env) clauderonCtx(ctx context.Context, args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, append([]string{"--home", e.home}, args...)...)
	cmd.Env = e.daemonEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		e.t.Fatalf("clauderon %v: %v", args, err)
	}
	for _, s := range []string{r.stdout, r.stderr} {
		if strings.Contains(s, "CANARY") {
			e.t.Errorf("a real credential reached the CLI's output of %v:\n%s", args, s)
		}
	}
	return r
}

// must runs the CLI and fails the test unless it exits 0.
func (e *env) must(args ...string) string {
	e.t.Helper()
	r := e.clauderon(args...)
	if r.code != 0 {
		e.t.Fatalf("clauderon %v: exit %d\nstdout: %s\nstderr: %s", args, r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// dockerCLI runs the docker command line (for inspecting what the backend
// made, the way a user would look).
func dockerCLI(t testing.TB, args ...string) []byte {
	t.Helper()
	out, err := exec.Command("docker", args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("docker %v: %v\n%s", args, err, ee.Stderr)
		}
		t.Fatalf("docker %v: %v", args, err)
	}
	return out
}
