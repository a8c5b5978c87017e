package cli

import "path/filepath"

// absPath makes a path absolute against the CLI's working directory: the
// daemon has a different one.
func absPath(p string) (string, error) { return filepath.Abs(p) }
