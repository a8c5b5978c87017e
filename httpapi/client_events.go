package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"github.com/clauderon/clauderon"
)

// Events calls fn with each line of the daemon's session events: first a
// sync (Event.Sessions holds every session, archived ones too), then every
// change (created, updated, deleted, with Event.Session). It returns ctx's
// error when ctx ends, fn's error when fn fails, or a *clauderon.Error when
// the daemon ends the stream (for instance when it shuts down); a caller that
// wants to stay current reconnects and gets a fresh sync.
func (c *Client) Events(ctx context.Context, fn func(Event) error) error {
	resp, err := c.send(ctx, http.MethodGet, "/v1/events", nil, nil)
	if err != nil {
		return err
	}
	body := &streamBody{c: c, ctx: ctx, resp: resp}
	defer body.Close()
	dec := json.NewDecoder(body)
	for {
		var ev Event
		if err := dec.Decode(&ev); err != nil {
			if errors.Is(err, io.EOF) {
				return clauderon.Errorf(clauderon.EUNAVAILABLE, "the clauderon daemon ended the event stream")
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		if err := fn(ev); err != nil {
			return err
		}
	}
}
