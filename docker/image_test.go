package docker_test

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"testing"

	"github.com/clauderon/clauderon/docker"
)

// RemoveOtherImages removes the images of one label other than the one
// kept, and leaves images of other labels alone.
func TestRemoveOtherImages(t *testing.T) {
	t.Parallel()
	b := mustBackend(t)
	ctx := testContext(t)
	id := make([]byte, 6)
	rand.Read(id)
	value := hex.EncodeToString(id)
	build := func(ref, label, content string) {
		t.Helper()
		buildCtx, err := docker.BuildContext(
			docker.ContextFile{Name: "Dockerfile", Mode: 0o644, Data: []byte("FROM scratch\nCOPY f /f\nLABEL " + label + "=" + value + "\n")},
			docker.ContextFile{Name: "f", Mode: 0o644, Data: []byte(content)},
		)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.BuildImage(ctx, ref, bytes.NewReader(buildCtx)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { b.RemoveImage(ctx, ref) })
	}
	old1, old2, keep, other := "clauderon-prune-test:old1-"+value, "clauderon-prune-test:old2-"+value,
		"clauderon-prune-test:keep-"+value, "clauderon-prune-test:other-"+value
	build(old1, "clauderon.prune-test", "1")
	build(old2, "clauderon.prune-test", "2")
	build(keep, "clauderon.prune-test", "3")
	build(other, "clauderon.prune-other", "4")

	n, err := b.RemoveOtherImages(ctx, "clauderon.prune-test", value, keep)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("removed %d images, want 2", n)
	}
	for ref, want := range map[string]bool{old1: false, old2: false, keep: true, other: true} {
		if ok, err := b.ImageExists(ctx, ref); err != nil || ok != want {
			t.Errorf("%s exists = %t (%v), want %t", ref, ok, err, want)
		}
	}
}
