package session

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/clauderon/clauderon"
)

func cred(name, placeholder, secret string, hosts []clauderon.HostPattern, env ...string) clauderon.Credential {
	return clauderon.Credential{
		Rule:   clauderon.Rule{Name: name, Hosts: hosts, Placeholder: placeholder, EnvVars: env, Header: "Authorization", Template: "Bearer ${secret}"},
		Secret: clauderon.NewSecret(secret),
	}
}

func TestPlaceholderEnv(t *testing.T) {
	anth := []clauderon.HostPattern{"api.anthropic.com"}
	oauth := cred("anthropic-oauth", "sk-ant-oat01-clauderon-proxy-placeholder", "sk-ant-oat01-REAL", anth, "CLAUDE_CODE_OAUTH_TOKEN")
	key := cred("anthropic-api-key", "sk-ant-api03-clauderon-proxy-placeholder", "sk-ant-api03-REAL", anth, "ANTHROPIC_API_KEY")
	openai := cred("openai", "sk-proj-ph", "sk-proj-REAL", []clauderon.HostPattern{"api.openai.com"}, "OPENAI_API_KEY", "CODEX_API_KEY")
	tests := []struct {
		name  string
		creds []clauderon.Credential
		want  []string
	}{
		{"oauth only", []clauderon.Credential{oauth}, []string{"CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-clauderon-proxy-placeholder"}},
		{"api key only", []clauderon.Credential{key}, []string{"ANTHROPIC_API_KEY=sk-ant-api03-clauderon-proxy-placeholder"}},
		{"both: oauth wins, no api key placeholder", []clauderon.Credential{oauth, key}, []string{"CLAUDE_CODE_OAUTH_TOKEN=sk-ant-oat01-clauderon-proxy-placeholder"}},
		{"openai sets both names", []clauderon.Credential{openai}, []string{"OPENAI_API_KEY=sk-proj-ph", "CODEX_API_KEY=sk-proj-ph"}},
		{"unconfigured credential gets nothing", []clauderon.Credential{cred("x", "ph", "", anth, "X")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := placeholderEnv(clauderon.NewCredentialSet(tt.creds))
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			for _, kv := range got {
				if strings.Contains(kv, "REAL") {
					t.Fatalf("real secret in container env: %s", kv)
				}
			}
		})
	}
}

func TestProxyURLCarriesToken(t *testing.T) {
	tok, hash := NewToken()
	if HashToken(tok) != hash || len(tok) < 40 {
		t.Fatalf("token %q hash %q", tok, hash)
	}
	u, err := url.Parse(proxyURL("s1", tok, 18080))
	if err != nil {
		t.Fatal(err)
	}
	if pw, _ := u.User.Password(); pw != tok || u.User.Username() != "s1" || u.Host != "host.docker.internal:18080" {
		t.Fatalf("proxy url %v", u)
	}
	ts := NewTokens()
	ts.Set(hash, clauderon.Identity{Session: "s1"})
	if id, ok := ts.Authenticate(tok); !ok || id.Session != "s1" {
		t.Fatalf("authenticate: %v %v", id, ok)
	}
	if _, ok := ts.Authenticate(tok + "x"); ok {
		t.Fatal("wrong token accepted")
	}
	ts.Remove(hash)
	if _, ok := ts.Authenticate(tok); ok {
		t.Fatal("revoked token accepted")
	}
}

func TestClaudeJSON(t *testing.T) {
	var cfg map[string]any
	if err := json.Unmarshal(claudeJSON([]string{"ANTHROPIC_API_KEY=sk-ant-api03-clauderon-proxy-placeholder"}), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["hasCompletedOnboarding"] != true {
		t.Fatalf("onboarding not marked complete: %v", cfg)
	}
	if trusted := cfg["projects"].(map[string]any)[clauderon.ContainerWorkspace].(map[string]any)["hasTrustDialogAccepted"]; trusted != true {
		t.Fatalf("workspace not trusted: %v", cfg)
	}
	approved := cfg["customApiKeyResponses"].(map[string]any)["approved"].([]any)
	if len(approved) != 1 || len(approved[0].(string)) != 20 || !strings.HasSuffix("sk-ant-api03-clauderon-proxy-placeholder", approved[0].(string)) {
		t.Fatalf("approved %q is not the placeholder's last 20 chars", approved[0])
	}
}

func TestParseMemory(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "512m": 512 << 20, "2g": 2 << 30, "1.5g": 3 << 29, "104857600": 100 << 20} {
		if got, err := ParseMemory(in); err != nil || got != want {
			t.Errorf("ParseMemory(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"x", "-1g", "1k", "12q", "1e30g"} {
		if _, err := ParseMemory(in); clauderon.ErrorCode(err) != clauderon.EINVALID {
			t.Errorf("ParseMemory(%q) err = %v, want EINVALID", in, err)
		}
	}
}
