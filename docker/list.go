package docker

import (
	"context"
	"strings"

	"github.com/clauderon/clauderon"
	"github.com/moby/moby/client"
)

// Container is a clauderon container as List finds it.
type Container struct {
	ID      string
	Name    string // without the leading "/"
	Session string // the clauderon.session label
	Labels  map[string]string
	Running bool
	State   string // Docker's word: created, running, exited, dead, ...
}

// List returns every container labelled clauderon.managed=true, running or
// not, for the daemon's reconcile: a session whose container is missing here
// is gone. Exit codes are not in the listing; Inspect has them.
func (b *Backend) List(ctx context.Context) ([]Container, error) {
	res, err := b.cli.ContainerList(ctx, client.ContainerListOptions{
		All:     true,
		Filters: make(client.Filters).Add("label", clauderon.LabelManaged+"=true"),
	})
	if err != nil {
		return nil, b.wrap(err, "list containers")
	}
	out := make([]Container, 0, len(res.Items))
	for _, s := range res.Items {
		c := Container{
			ID:      s.ID,
			Labels:  s.Labels,
			Session: s.Labels[clauderon.LabelSession],
			State:   string(s.State),
			Running: s.State == "running" || s.State == "restarting" || s.State == "paused",
		}
		if len(s.Names) > 0 {
			c.Name = strings.TrimPrefix(s.Names[0], "/")
		}
		out = append(out, c)
	}
	return out, nil
}
