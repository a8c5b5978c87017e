package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/build"
	"github.com/moby/moby/client"
)

// ImageExists reports whether ref is in the engine's local image store.
func (b *Backend) ImageExists(ctx context.Context, ref string) (bool, error) {
	_, err := b.cli.ImageInspect(ctx, ref)
	if cerrdefs.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, b.wrap(err, "inspect image "+ref)
	}
	return true, nil
}

// BuildImage builds an image from a tar build context holding a Dockerfile and
// tags it tag. It uses the engine's classic builder (Debian's 20.10 engine has
// no BuildKit) and never pulls: the Dockerfile must start FROM scratch or from
// a local image. The build's output goes to the debug log; a failed step is
// returned as an error with the builder's message.
func (b *Backend) BuildImage(ctx context.Context, tag string, buildContext io.Reader) error {
	res, err := b.cli.ImageBuild(ctx, buildContext, client.ImageBuildOptions{
		Tags:        []string{tag},
		Remove:      true,
		ForceRemove: true,
		Version:     build.BuilderV1,
	})
	if err != nil {
		return b.wrap(err, "build image "+tag)
	}
	defer res.Body.Close()
	dec := json.NewDecoder(res.Body)
	var tail strings.Builder
	for {
		var m struct {
			Stream      string `json:"stream"`
			Error       string `json:"error"`
			ErrorDetail struct {
				Message string `json:"message"`
			} `json:"errorDetail"`
		}
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return b.wrap(err, "read build output of "+tag)
		}
		if m.Stream != "" {
			tail.WriteString(m.Stream)
			b.log.Debug("build", "image", tag, "out", strings.TrimSpace(m.Stream))
		}
		if m.Error != "" {
			return fmt.Errorf("build image %s: %s\n%s", tag, m.Error, tail.String())
		}
	}
}

// RemoveOtherImages removes the local images labelled label=value other
// than keep, and reports how many went. An image a container still uses
// (a run of another binary, say) stays: the engine refuses, and that is no
// error. Images cached by content (the selftest's, one per binary) would
// otherwise pile up with every new build.
func (b *Backend) RemoveOtherImages(ctx context.Context, label, value, keep string) (int, error) {
	res, err := b.cli.ImageList(ctx, client.ImageListOptions{Filters: make(client.Filters).Add("label", label+"="+value)})
	if err != nil {
		return 0, b.wrap(err, "list images labelled "+label)
	}
	kept, err := b.cli.ImageInspect(ctx, keep)
	if err != nil {
		return 0, b.wrap(err, "inspect image "+keep)
	}
	removed := 0
	for _, img := range res.Items {
		if img.ID == kept.ID {
			continue
		}
		if _, err := b.cli.ImageRemove(ctx, img.ID, client.ImageRemoveOptions{}); err != nil {
			if cerrdefs.IsConflict(err) || cerrdefs.IsNotFound(err) {
				continue // in use, or removed meanwhile
			}
			return removed, b.wrap(err, "remove image "+img.ID)
		}
		removed++
	}
	return removed, nil
}
