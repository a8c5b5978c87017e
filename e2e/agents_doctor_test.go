package e2e

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// doctorRun runs `clauderon doctor` with extra environment (a credential)
// and returns its output and exit code.
func (e *env) doctorRun(t *testing.T, extraEnv []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, append([]string{"--home", e.home, "doctor"}, args...)...)
	cmd.Env = e.daemonEnv(extraEnv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	if leaked(out.String()) != "" {
		t.Fatalf("doctor printed a real credential:\n%s", out.String())
	}
	return out.String(), code
}

// wantLine fails unless out has a line starting with status and check that
// contains each of want.
func wantLine(t *testing.T, out, status, check string, want ...string) {
	t.Helper()
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != status || f[1] != check {
			continue
		}
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(l, w)
		}
		if ok {
			return
		}
	}
	t.Fatalf("doctor printed no %q %q line with %q:\n%s", status, check, want, out)
}

// TestDoctor: every check passes against a running daemon and the real
// Claude Code and Gemini CLI images (their TLS stacks trust the CA through
// the proxy); an image that cannot make the request fails the image check;
// without the daemon, doctor says to start it and exits non-zero.
func TestDoctor(t *testing.T) {
	t.Parallel()
	claude, gemini := agentImage(t, "claude"), agentImage(t, "gemini")
	e := newEnv(t)

	// A fresh home: no CA yet, no daemon, no credential.
	out, code := e.doctorRun(t, nil)
	if code == 0 {
		t.Fatalf("doctor passed with no CA, credential or daemon:\n%s", out)
	}
	wantLine(t, out, "ok", "docker", "engine reachable")
	wantLine(t, out, "FAIL", "ca", "does not exist", "start the daemon once")
	wantLine(t, out, "FAIL", "credential", "no credential is set")
	wantLine(t, out, "FAIL", "proxy", "daemon not running: start it")

	e.provider.Close()
	e = newAgentEnv(t, claudeOAuth)
	cred := []string{claudeOAuth.hostEnv}
	out, code = e.doctorRun(t, cred, "--image", claude)
	if code != 0 {
		t.Fatalf("doctor failed against a working setup (exit %d):\n%s", code, out)
	}
	wantLine(t, out, "ok", "ca", "key private")
	wantLine(t, out, "ok", "credential", "anthropic", "from env:CLAUDE_CODE_OAUTH_TOKEN")
	wantLine(t, out, "ok", "proxy", "reachable from a container", "api.anthropic.com verified")
	wantLine(t, out, "ok", "image", claude, "trusted by")
	t.Logf("doctor:\n%s", out)

	out, code = e.doctorRun(t, cred, "--image", gemini)
	if code != 0 {
		t.Fatalf("doctor --image %s: exit %d:\n%s", gemini, code, out)
	}
	wantLine(t, out, "ok", "image", gemini, "trusted by node (NODE_EXTRA_CA_CERTS)")

	// The stand-in agent's image is FROM scratch: no shell, no client.
	out, code = e.doctorRun(t, cred, "--image", e.image)
	if code == 0 {
		t.Fatalf("doctor passed an image that cannot make a request:\n%s", out)
	}
	wantLine(t, out, "FAIL", "image", e.image, "fix:")

	// The token doctor minted for each probe is gone again.
	if list := e.must("list"); strings.Contains(list, "doctor-") {
		t.Fatalf("doctor left its tokens behind:\n%s", list)
	}
}
