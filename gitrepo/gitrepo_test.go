package gitrepo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/clauderon/clauderon"
)

// mustRepo makes a repository with one commit.
func mustRepo(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	run(tb, dir, "git", "init", "-q", "-b", "main")
	if err := os.WriteFile(filepath.Join(dir, "README"), []byte("hi\n"), 0o644); err != nil {
		tb.Fatal(err)
	}
	run(tb, dir, "git", "add", ".")
	run(tb, dir, "git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "first")
	return dir
}

func run(tb testing.TB, dir string, name string, args ...string) string {
	tb.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		tb.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func TestWorktreeLifecycle(t *testing.T) {
	ctx := context.Background()
	dir := mustRepo(t)
	r, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	wt := filepath.Join(t.TempDir(), "worktrees", "s1")
	if err := r.AddWorktree(ctx, wt, "clauderon/s1"); err != nil {
		t.Fatal(err)
	}
	if dirty, err := Dirty(ctx, wt); err != nil || dirty {
		t.Fatalf("fresh worktree dirty=%v err=%v", dirty, err)
	}
	if err := os.WriteFile(filepath.Join(wt, "new.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if dirty, _ := Dirty(ctx, wt); !dirty {
		t.Fatal("untracked file not reported as dirty")
	}
	run(t, wt, "git", "add", ".")
	run(t, wt, "git", "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "agent work")
	// The commit is visible from the user's repository on the session branch.
	if out := run(t, dir, "git", "log", "--format=%s", "-1", "clauderon/s1"); out != "agent work\n" {
		t.Fatalf("branch head in repo = %q", out)
	}
	if err := r.RemoveWorktree(ctx, wt); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(wt); !os.IsNotExist(err) {
		t.Fatalf("worktree still there: %v", err)
	}
	// Re-creating under the same name continues the branch.
	if err := r.AddWorktree(ctx, wt, "clauderon/s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(wt, "new.txt")); err != nil {
		t.Fatalf("branch not continued: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	empty := t.TempDir()
	if _, err := Open(ctx, empty); clauderon.ErrorCode(err) != clauderon.EINVALID {
		t.Fatalf("non-repo: %v", err)
	}
	run(t, empty, "git", "init", "-q")
	if _, err := Open(ctx, empty); clauderon.ErrorCode(err) != clauderon.EINVALID {
		t.Fatalf("repo without commits: %v", err)
	}
	if _, err := Open(ctx, filepath.Join(empty, "missing")); clauderon.ErrorCode(err) != clauderon.EINVALID {
		t.Fatalf("missing dir: %v", err)
	}
}
