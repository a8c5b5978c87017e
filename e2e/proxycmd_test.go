package e2e

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/clauderon/clauderon"
	"github.com/clauderon/clauderon/internal/fakeprovider"
	"github.com/clauderon/clauderon/internal/testutil"
)

// TestProxyCommandWithCurl runs `clauderon proxy` the way the README shows,
// with curl as the client: no token is refused, the right token gets the real
// credential injected, the audit command shows it, and SIGHUP picks up a
// changed secret file.
func TestProxyCommandWithCurl(t *testing.T) {
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed: apt-get install -y curl")
	}
	p := fakeprovider.MustStart(t, fakeprovider.Config{})
	dir := t.TempDir()
	caFile := filepath.Join(dir, "provider-ca.pem")
	if err := os.WriteFile(caFile, p.CAPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	secrets := filepath.Join(home, "secrets")
	if err := os.MkdirAll(secrets, 0o700); err != nil {
		t.Fatal(err)
	}
	secretFile := filepath.Join(secrets, "CLAUDE_CODE_OAUTH_TOKEN")
	first := canaryOAuth + "-first"
	if err := os.WriteFile(secretFile, []byte(first+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	addr := freeAddr(t)
	token := "e2e-proxy-token-0123456789abcdef"
	cmd := exec.Command(binPath, "--home", home, "proxy", "--listen", addr, "--session-token", token,
		"--session-name", "by-hand", "--resolve", "api.anthropic.com:443="+p.Addr(), "--upstream-ca", caFile)
	cmd.Env = (&env{}).daemonEnv()
	logs := &testutil.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-done
		if strings.Contains(logs.String(), "CANARY") {
			t.Errorf("real credential in the proxy's log:\n%s", logs.String())
		}
	})
	waitListening(t, addr, logs)

	ca := filepath.Join(home, "proxy-ca.pem")
	curl := func(user string, headers ...string) (code string, body string) {
		args := []string{"-sS", "-o", "-", "-w", "\n%{http_code}", "--cacert", ca,
			"--proxy", "http://" + user + "@" + addr, "https://api.anthropic.com/v1/messages",
			"-H", "content-type: application/json", "-d", `{"model":"m","messages":[{"role":"user","content":"via curl"}]}`}
		for _, h := range headers {
			args = append(args, "-H", h)
		}
		out, _ := exec.Command("curl", args...).CombinedOutput()
		s := strings.TrimSpace(string(out))
		i := strings.LastIndex(s, "\n")
		if i < 0 {
			return s, ""
		}
		if strings.Contains(s, "CANARY") {
			t.Errorf("real credential reached curl:\n%s", s)
		}
		return s[i+1:], s[:i]
	}

	// No or wrong token: 407 on CONNECT (curl reports the proxy's refusal).
	if out, _ := exec.Command("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--proxy", "http://"+addr,
		"--cacert", ca, "https://api.anthropic.com/v1/messages").CombinedOutput(); !strings.Contains(string(out), "407") {
		t.Fatalf("no token: %s", out)
	}
	if out, _ := exec.Command("curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--proxy", "http://me:wrong@"+addr,
		"--cacert", ca, "https://api.anthropic.com/v1/messages").CombinedOutput(); !strings.Contains(string(out), "407") {
		t.Fatalf("wrong token: %s", out)
	}

	code, body := curl("me:"+token, "Authorization: Bearer sk-ant-oat01-clauderon-proxy-placeholder")
	if code != "200" || !strings.Contains(body, "fake-provider says: via curl") {
		t.Fatalf("with token: %s %s", code, body)
	}
	last := lastModelCall(t, p)
	if last.Authorization != "Bearer "+first {
		t.Fatalf("provider got %q", last.Authorization)
	}

	// Rotate the secret file and reload with SIGHUP.
	second := canaryOAuth + "-second"
	if err := os.WriteFile(secretFile, []byte(second), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "credentials reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("no reload:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if code, _ := curl("me:" + token); code != "200" {
		t.Fatalf("after reload: %s", code)
	}
	if got := lastModelCall(t, p).Authorization; got != "Bearer "+second {
		t.Fatalf("after SIGHUP the provider got %q", got)
	}

	// The audit command reads what the proxy wrote.
	out, err := exec.Command(binPath, "--home", home, "audit", "--json", "--session", "by-hand").Output()
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("CANARY")) {
		t.Fatalf("real credential in the audit log:\n%s", out)
	}
	var injected, denied int
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var ev clauderon.AuditEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		if ev.AuthInjected && ev.Host == "api.anthropic.com" && ev.Status == 200 && ev.Rule == "anthropic-oauth" {
			injected++
		}
	}
	all, err := exec.Command(binPath, "--home", home, "audit", "--json").Output()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(all)), "\n") {
		var ev clauderon.AuditEvent
		_ = json.Unmarshal([]byte(line), &ev)
		if ev.Status == 407 && ev.Decision == clauderon.DecisionDenied {
			denied++
		}
	}
	if injected != 2 || denied != 2 {
		t.Fatalf("audit: %d injected (want 2), %d denied 407s (want 2):\n%s", injected, denied, all)
	}
	table, err := exec.Command(binPath, "--home", home, "audit").Output()
	if err != nil || !strings.Contains(string(table), "api.anthropic.com") {
		t.Fatalf("audit table: %v\n%s", err, table)
	}
}

// TestProxyRefusesInsecureSecretFile: a group-readable secret file stops the
// proxy with a message naming the file and the fix.
func TestProxyRefusesInsecureSecretFile(t *testing.T) {
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, "secrets"), 0o700); err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(home, "secrets", "CLAUDE_CODE_OAUTH_TOKEN")
	if err := os.WriteFile(f, []byte(canaryOAuth), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(binPath, "--home", home, "proxy", "--listen", "127.0.0.1:0", "--session-token", "0123456789abcdef0123")
	cmd.Env = (&env{}).daemonEnv()
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("proxy started with a world-readable secret file:\n%s", out)
	}
	if !strings.Contains(string(out), f) || !strings.Contains(string(out), "chmod 600") || strings.Contains(string(out), "CANARY") {
		t.Fatalf("unclear or leaky error:\n%s", out)
	}
}

func lastModelCall(t *testing.T, p *fakeprovider.Provider) fakeprovider.Recorded {
	t.Helper()
	reqs := p.Requests()
	for i := len(reqs) - 1; i >= 0; i-- {
		if reqs[i].Path == "/v1/messages" {
			return reqs[i]
		}
	}
	t.Fatal("no model call reached the provider")
	return fakeprovider.Recorded{}
}

// waitListening waits until the proxy's log says it listens.
func waitListening(t *testing.T, addr string, logs *testutil.SyncBuffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), "proxy listening") {
		if time.Now().After(deadline) {
			t.Fatalf("proxy did not start on %s:\n%s", addr, logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
