// Package gitrepo gives each session its own git worktree of the user's
// repository, on a branch of its own, so an agent's commits land in the user's
// repository without the agent ever touching the user's checkout.
//
// It drives the git command the user already has: worktrees are git's own
// feature and git's command line is its stable interface.
package gitrepo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/clauderon/clauderon"
)

// Repo is a git repository on the host.
type Repo struct {
	Top    string // the work tree's top directory
	GitDir string // the common .git directory (absolute), which worktrees share
}

// Open finds the repository containing dir.
func Open(ctx context.Context, dir string) (*Repo, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", dir, err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, clauderon.Errorf(clauderon.EINVALID, "repository %s is not a directory", abs)
	}
	out, err := git(ctx, abs, "rev-parse", "--show-toplevel", "--git-common-dir")
	if err != nil {
		return nil, clauderon.Errorf(clauderon.EINVALID, "%s is not a git repository (run 'git init' there, or pass another --repo)", abs)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		return nil, fmt.Errorf("git rev-parse in %s: unexpected output %q", abs, out)
	}
	r := &Repo{Top: lines[0], GitDir: lines[1]}
	if !filepath.IsAbs(r.GitDir) {
		r.GitDir = filepath.Join(abs, r.GitDir)
	}
	if r.GitDir, err = filepath.EvalSymlinks(r.GitDir); err != nil {
		return nil, fmt.Errorf("resolve git dir: %w", err)
	}
	if _, err := git(ctx, r.Top, "rev-parse", "--verify", "--quiet", "HEAD"); err != nil {
		return nil, clauderon.Errorf(clauderon.EINVALID, "repository %s has no commits yet: make a first commit so the session has something to branch from", r.Top)
	}
	return r, nil
}

// AddWorktree checks out branch at path, creating the branch from HEAD when it
// does not exist yet (a session re-created under an old name continues its
// branch rather than losing it).
func (r *Repo) AddWorktree(ctx context.Context, path, branch string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create worktree parent: %w", err)
	}
	args := []string{"worktree", "add", "-b", branch, path, "HEAD"}
	if _, err := git(ctx, r.Top, "rev-parse", "--verify", "--quiet", "refs/heads/"+branch); err == nil {
		args = []string{"worktree", "add", path, branch}
	}
	if _, err := git(ctx, r.Top, args...); err != nil {
		return fmt.Errorf("create worktree %s on branch %s: %w", path, branch, err)
	}
	return nil
}

// Dirty reports whether the worktree at path has uncommitted changes
// (untracked files included). A worktree that no longer exists is clean.
func Dirty(ctx context.Context, path string) (bool, error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	out, err := git(ctx, path, "status", "--porcelain")
	if err != nil {
		return false, fmt.Errorf("git status in %s: %w", path, err)
	}
	return strings.TrimSpace(out) != "", nil
}

// RemoveWorktree removes the worktree at path. The branch and its commits stay
// in the repository.
func (r *Repo) RemoveWorktree(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		if _, err := git(ctx, r.Top, "worktree", "remove", "--force", path); err != nil {
			return fmt.Errorf("remove worktree %s: %w", path, err)
		}
	}
	_, err := git(ctx, r.Top, "worktree", "prune")
	return err
}

// git runs git in dir and returns its standard output.
func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			return "", clauderon.Errorf(clauderon.EUNAVAILABLE, "git is not installed: install it with 'sudo apt-get install -y git'")
		}
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}
