package main_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/clauderon/clauderon/internal/fakeprovider"
	"github.com/clauderon/clauderon/internal/testimage"
)

// agentPath is the test agent built once for the package, as it ships in the
// test image: static and stripped.
var agentPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "testagent-")
	if err != nil {
		panic(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	agentPath, err = testimage.BuildAgent(ctx, dir)
	cancel()
	if err != nil {
		os.RemoveAll(dir)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// runAgent runs the agent with exactly env (nothing inherited, as in a
// container) and stdin.
func runAgent(t *testing.T, env []string, stdin string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, agentPath, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("run agent: %v", err)
	}
	return result{cmd.ProcessState.ExitCode(), out.String(), errb.String()}
}

// provider starts a fake provider and returns the environment that makes the
// agent call it directly and trust its CA.
func provider(t *testing.T, cfg fakeprovider.Config) (*fakeprovider.Provider, []string) {
	p := fakeprovider.MustStart(t, cfg)
	ca, err := p.WriteCAFile(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return p, []string{"SSL_CERT_FILE=" + ca, "ANTHROPIC_BASE_URL=" + p.URL()}
}

func TestPrintModeOAuthPlaceholder(t *testing.T) {
	p, env := provider(t, fakeprovider.Config{})
	env = append(env, "CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-placeholder")
	r := runAgent(t, env, "", "--dangerously-skip-permissions", "--print", "--verbose", "say hello")
	if r.code != 0 || r.stdout != "fake-provider says: say hello\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	reqs := p.Requests()
	if len(reqs) != 1 {
		t.Fatalf("%d requests, want 1", len(reqs))
	}
	if got := reqs[0]; got.Authorization != "Bearer sk-ant-oat01-placeholder" || got.XAPIKey != "" ||
		got.Header.Get("Anthropic-Beta") != "oauth-2025-04-20" || got.Path != "/v1/messages" {
		t.Fatalf("request %+v", got)
	}
}

func TestPrintModeAPIKeyPlaceholder(t *testing.T) {
	p, env := provider(t, fakeprovider.Config{})
	env = append(env, "ANTHROPIC_API_KEY=sk-ant-api03-placeholder")
	r := runAgent(t, env, "", "-p", "hi")
	if r.code != 0 {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	if got := p.Requests()[0]; got.XAPIKey != "sk-ant-api03-placeholder" || got.Authorization != "" {
		t.Fatalf("request %+v", got)
	}
}

func TestPrintModePromptFromStdin(t *testing.T) {
	_, env := provider(t, fakeprovider.Config{})
	env = append(env, "ANTHROPIC_API_KEY=k")
	r := runAgent(t, env, "from stdin\n", "--print")
	if r.stdout != "fake-provider says: from stdin\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestPrintModeRejectedCredentialFails(t *testing.T) {
	_, env := provider(t, fakeprovider.Config{Credentials: []string{"real"}})
	env = append(env, "CLAUDE_CODE_OAUTH_TOKEN=placeholder")
	r := runAgent(t, env, "", "--print", "hi")
	if r.code != 1 || !strings.Contains(r.stderr, "401") || !strings.Contains(r.stderr, "authentication_error") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestPrintModeWithoutCredentialFails(t *testing.T) {
	_, env := provider(t, fakeprovider.Config{})
	r := runAgent(t, env, "", "--print", "hi")
	if r.code != 1 || !strings.Contains(r.stderr, "CLAUDE_CODE_OAUTH_TOKEN") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestExitPrompt(t *testing.T) {
	r := runAgent(t, nil, "", "--dangerously-skip-permissions", "--print", "exit:3")
	if r.code != 3 || !strings.Contains(r.stderr, "exiting with 3") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

// TestThroughHTTPSProxy checks the agent sends its call through HTTPS_PROXY
// (a CONNECT tunnel, here a plain one to the fake provider) with the proxy
// URL's credentials, and verifies TLS for api.anthropic.com.
func TestThroughHTTPSProxy(t *testing.T) {
	p, env := provider(t, fakeprovider.Config{})
	env = env[:1] // keep SSL_CERT_FILE, drop ANTHROPIC_BASE_URL: the real host
	var mu sync.Mutex
	var connects []string
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		connects = append(connects, r.Method+" "+r.Host+" "+r.Header.Get("Proxy-Authorization"))
		mu.Unlock()
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		up, err := net.Dial("tcp", p.Addr())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer up.Close()
		w.WriteHeader(http.StatusOK)
		down, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return
		}
		defer down.Close()
		go io.Copy(up, buf)
		io.Copy(down, up)
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })

	env = append(env, "CLAUDE_CODE_OAUTH_TOKEN=placeholder", "HTTPS_PROXY=http://session:tok@"+ln.Addr().String())
	r := runAgent(t, env, "", "--print", "via proxy")
	if r.code != 0 || r.stdout != "fake-provider says: via proxy\n" {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(connects) != 1 || connects[0] != "CONNECT api.anthropic.com:443 Basic c2Vzc2lvbjp0b2s=" {
		t.Fatalf("proxy saw %q", connects)
	}
	if got := p.Requests()[0]; got.SNI != "api.anthropic.com" || got.Host != "api.anthropic.com" {
		t.Fatalf("provider saw %+v", got)
	}
}

func TestInteractive(t *testing.T) {
	_, env := provider(t, fakeprovider.Config{})
	env = append(env, "CLAUDE_CODE_OAUTH_TOKEN=placeholder")
	r := runAgent(t, env, "second question\n/echo plain\n/size\n/exit 5\nnever read\n", "--dangerously-skip-permissions", "first")
	if r.code != 5 {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	want := []string{
		"clauderon test agent ready",
		"fake-provider says: first",
		"> fake-provider says: second question",
		"> plain",
		"> size none",
		"> ",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("stdout:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

func TestInteractiveFailedCallGoesOn(t *testing.T) {
	r := runAgent(t, nil, "q\n", "--dangerously-skip-permissions")
	if r.code != 0 || !strings.Contains(r.stdout, "> error: not logged in") {
		t.Fatalf("exit %d, stdout %q", r.code, r.stdout)
	}
}

func TestSubcommands(t *testing.T) {
	dir := t.TempDir()
	r := runAgent(t, []string{"B=2", "A=1", "HOME=/h"}, "", "env")
	if r.stdout != "A=1\nB=2\nHOME=/h\n" {
		t.Fatalf("env: %q", r.stdout)
	}
	if r := runAgent(t, []string{"HOME=/h"}, "", "id"); !strings.HasSuffix(r.stdout, " home=/h\n") || !strings.HasPrefix(r.stdout, "uid=") {
		t.Fatalf("id: %q", r.stdout)
	}
	f := dir + "/f"
	if r := runAgent(t, nil, "", "write", f, "content"); r.code != 0 {
		t.Fatalf("write: %d %s", r.code, r.stderr)
	}
	if r := runAgent(t, nil, "", "cat", f); r.stdout != "content\n" {
		t.Fatalf("cat: %q", r.stdout)
	}
	if r := runAgent(t, nil, "", "write", dir+"/missing/f", "x"); r.code != 1 {
		t.Fatalf("write into a missing dir: exit %d", r.code)
	}
}

func TestSteps(t *testing.T) {
	dir := t.TempDir()
	r := runAgent(t, []string{"HOME=/h"}, "", "steps", "write", dir+"/f", "x", "--", "cat", dir+"/missing", "--", "cat", dir+"/f", "--", "nope")
	want := "$ write " + dir + "/f x\nwrote " + dir + "/f\nexit 0\n" +
		"$ cat " + dir + "/missing\ntest agent: open " + dir + "/missing: no such file or directory\nexit 1\n" +
		"$ cat " + dir + "/f\nx\nexit 0\n" +
		"$ nope\nunknown step \"nope\"\nexit 2\n"
	if r.code != 2 || r.stdout != want {
		t.Fatalf("exit %d, stdout:\n%s\nwant:\n%s", r.code, r.stdout, want)
	}
}
