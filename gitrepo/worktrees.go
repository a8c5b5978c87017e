package gitrepo

import "context"

// Worktrees adapts this package to the session manager's interface.
type Worktrees struct{}

// Add creates the worktree and returns the repository's top and .git dirs.
func (Worktrees) Add(ctx context.Context, repoDir, path, branch string) (string, string, error) {
	r, err := Open(ctx, repoDir)
	if err != nil {
		return "", "", err
	}
	if err := r.AddWorktree(ctx, path, branch); err != nil {
		return "", "", err
	}
	return r.Top, r.GitDir, nil
}

// Dirty reports uncommitted changes.
func (Worktrees) Dirty(ctx context.Context, path string) (bool, error) { return Dirty(ctx, path) }

// Remove deletes the worktree; the branch stays.
func (Worktrees) Remove(ctx context.Context, repoDir, path string) error {
	r, err := Open(ctx, repoDir)
	if err != nil {
		return err
	}
	return r.RemoveWorktree(ctx, path)
}
