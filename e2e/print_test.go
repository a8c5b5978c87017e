package e2e

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/clauderon/clauderon"
)

// TestPrintSessionEndToEnd is the main job: create --print against a local
// provider prints the provider's answer, the provider saw the real token, and
// nothing the container holds has it.
func TestPrintSessionEndToEnd(t *testing.T) {
	e := newEnv(t)
	e.claim("p1", "p2")
	e.startDaemon()

	r := e.clauderon("create", "--print", "--name", "p1", "--prompt", "say hello", "--image", e.image)
	if r.code != 0 {
		t.Fatalf("create --print: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "fake-provider says: say hello") {
		t.Fatalf("create --print did not print the provider's answer:\n%s\nstderr: %s", r.stdout, r.stderr)
	}

	// The provider received the real token as a Bearer credential.
	var modelCalls int
	for _, req := range e.provider.Requests() {
		if req.Path != "/v1/messages" {
			continue
		}
		modelCalls++
		if req.Authorization != "Bearer "+canaryOAuth || req.XAPIKey != "" {
			t.Errorf("provider got Authorization %q x-api-key %q", req.Authorization, req.XAPIKey)
		}
	}
	if modelCalls != 1 {
		t.Fatalf("provider saw %d model calls, want 1: %+v", modelCalls, e.provider.Requests())
	}

	// list, status, logs.
	var list []clauderon.Session
	if err := json.Unmarshal([]byte(e.must("list", "--json")), &list); err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Name != "p1" || list[0].Status != clauderon.StatusExited || list[0].ExitCode == nil || *list[0].ExitCode != 0 {
		t.Fatalf("list: %+v", list)
	}
	if out := e.must("logs", "p1"); !strings.Contains(out, "fake-provider says: say hello") {
		t.Fatalf("logs: %q", out)
	}
	if out := e.must("status", "p1"); !strings.Contains(out, "exited(0)") {
		t.Fatalf("status: %q", out)
	}

	// The audit log shows the injection for this session.
	var injected bool
	for _, line := range strings.Split(strings.TrimSpace(e.must("audit", "--session", "p1", "--json")), "\n") {
		var ev clauderon.AuditEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if ev.Host == "api.anthropic.com" && ev.Path == "/v1/messages" && ev.AuthInjected && ev.Decision == clauderon.DecisionAllowed {
			injected = true
		}
	}
	if !injected {
		t.Fatalf("no auth_injected audit line for p1:\n%s", e.must("audit", "--session", "p1"))
	}

	// Canary scan: the container's config and its whole filesystem.
	name := "clauderon-p1"
	inspect := dockerCLI(t, "inspect", name)
	if bytes.Contains(inspect, []byte("CANARY")) {
		t.Fatalf("real credential in docker inspect:\n%s", inspect)
	}
	if !bytes.Contains(inspect, []byte("CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-clauderon-proxy-placeholder")) {
		t.Fatalf("placeholder missing from the container's environment:\n%s", inspect)
	}
	scanExport(t, name, 3)
	for _, f := range []string{"audit.jsonl", "clauderon.db"} {
		b, err := os.ReadFile(filepath.Join(e.home, f))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte("CANARY")) {
			t.Fatalf("real credential in %s", f)
		}
	}

	// A failing agent's exit code comes back.
	r = e.clauderon("create", "--print", "--name", "p2", "--prompt", "exit:3", "--image", e.image)
	if r.code != 3 {
		t.Fatalf("exit code: got %d want 3\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	e.must("delete", "p1")
	e.must("delete", "p2")
	if out := e.must("list"); strings.Contains(out, "p1") {
		t.Fatalf("deleted session still listed:\n%s", out)
	}
	if err := exec.Command("docker", "inspect", name).Run(); err == nil {
		t.Fatal("container still exists after delete")
	}
	if r := e.clauderon("status", "p1"); r.code == 0 || !strings.Contains(r.stderr, `no session named "p1"`) {
		t.Fatalf("status after delete: %d %q", r.code, r.stderr)
	}
}

// TestAPIKeyMode: with only an API key on the host, the container gets the
// API-key placeholder and the provider gets x-api-key.
func TestAPIKeyMode(t *testing.T) {
	e := newEnv(t)
	e.claim("k1")
	e.startDaemon("ANTHROPIC_API_KEY=" + canaryAPIKey)
	r := e.clauderon("create", "--print", "--name", "k1", "--prompt", "key mode", "--image", e.image)
	if r.code != 0 || !strings.Contains(r.stdout, "fake-provider says: key mode") {
		t.Fatalf("exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	for _, req := range e.provider.Requests() {
		if req.Path == "/v1/messages" && (req.XAPIKey != canaryAPIKey || req.Authorization != "") {
			t.Fatalf("provider got x-api-key %q authorization %q", req.XAPIKey, req.Authorization)
		}
	}
	inspect := dockerCLI(t, "inspect", "clauderon-k1")
	if bytes.Contains(inspect, []byte("CANARY")) || !bytes.Contains(inspect, []byte("ANTHROPIC_API_KEY=sk-ant-api03-clauderon-proxy-placeholder")) {
		t.Fatalf("container env wrong:\n%s", inspect)
	}
	if bytes.Contains(inspect, []byte("CLAUDE_CODE_OAUTH_TOKEN")) {
		t.Fatal("OAuth placeholder set without an OAuth token on the host")
	}
	e.must("delete", "k1")
}

// scanExport reads the container's whole filesystem (docker export) and
// fails on any real secret. It looks for the values themselves, not a marker
// word: the agents' own binaries hold the word CANARY for reasons of their
// own. minFiles guards against a scan that saw nothing.
func scanExport(t *testing.T, container string, minFiles int) {
	t.Helper()
	cmd := exec.Command("docker", "export", container)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(out)
	files := 0
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		files++
		if leak := leaked(string(b)); leak != "" {
			t.Fatalf("real credential in the container's file %s", h.Name)
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if files < minFiles {
		t.Fatalf("docker export held only %d files: the scan saw nothing", files)
	}
	t.Logf("%s: scanned %d files", container, files)
}
