package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/internal/fakeprovider"
)

// The real agent CLIs (Claude Code, Codex, Gemini CLI) in the images
// scripts/build-agent-image.sh builds, against the fake providers, through
// the real daemon and proxy. `make test` builds the images first (make
// agent-images).

const (
	canaryOpenAI = "sk-proj-CANARY-0pen-ai-key-e2e-must-never-leak-0123456789abcdef"
	canaryGemini = "AIzaSy-CANARY-gem1ni-key-e2e-must-never-leak-0123456"
)

// agentHosts are the hosts the agents talk to. Every one is resolved to the
// fake provider, so nothing leaves the machine: the providers' hosts are
// served (the proxy intercepts them), the others (update checks, telemetry,
// plugin lists) are tunnelled to the fake, whose certificate the agents do
// not trust, so those calls fail as they would offline. A test fails when an
// agent reaches a host missing here.
var agentHosts = []string{
	"api.anthropic.com", "statsig.anthropic.com", "downloads.claude.ai", "mcp-proxy.anthropic.com", "claude.ai", "platform.claude.com",
	"api.openai.com", "chatgpt.com", "ab.chatgpt.com", "api.github.com", "github.com", "raw.githubusercontent.com",
	"generativelanguage.googleapis.com", "play.googleapis.com", "oauth2.googleapis.com", "cloudcode-pa.googleapis.com",
	"registry.npmjs.org", "storage.googleapis.com", "sentry.io", "o1158394.ingest.us.sentry.io",
}

// agentCase is one agent with one kind of credential.
type agentCase struct {
	agent       string
	hostEnv     string // the real credential, as the daemon's environment has it
	placeholder string // what the container gets instead
	host        string // the provider's host
	modelPath   func(path string) bool
	// header reports whether a request carries the real credential in the
	// provider's header, and no other credential.
	header func(r fakeprovider.Recorded) bool
}

var (
	claudeOAuth = agentCase{
		agent: "claude", hostEnv: "CLAUDE_CODE_OAUTH_TOKEN=" + canaryOAuth,
		placeholder: "sk-ant-oat01-clauderon-proxy-placeholder", host: "api.anthropic.com",
		modelPath: func(p string) bool { return p == "/v1/messages" },
		header: func(r fakeprovider.Recorded) bool {
			return r.Authorization == "Bearer "+canaryOAuth && r.XAPIKey == ""
		},
	}
	claudeAPIKey = agentCase{
		agent: "claude", hostEnv: "ANTHROPIC_API_KEY=" + canaryAPIKey,
		placeholder: "sk-ant-api03-clauderon-proxy-placeholder", host: "api.anthropic.com",
		modelPath: func(p string) bool { return p == "/v1/messages" },
		header: func(r fakeprovider.Recorded) bool {
			return r.XAPIKey == canaryAPIKey && r.Authorization == ""
		},
	}
	codexKey = agentCase{
		agent: "codex", hostEnv: "OPENAI_API_KEY=" + canaryOpenAI,
		placeholder: "sk-proj-clauderon-proxy-placeholder", host: "api.openai.com",
		modelPath: func(p string) bool { return p == "/v1/responses" },
		header: func(r fakeprovider.Recorded) bool {
			return r.Authorization == "Bearer "+canaryOpenAI
		},
	}
	geminiKey = agentCase{
		agent: "gemini", hostEnv: "GEMINI_API_KEY=" + canaryGemini,
		placeholder: "clauderon-proxy-placeholder-gemini", host: "generativelanguage.googleapis.com",
		modelPath: func(p string) bool { return strings.HasPrefix(p, "/v1beta/models/") },
		header: func(r fakeprovider.Recorded) bool {
			return r.XGoogAPIKey == canaryGemini && r.Authorization == ""
		},
	}
)

