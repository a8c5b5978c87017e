package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clauderon/clauderon/internal/testimage"
)

// TestWorktreeSession: a commit made inside the session's container lands in
// the user's repository on the session's branch, and delete refuses to drop
// uncommitted work without --force.
func TestWorktreeSession(t *testing.T) {
	e := newEnv(t)
	e.claim("w1")
	img, err := testimage.BuildWithHostTools(context.Background(), e.docker, "git")
	if err != nil {
		t.Fatal(err)
	}
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(repo, "README"), []byte("hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "add", ".")
	git(t, repo, "-c", "user.email=u@example.com", "-c", "user.name=user", "commit", "-qm", "first")

	e.startDaemon()
	e.must("create", "--name", "w1", "--repo", repo, "--image", img)
	out := e.must("status", "w1")
	if !strings.Contains(out, "clauderon/w1") || !strings.Contains(out, filepath.Join(e.home, "worktrees", "w1")) {
		t.Fatalf("status does not show the worktree and branch:\n%s", out)
	}

	// The agent, inside its container, works on /workspace and commits.
	exec1, err := exec.Command("docker", "exec", "clauderon-w1", "claude", "steps",
		"cat", "/workspace/README", "--",
		"write", "/workspace/agent.txt", "written by the agent", "--",
		"run", "git", "-C", "/workspace", "add", "agent.txt", "--",
		"run", "git", "-C", "/workspace", "-c", "user.email=agent@example.com", "-c", "user.name=agent", "commit", "-qm", "agent commit").CombinedOutput()
	if err != nil || !strings.Contains(string(exec1), "hello") {
		t.Fatalf("agent steps in the container: %v\n%s", err, exec1)
	}
	if got := git(t, repo, "log", "-1", "--format=%s", "clauderon/w1"); got != "agent commit" {
		t.Fatalf("branch clauderon/w1 in the user's repository: %q", got)
	}
	if got := git(t, repo, "show", "clauderon/w1:agent.txt"); got != "written by the agent" {
		t.Fatalf("committed file: %q", got)
	}
	if got := git(t, repo, "status", "--porcelain"); got != "" {
		t.Fatalf("the user's own checkout changed: %q", got)
	}

	// Uncommitted work is not dropped without --force.
	dockerCLI(t, "exec", "clauderon-w1", "claude", "write", "/workspace/unsaved.txt", "draft")
	r := e.clauderon("delete", "w1")
	if r.code == 0 || !strings.Contains(r.stderr, "uncommitted changes") || !strings.Contains(r.stderr, "--force") {
		t.Fatalf("delete with uncommitted work: %d %q", r.code, r.stderr)
	}
	if _, err := os.Stat(filepath.Join(e.home, "worktrees", "w1", "unsaved.txt")); err != nil {
		t.Fatalf("the refused delete lost work: %v", err)
	}
	e.must("delete", "--force", "w1")
	if _, err := os.Stat(filepath.Join(e.home, "worktrees", "w1")); !os.IsNotExist(err) {
		t.Fatalf("worktree still there after delete: %v", err)
	}
	if got := git(t, repo, "log", "-1", "--format=%s", "clauderon/w1"); got != "agent commit" {
		t.Fatalf("delete lost the branch: %q", got)
	}
}

// TestProxyEnvManualContainer follows the seed's "Manual Container Test": a
// container started by hand with proxy-env's arguments reaches the provider
// through the proxy, the token shows in list, and delete revokes it.
func TestProxyEnvManualContainer(t *testing.T) {
	e := newEnv(t)
	e.startDaemon()
	args := strings.Fields(e.must("proxy-env", "--name", "by-hand"))
	if len(args) < 10 {
		t.Fatalf("proxy-env printed %q", args)
	}
	if out := e.must("list"); !strings.Contains(out, "by-hand") || !strings.Contains(out, "manual") {
		t.Fatalf("token not listed:\n%s", out)
	}
	run := func() (string, error) {
		cmdArgs := append([]string{"run", "--rm"}, args...)
		cmdArgs = append(cmdArgs, e.image, "claude", "--print", "manual hello")
		out, err := exec.Command("docker", cmdArgs...).CombinedOutput()
		return string(out), err
	}
	out, err := run()
	if err != nil || !strings.Contains(out, "fake-provider says: manual hello") {
		t.Fatalf("manual container: %v\n%s", err, out)
	}
	if strings.Contains(out, "CANARY") || lastModelCall(t, e.provider).Authorization != "Bearer "+canaryOAuth {
		t.Fatalf("injection: %q", lastModelCall(t, e.provider).Authorization)
	}
	e.must("delete", "by-hand")
	out, err = run()
	if err == nil || !strings.Contains(out, "Proxy Authentication Required") {
		t.Fatalf("revoked token still works: %v\n%s", err, out)
	}
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}
