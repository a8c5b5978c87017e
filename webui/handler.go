package webui

import (
	"io/fs"
	"net/http"
	"strings"
)

// contentSecurityPolicy allows our own scripts, styles and connections
// (fetch, and WebSockets to the same host) only. xterm.js sets inline styles
// for its themes and cell sizes, hence 'unsafe-inline' for styles alone;
// scripts get no such exception. frame-ancestors stops clickjacking.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
	"img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Handler serves the web listener: api (the httpapi server's handler, whose
// Guard must be auth.Guard) under /v1/, the login under /login and /logout,
// and the front end everywhere else.
func Handler(api http.Handler, auth *Auth) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/", noStore(api))
	mux.HandleFunc("POST /login", auth.handleLogin)
	mux.HandleFunc("POST /logout", auth.handleLogout)
	mux.Handle("/", staticFiles(assets()))
	return securityHeaders(mux)
}

// securityHeaders sets the headers every answer carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		next.ServeHTTP(w, r)
	})
}

// noStore marks every API answer as not to be cached: they are live state,
// and one of them (POST /v1/proxy-env) carries a token shown only once, which
// must not stay behind in the browser's cache.
func noStore(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// staticFiles serves the front end. The pages route with the URL fragment,
// so every path that is not a file gets index.html. Nothing here is secret:
// the data comes from the guarded API.
func staticFiles(fsys fs.FS) http.Handler {
	files := http.FileServerFS(fsys)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" || name == "index.html" {
			serveIndex(w, r, fsys)
			return
		}
		if fi, err := fs.Stat(fsys, name); err != nil || fi.IsDir() {
			serveIndex(w, r, fsys)
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

func serveIndex(w http.ResponseWriter, r *http.Request, fsys fs.FS) {
	b, err := fs.ReadFile(fsys, "index.html")
	if err != nil {
		http.Error(w, "the web UI has no index.html: rebuild with `make build`", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write(b)
}
