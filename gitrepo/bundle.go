package gitrepo

import (
	"context"
	"strings"

	"github.com/clauderon/clauderon"
)

// PullBundle fast-forwards the worktree at path, which has branch checked
// out, to that branch as it is in the git bundle file, and returns the new
// commit. A branch that moved on its own (commits the bundle lacks) is
// ECONFLICT: nothing is changed, and the user merges by hand.
func PullBundle(ctx context.Context, path, bundle, branch string) (string, error) {
	if _, err := git(ctx, path, "fetch", "-q", bundle, "refs/heads/"+branch); err != nil {
		return "", err
	}
	if _, err := git(ctx, path, "merge", "--ff-only", "-q", "FETCH_HEAD"); err != nil {
		return "", clauderon.Errorf(clauderon.ECONFLICT, "cannot fast-forward %s in %s to the session's commits (%v): merge FETCH_HEAD there by hand", branch, path, err)
	}
	out, err := git(ctx, path, "rev-parse", "HEAD")
	return strings.TrimSpace(out), err
}

// PullBundle is PullBundle for the session manager.
func (Worktrees) PullBundle(ctx context.Context, path, bundle, branch string) (string, error) {
	return PullBundle(ctx, path, bundle, branch)
}