// agentImage is the image scripts/build-agent-image.sh builds for agent
// (`make agent-images`). Missing, it fails under `make test` and skips
// otherwise, saying how to build it.
func agentImage(t *testing.T, agent string) string {
	t.Helper()
	out, err := exec.Command("../scripts/build-agent-image.sh", "--print-ref", agent).Output()
	if err != nil {
		t.Fatalf("build-agent-image.sh --print-ref %s: %v", agent, err)
	}
	ref := strings.TrimSpace(string(out))
	if exec.Command("docker", "image", "inspect", ref).Run() != nil {
		msg := fmt.Sprintf("image %s is not built: run `make agent-images` (scripts/build-agent-image.sh %s)", ref, agent)
		if os.Getenv("CLAUDERON_REQUIRE_DOCKER") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return ref
}

// newAgentEnv is an env whose fake provider echoes credentials back and
// whose daemon resolves every agent host to it.
func newAgentEnv(t *testing.T, c agentCase) *env {
	e := newEnv(t)
	e.provider = fakeprovider.MustStart(t, fakeprovider.Config{EchoCredential: true, Hosts: agentHosts})
	if err := os.WriteFile(e.caFile, e.provider.CAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, h := range agentHosts {
		e.daemonArgs = append(e.daemonArgs, "--resolve", e.provider.Resolve(h))
	}
	e.startDaemon(c.hostEnv)
	return e
}

func TestAgentClaudeOAuth(t *testing.T)  { t.Parallel(); testAgentPrint(t, claudeOAuth, "ac-oauth") }
func TestAgentClaudeAPIKey(t *testing.T) { t.Parallel(); testAgentPrint(t, claudeAPIKey, "ac-key") }
func TestAgentCodex(t *testing.T)        { t.Parallel(); testAgentPrint(t, codexKey, "ax-codex") }
func TestAgentGemini(t *testing.T)       { t.Parallel(); testAgentPrint(t, geminiKey, "ag-gemini") }

// testAgentPrint: `create --print` with the real CLI prints the provider's
// answer, the provider got the real credential in its header, the audit log
// says it was injected, and the real secret is nowhere the agent can see.
func testAgentPrint(t *testing.T, c agentCase, name string) {
	image := agentImage(t, c.agent)
	e := newAgentEnv(t, c)
	live := name + "-live"
	e.claim(name, live)

	prompt := "say hello to " + name
	r := e.clauderon("create", "--print", "--agent", c.agent, "--name", name, "--prompt", prompt, "--image", image)
	logs := e.clauderon("logs", name)
	if r.code != 0 {
		t.Fatalf("create --print: exit %d\nstdout: %s\nstderr: %s\nlogs: %s\nprovider saw: %s", r.code, r.stdout, r.stderr, logs.stdout, summary(e.provider.Requests()))
	}
	// The provider echoed the credential it got; the agent must have been
	// handed the placeholder in its place.
	want := "fake-provider says: " + prompt + " [credential: " + c.placeholder + "]"
	if !strings.Contains(r.stdout, want) {
		t.Fatalf("create --print did not print the provider's answer %q:\nstdout: %s\nstderr: %s\nprovider saw: %s", want, r.stdout, r.stderr, summary(e.provider.Requests()))
	}
	for _, out := range []string{r.stdout, r.stderr, logs.stdout, logs.stderr} {
		if leaked(out) != "" {
			t.Fatalf("the agent received the real secret:\n%s", out)
		}
	}

	checkProviderSaw(t, e, c)
	checkAudit(t, e, c, name)

	// Canary scan: the container's configuration and its whole filesystem.
	container := "clauderon-" + name
	inspect := dockerCLI(t, "inspect", container)
	if leaked(string(inspect)) != "" {
		t.Fatalf("real credential in docker inspect:\n%s", inspect)
	}
	if !bytes.Contains(inspect, []byte("="+c.placeholder)) {
		t.Fatalf("placeholder %s missing from the container's environment:\n%s", c.placeholder, inspect)
	}
	scanExport(t, container, 1000)

	// A running agent: no process's environment or arguments hold it.
	e.must("create", "--agent", c.agent, "--name", live, "--image", image)
	scanProcesses(t, "clauderon-"+live, c.agent)
	e.must("delete", live)
	e.must("delete", name)
}

// checkProviderSaw: every model call carried the real credential in the
// provider's header; no request carried a placeholder upstream.
func checkProviderSaw(t *testing.T, e *env, c agentCase) {
	t.Helper()
	var model, upgrades int
	for _, req := range e.provider.Requests() {
		if req.Host != c.host && req.Host != c.host+":443" {
			continue
		}
		if strings.Contains(req.Credential(), "placeholder") {
			t.Errorf("a placeholder reached the provider: %s %s %q", req.Method, req.Path, req.Credential())
		}
		if req.Method == "GET" && strings.EqualFold(req.Header.Get("Upgrade"), "websocket") {
			// Codex's WebSocket transport: the upgrade must carry the
			// credential too.
			upgrades++
			if !c.header(req) {
				t.Errorf("WebSocket upgrade %s without the real credential: Authorization %q", req.Path, req.Authorization)
			}
		}
		if req.Method == "POST" && c.modelPath(req.Path) {
			model++
			if !c.header(req) {
				t.Errorf("model call %s: Authorization %q x-api-key %q x-goog-api-key %q", req.Path, req.Authorization, req.XAPIKey, req.XGoogAPIKey)
			}
		}
	}
	if model == 0 {
		t.Fatalf("the provider saw no model call: %s", summary(e.provider.Requests()))
	}
	t.Logf("%s: %d model calls, %d WebSocket upgrades, %d requests in all", c.agent, model, upgrades, len(e.provider.Requests()))
}

// checkAudit: the session's audit lines show the injection on the
// provider's host, and no request went to a host the test did not resolve
// (which would have left the machine).
func checkAudit(t *testing.T, e *env, c agentCase, name string) {
	t.Helper()
	out := e.must("audit", "--session", name, "--json")
	var injected bool
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var ev clauderon.AuditEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("audit line %q: %v", line, err)
		}
		if ev.Host == c.host && c.modelPath(ev.Path) && ev.AuthInjected && ev.Decision == clauderon.DecisionAllowed {
			injected = true
		}
		if !slices.Contains(agentHosts, ev.Host) {
			t.Errorf("%s reached %s, which the test does not resolve to the fake: add it to agentHosts", c.agent, ev.Host)
		}
	}
	if !injected {
		t.Fatalf("no auth_injected audit line for %s on %s:\n%s", name, c.host, out)
	}
}

