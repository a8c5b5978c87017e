package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The browser test needs what `make test` installs: the web UI's npm
// packages and bundle (make webui) and Debian's chromium
// (webui/scripts/ensure-test-deps.sh).
const webSkip = "run `make test` (it installs chromium and the npm packages and builds the bundle), or `make webui && webui/scripts/ensure-test-deps.sh`"

var (
	webBinOnce sync.Once
	webBin     string
	webBinErr  error
)

// webBinary builds clauderon with the web UI bundle embedded (-tags webui).
func webBinary(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("../webui/dist/index.html"); err != nil {
		requireOrSkip(t, "the web UI bundle is not built: "+webSkip)
	}
	webBinOnce.Do(func() {
		webBin = filepath.Join(filepath.Dir(binPath), "clauderon-webui")
		cmd := exec.Command("go", "build", "-tags", "webui", "-o", webBin, "../cmd/clauderon")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			webBinErr = fmt.Errorf("build clauderon -tags webui: %v\n%s", err, out)
		}
	})
	if webBinErr != nil {
		t.Fatal(webBinErr)
	}
	return webBin
}

// requireOrSkip fails under `make test` (which sets CLAUDERON_REQUIRE_DOCKER
// and installs everything) and skips elsewhere.
func requireOrSkip(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CLAUDERON_REQUIRE_DOCKER") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
}

// startWebDaemon runs the daemon built with the bundle, its web UI on webAddr.
func (e *env) startWebDaemon(bin, webAddr string) *daemon {
	e.t.Helper()
	return e.startDaemonBin(bin, []string{"--http-listen", webAddr})
}

// artifactsDir is where test screenshots go (git-ignored).
func artifactsDir(t *testing.T, name string) string {
	dir, err := filepath.Abs(filepath.Join("..", "testdata", "artifacts", name))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	return dir
}

// TestWebUIInBrowser drives the web UI in Debian's Chromium: create a
// session from the form (with an allowed host), see it in the list, use its
// terminal (through the proxy to the fake provider), switch it to read-only
// and back (the provider's answer is refused, then given), reconnect,
// archive, unarchive and start it, reconcile, mint a proxy-env token and
// delete it, and delete the session. Screenshots of each page land in
// testdata/artifacts/web.
func TestWebUIInBrowser(t *testing.T) {
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		requireOrSkip(t, "Debian's chromium is not installed: "+webSkip)
	}
	if _, err := os.Stat("../webui/node_modules/playwright-core"); err != nil {
		requireOrSkip(t, "playwright-core is not installed: "+webSkip)
	}
	bin := webBinary(t)
	e := newEnv(t)
	const name = "web1"
	e.claim(name)
	webAddr := freeAddr(t)
	d := e.startWebDaemon(bin, webAddr)

	// The bundled UI is served, not the fallback page.
	resp, err := http.Get("http://" + webAddr + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET / = %d", resp.StatusCode)
	}

	artifacts := artifactsDir(t, "web")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "test/browser.mjs")
	cmd.Dir = "../webui"
	cmd.Env = append(os.Environ(), "WEB_URL=http://"+webAddr+"/", "IMAGE="+e.image, "SESSION="+name, "ARTIFACTS="+artifacts, "NOT_A_REPO="+t.TempDir())
	out, err := cmd.CombinedOutput()
	t.Logf("browser:\n%s", out)
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("run node: %v", err)
		}
		t.Fatalf("the browser test failed (%v); screenshots in %s\ndaemon log:\n%s", err, artifacts, d.output.String())
	}
	for _, shot := range []string{"01-list-empty", "02-create-error", "03-session-terminal", "03b-session-read-only", "04-list", "05-phone-list", "06-phone-terminal", "09-proxy-env", "10-manual-session", "07-confirm-delete", "08-list-after-delete"} {
		if _, err := os.Stat(filepath.Join(artifacts, shot+".png")); err != nil {
			t.Errorf("no screenshot %s: %v", shot, err)
		}
	}

	// What the browser did, seen from the CLI: the session is gone, and its
	// exchange with the provider was audited with the credential injected.
	// The proxy-env token (name-hand) was deleted there too.
	if out := e.must("list", "--archived"); strings.Contains(out, name) {
		t.Errorf("a session or token deleted in the browser is still listed:\n%s", out)
	}
	audit := e.must("audit", "--session", name)
	if !strings.Contains(audit, "api.anthropic.com") {
		t.Errorf("no audit line for the browser's request:\n%s", audit)
	}
	// The request made while the browser had the session read-only was
	// refused by the proxy, not just drawn so on the page.
	if !strings.Contains(audit, "is read-only") {
		t.Errorf("no refused request while the session was read-only:\n%s", audit)
	}
}
