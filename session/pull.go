package session

import (
	"context"
	"fmt"
	"os"

	"github.com/clauderon/clauderon"
)

// bundlePuller is the optional part of Worktrees that pull needs.
type bundlePuller interface {
	// PullBundle fast-forwards the worktree at path to branch as it is in
	// the git bundle file, and returns the new commit.
	PullBundle(ctx context.Context, path, bundle, branch string) (string, error)
}

// Pull brings the commits a session made in its container back into the
// user's repository: the session branch moves to the container's commit
// (fast-forward only; the session's worktree follows). Backends whose
// containers work in the worktree itself (Docker) have nothing to pull, and
// say so.
func (m *Manager) Pull(ctx context.Context, name string) (*clauderon.PullResult, error) {
	defer m.lock(name)()
	s, b, err := m.container(ctx, name)
	if err != nil {
		return nil, err
	}
	if s.Worktree == "" || s.Branch == "" {
		return nil, clauderon.Errorf(clauderon.EINVALID, "session %q has no repository (it was created without --repo): there is nothing to pull", name)
	}
	res := &clauderon.PullResult{Session: name, Branch: s.Branch}
	ex, ok := b.(clauderon.WorkspaceExporter)
	if !ok {
		res.Message = fmt.Sprintf("session %s runs on %s in a worktree of your repository: its commits are on branch %s already, nothing to pull", name, b.Name(), s.Branch)
		return res, nil
	}
	puller, ok := m.cfg.Worktrees.(bundlePuller)
	if !ok {
		return nil, clauderon.Errorf(clauderon.EINVALID, "this daemon cannot pull commits into repositories")
	}
	f, err := os.CreateTemp("", "clauderon-pull-*.bundle")
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	err = ex.ExportWorkspace(ctx, s.ContainerID, s.Branch, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, gone(name, err)
	}
	commit, err := puller.PullBundle(ctx, s.Worktree, f.Name(), s.Branch)
	if err != nil {
		return nil, err
	}
	res.Commit = commit
	res.Message = fmt.Sprintf("branch %s of %s is at %s (worktree %s)", s.Branch, s.Repo, shortCommit(commit), s.Worktree)
	m.log.Info("session pulled", "session", name, "commit", commit)
	return res, nil
}

func shortCommit(c string) string {
	if len(c) > 12 {
		return c[:12]
	}
	return c
}