// scanProcesses waits until the agent runs in container, then reads every
// process's arguments and environment from the host's /proc (the engine
// lists the container's processes by host pid; the container's own
// no-new-privileges and dropped capabilities would hide a non-dumpable
// process from a scan inside it) and fails on the canary.
func scanProcesses(t *testing.T, container, agent string) {
	t.Helper()
	var dump strings.Builder
	var procs int
	deadline := time.Now().Add(90 * time.Second)
	for {
		dump.Reset()
		procs = 0
		out, err := exec.Command("docker", "top", container, "-eo", "pid").Output()
		if err == nil {
			for _, f := range strings.Fields(string(out))[1:] { // after the PID header
				cmdline, err1 := os.ReadFile("/proc/" + f + "/cmdline")
				environ, err2 := os.ReadFile("/proc/" + f + "/environ")
				if err1 != nil || err2 != nil {
					continue // gone already
				}
				procs++
				fmt.Fprintf(&dump, "== %s cmdline: %s\n== %s environ: %s\n", f, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '}), f, bytes.ReplaceAll(environ, []byte{0}, []byte{' '}))
			}
		}
		if strings.Contains(dump.String(), "/"+agent) || strings.Contains(dump.String(), "cmdline: "+agent) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never showed a running %s (docker top: %v):\n%s", container, agent, err, dump.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	if !strings.Contains(dump.String(), "HTTPS_PROXY=") {
		t.Fatalf("no environment seen: the scan read nothing (run the tests as root):\n%s", dump.String())
	}
	if leak := leaked(dump.String()); leak != "" {
		t.Fatalf("real credential in a process's environment or arguments in %s:\n%s", container, dump.String())
	}
	t.Logf("%s: scanned the environment and arguments of %d processes", container, procs)
}

// realSecrets are every real credential the tests hand a daemon.
var realSecrets = []string{canaryOAuth, canaryAPIKey, canaryOpenAI, canaryGemini}

// leaked returns the real secret s holds, or "".
func leaked(s string) string {
	for _, v := range realSecrets {
		if strings.Contains(s, v) {
			return v
		}
	}
	return ""
}

// summary is one line per request, for failure messages.
func summary(reqs []fakeprovider.Recorded) string {
	var b strings.Builder
	for _, r := range reqs {
		fmt.Fprintf(&b, "\n  %s %s%s?%s", r.Method, r.Host, r.Path, r.Query)
	}
	return b.String()
}

// ansi matches terminal escape sequences, so tests read a screen's text.
var ansi = regexp.MustCompile(`\x1b(\[[0-9;?<>=]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)|[()][0-9A-Za-z]|[=>78cDEHM])`)

// cursorRight matches the cursor moves (forward, to a column) a terminal UI
// uses in place of spaces.
var cursorRight = regexp.MustCompile(`\x1b\[[0-9]*[CG]`)

// plain is what a terminal shows as text, escapes removed (cursor moves to
// the right become a space).
func plain(s string) string {
	return ansi.ReplaceAllString(cursorRight.ReplaceAllString(s, " "), "")
}
