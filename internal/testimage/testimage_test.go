package testimage_test

import (
	"context"
	"os"
	"regexp"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/docker"
	"github.com/clauderon/clauderon/internal/testimage"
)

func TestBuildIsContentTaggedAndReused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	b, err := docker.New(ctx, docker.Options{})
	if err != nil {
		if clauderon.ErrorCode(err) == clauderon.EUNAVAILABLE && os.Getenv("CLAUDERON_REQUIRE_DOCKER") == "" {
			t.Skipf("Docker is not available (%v): run scripts/ensure-docker.sh first, or `make test`, which starts it and never skips", err)
		}
		t.Fatal(err)
	}
	defer b.Close()
	ref, err := testimage.Build(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^clauderon-testagent:[0-9a-f]{12}$`).MatchString(ref) {
		t.Fatalf("ref %q is not the repository with a content hash tag", ref)
	}
	if ok, err := b.ImageExists(ctx, ref); err != nil || !ok {
		t.Fatalf("image %s exists: %t, %v", ref, ok, err)
	}
	again, err := testimage.Build(ctx, b)
	if err != nil || again != ref {
		t.Fatalf("second Build: %q, %v; want %q", again, err, ref)
	}
}

// TestBuildAgentIsReproducible is what makes the tag a content hash: the same
// source builds the same bytes.
func TestBuildAgentIsReproducible(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var bins [2][]byte
	for i := range bins {
		path, err := testimage.BuildAgent(ctx, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		if bins[i], err = os.ReadFile(path); err != nil {
			t.Fatal(err)
		}
	}
	if string(bins[0]) != string(bins[1]) {
		t.Fatal("two builds of the test agent differ: the image tag would change on every run")
	}
}
