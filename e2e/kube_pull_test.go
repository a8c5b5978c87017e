package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPullDockerSession: a Docker session works in a worktree of the user's
// repository, so `clauderon pull` has nothing to do and says so; a session
// without a repository cannot be pulled.
func TestPullDockerSession(t *testing.T) {
	e := newEnv(t)
	e.claim("dp1", "dp2")
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(repo, "README"), []byte("hi\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	git(t, repo, "add", ".")
	git(t, repo, "-c", "user.email=u@example.com", "-c", "user.name=user", "commit", "-qm", "first")
	e.startDaemon()
	e.must("create", "--name", "dp1", "--repo", repo, "--image", e.image)
	if out := e.must("pull", "dp1"); !strings.Contains(out, "nothing to pull") || !strings.Contains(out, "clauderon/dp1") {
		t.Fatalf("pull of a docker session: %q", out)
	}
	e.must("create", "--name", "dp2", "--image", e.image)
	if r := e.clauderon("pull", "dp2"); r.code == 0 || !strings.Contains(r.stderr, "no repository") {
		t.Fatalf("pull without a repository: %d %q", r.code, r.stderr)
	}
	e.must("delete", "--force", "dp1")
	e.must("delete", "dp2")
}
