package gitrepo

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clauderon/clauderon"
)

// TestPullBundle: a bundle with the session's new commit fast-forwards the
// worktree's branch; a branch that moved on its own is a conflict that
// changes nothing.
func TestPullBundle(t *testing.T) {
	ctx := context.Background()
	dir := mustRepo(t)
	wt := filepath.Join(t.TempDir(), "wt")
	if _, _, err := (Worktrees{}).Add(ctx, dir, wt, "clauderon/s"); err != nil {
		t.Fatal(err)
	}
	// "The pod": a clone that commits on the session branch and bundles it.
	pod := t.TempDir()
	run(t, pod, "git", "clone", "-q", "-b", "clauderon/s", dir, ".")
	if err := os.WriteFile(filepath.Join(pod, "agent.txt"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, pod, "git", "add", ".")
	run(t, pod, "git", "-c", "user.email=a@a", "-c", "user.name=a", "commit", "-qm", "agent")
	bundle := filepath.Join(t.TempDir(), "b.bundle")
	run(t, pod, "git", "bundle", "create", "-q", bundle, "refs/heads/clauderon/s")

	commit, err := (Worktrees{}).PullBundle(ctx, wt, bundle, "clauderon/s")
	if err != nil {
		t.Fatal(err)
	}
	if want := strings.TrimSpace(run(t, pod, "git", "rev-parse", "HEAD")); commit != want {
		t.Fatalf("pulled %s, want %s", commit, want)
	}
	if got := strings.TrimSpace(run(t, dir, "git", "log", "-1", "--format=%s", "clauderon/s")); got != "agent" {
		t.Fatalf("branch in the repository: %q", got)
	}

	// The branch moves on the host; the old bundle cannot fast-forward it.
	run(t, wt, "git", "-c", "user.email=u@u", "-c", "user.name=u", "commit", "-q", "--allow-empty", "-m", "host")
	run(t, pod, "git", "-c", "user.email=a@a", "-c", "user.name=a", "commit", "-q", "--allow-empty", "-m", "agent 2")
	run(t, pod, "git", "bundle", "create", "-q", bundle, "refs/heads/clauderon/s")
	_, err = (Worktrees{}).PullBundle(ctx, wt, bundle, "clauderon/s")
	if clauderon.ErrorCode(err) != clauderon.ECONFLICT {
		t.Fatalf("diverged pull: %v", err)
	}
	if got := strings.TrimSpace(run(t, dir, "git", "log", "-1", "--format=%s", "clauderon/s")); got != "host" {
		t.Fatalf("a failed pull changed the branch: %q", got)
	}
}
