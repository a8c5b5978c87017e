package clauderon_test

import (
	"go/build"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/clauderon/clauderon"

// TestPackageBoundaries keeps the layout honest: the domain imports only the
// standard library, rooms import the domain but not each other, and only
// cmd/ (and tests) wire rooms together. The third-party SDKs each have one
// home.
func TestPackageBoundaries(t *testing.T) {
	// Rooms a room may import, beyond the domain.
	allowed := map[string][]string{
		"cli":     {"httpapi"}, // none today; the CLI takes a Client interface
		"httpapi": {"session"}, // the events endpoint relays session.Event
		"tui":     {"httpapi"}, // the TUI is a client of the daemon's API
	}
	// Third-party modules and the only rooms that may import them.
	owners := map[string][]string{
		"github.com/moby/moby": {"docker", "internal/testimage"},
		"k8s.io/":              {"kube"},
		"modernc.org/sqlite":   {"sqlite"},
	}
	err := filepath.WalkDir(".", func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		if path != "." && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(path, 0)
		if err != nil {
			return nil // no Go files here
		}
		room := filepath.ToSlash(path)
		for _, imp := range pkg.Imports {
			for prefix, homes := range owners {
				if strings.HasPrefix(imp, prefix) && !contains(homes, room) {
					t.Errorf("%s imports %s; only %v may", room, imp, homes)
				}
			}
			if !strings.HasPrefix(imp, module) {
				if room == "." && strings.Contains(imp, ".") {
					t.Errorf("the domain package imports %s; it must use the standard library only", imp)
				}
				continue
			}
			dep := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
			switch {
			case room == ".":
				t.Errorf("the domain package imports %s", imp)
			case dep == "", strings.HasPrefix(room, "cmd/"), strings.HasPrefix(room, "internal/"):
			case contains(allowed[room], dep):
			default:
				t.Errorf("%s imports %s: rooms import the domain, not each other (wire them in cmd/)", room, dep)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
