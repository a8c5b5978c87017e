//go:build !webui

package webui

import (
	"embed"
	"io/fs"
)

// A plain `go build` has no bundle: it serves a page that says how to build
// one. `make build` runs npm and builds with -tags webui.
//
//go:embed fallback
var fallback embed.FS

// Built reports whether the bundled front end is embedded.
const Built = false

func assets() fs.FS {
	sub, err := fs.Sub(fallback, "fallback")
	if err != nil {
		panic(err) // the embed pattern above guarantees the directory
	}
	return sub
}
