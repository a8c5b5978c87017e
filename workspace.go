package clauderon

import (
	"context"
	"io"
)

// WorkspaceExporter is a Backend whose sessions keep their workspace away
// from the host (Kubernetes: in a volume claim). It hands the session's
// commits back as a git bundle, for `clauderon pull`. Backends that mount
// the user's worktree (Docker) need not implement it: their commits are in
// the user's repository already.
type WorkspaceExporter interface {
	// ExportWorkspace writes a git bundle of branch, as committed in the
	// container id's workspace, to w.
	ExportWorkspace(ctx context.Context, id, branch string, w io.Writer) error
}

// PullResult is what `clauderon pull` reports.
type PullResult struct {
	Session string `json:"session"`
	Branch  string `json:"branch,omitempty"`
	// Commit is the branch's commit after the pull ("" when nothing was
	// pulled).
	Commit string `json:"commit,omitempty"`
	// Message says what happened, for people.
	Message string `json:"message"`
}
