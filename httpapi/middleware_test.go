package httpapi

import (
	"net/http"
	"testing"

	"github.com/clauderon/clauderon"
)

// TestGuardIsSwappable shows the seam the web UI's listener will use: its
// own Middleware in place of RefuseBrowsers, over the same routes.
func TestGuardIsSwappable(t *testing.T) {
	t.Parallel()
	requireToken := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Test-Token") != "open-sesame" {
				writeJSON(w, http.StatusUnauthorized, errorBody{Error: clauderon.Errorf(clauderon.EUNAUTHORIZED, "log in first")})
				return
			}
			next.ServeHTTP(w, r)
		})
	}
	s := NewServer(ServerConfig{Sessions: newMemService(), Guard: requireToken})
	if rec := httptestRecorder(s, "GET", "/v1/sessions"); rec.Code != http.StatusUnauthorized {
		t.Errorf("without the token: status %d, want 401", rec.Code)
	}
	rec := httptestRecorder(s, "GET", "/v1/sessions", "X-Test-Token", "open-sesame", "Origin", "http://127.0.0.1:3030")
	if rec.Code != http.StatusOK {
		t.Errorf("with the token (and an Origin, which this guard allows): status %d, want 200", rec.Code)
	}
}
