package httpapi

import (
	"context"
	"net/http"

	"github.com/clauderon/clauderon"
)

// Puller is the optional part of the session service behind
// POST /v1/sessions/{name}/pull.
type Puller interface {
	Pull(ctx context.Context, name string) (*clauderon.PullResult, error)
}

func (s *Server) handlePull(w http.ResponseWriter, r *http.Request) error {
	p, ok := s.cfg.Sessions.(Puller)
	if !ok {
		return clauderon.Errorf(clauderon.EINVALID, "this daemon cannot pull session commits")
	}
	res, err := p.Pull(r.Context(), r.PathValue("name"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// Pull brings a session's commits into the user's repository.
func (c *Client) Pull(ctx context.Context, name string) (*clauderon.PullResult, error) {
	var res clauderon.PullResult
	if err := c.call(ctx, http.MethodPost, sessionPath(name, "pull"), nil, nil, &res); err != nil {
		return nil, err
	}
	return &res, nil
}
