package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/clauderon/clauderon"
)

func mustParse(t *testing.T, text string) *Config {
	t.Helper()
	c, err := Parse([]byte(text), "config.toml")
	if err != nil {
		t.Fatalf("Parse: %v\n%s", err, text)
	}
	return c
}

func TestDefaults(t *testing.T) {
	c, err := Load(filepath.Join(t.TempDir(), "missing", FileName))
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		ProxyListen: "127.0.0.1:18080", HTTPListen: "127.0.0.1:3030", ConnectPorts: []int{443},
		DefaultAgent: "claude", DefaultBackend: "docker",
		Audit:      AuditConfig{MaxSizeMB: 100, MaxFiles: 5},
		Kubernetes: KubernetesConfig{Namespace: "clauderon"},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("defaults:\n%#v\nwant\n%#v", *c, *want)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	// An empty file is the defaults too.
	if e := mustParse(t, "# nothing\n"); !reflect.DeepEqual(e, want) {
		t.Fatalf("empty file: %#v", *e)
	}
}

const fullConfig = `
proxy_listen = "0.0.0.0:18080"
http_listen = "127.0.0.1:3131"
upstream_ca = ["/etc/corp/root.pem"]
resolve = ["api.anthropic.com:443=127.0.0.1:8443", "api.openai.com:443=10.0.0.9"]
connect_ports = [443, 8443]
default_agent = "codex"
default_image = "ghcr.io/org/agent:1"
default_backend = "kubernetes"
allow = ["pypi.org", "*.pythonhosted.org"]

[audit]
max_size_mb = 10
max_files = 2

[[rule]]
name = "corp-api"
hosts = ["api.corp.example", "*.Corp.example", "under_score.corp.example"]
header = "x-corp-token"
value = "Token ${secret}"
secret = "env:CORP_TOKEN|file:CORP_TOKEN"
env = ["CORP_TOKEN"]
strip = ["authorization", "X-Corp-Token"]

[[rule]]
name = "git-mirror"
host = "git.corp.example"
header = "Authorization"
value = "Basic ${basic:oauth2}"
secret = "cmd:pass show corp/git | head -1"
placeholder = "corp-placeholder"

[web]
token = "0123456789abcdef0123"

[kubernetes]
namespace = "agents"
storage_class = "fast"
proxy_url = "http://10.0.0.5:18080"
kubeconfig = "/home/me/.kube/config"
`

func TestFullConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	if err := os.WriteFile(path, []byte(fullConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if c.ProxyListen != "0.0.0.0:18080" || c.DefaultBackend != "kubernetes" || c.Audit.MaxFiles != 2 ||
		!reflect.DeepEqual(c.ConnectPorts, []int{443, 8443}) || c.Kubernetes.StorageClass != "fast" ||
		len(c.Resolve) != 2 || c.Web.Token != "0123456789abcdef0123" || len(c.Allow) != 2 {
		t.Fatalf("config not read as written: %#v", c)
	}
	rules, err := c.RuleList()
	if err != nil {
		t.Fatal(err)
	}
	want := []clauderon.Rule{
		{
			Name: "corp-api", Hosts: []clauderon.HostPattern{"api.corp.example", "*.corp.example", "under_score.corp.example"},
			Header: "X-Corp-Token", Template: "Token ${secret}", Strip: []string{"X-Corp-Token", "Authorization"},
			Source: "env:CORP_TOKEN|file:CORP_TOKEN", Placeholder: "clauderon-proxy-placeholder-corp-api", EnvVars: []string{"CORP_TOKEN"},
		},
		{
			Name: "git-mirror", Hosts: []clauderon.HostPattern{"git.corp.example"},
			Header: "Authorization", Template: "Basic ${basic:oauth2}", Strip: []string{"Authorization"},
			Source: "cmd:pass show corp/git | head -1", Placeholder: "corp-placeholder",
		},
	}
	if !reflect.DeepEqual(rules, want) {
		t.Fatalf("rules:\n%#v\nwant\n%#v", rules, want)
	}
	if !rules[0].Matches("eu.corp.example") || rules[0].Matches("corp.example") {
		t.Error("wildcard host does not behave")
	}
}

func TestInvalidConfigs(t *testing.T) {
	rule := func(extra string) string {
		return "[[rule]]\nname = \"r\"\nhosts = [\"api.example.com\"]\nheader = \"X-Key\"\nvalue = \"${secret}\"\nsecret = \"env:KEY\"\n" + extra
	}
	// A rule with one key replaced (TOML forbids repeating a key).
	ruleWith := func(key, val string) string {
		lines := strings.Split(rule(""), "\n")
		for i, l := range lines {
			if strings.HasPrefix(l, key+" = ") {
				lines[i] = key + " = " + val
				return strings.Join(lines, "\n")
			}
		}
		return rule(key + " = " + val + "\n")
	}
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"listen not host:port", `proxy_listen = "18080"`, []string{"proxy_listen", "HOST:PORT"}},
		{"listen port too big", `http_listen = "127.0.0.1:99999"`, []string{"http_listen", "port"}},
		{"connect port zero", `connect_ports = [443, 0]`, []string{"connect_ports", "0 is not a port"}},
		{"connect port too big", `connect_ports = [70000]`, []string{"connect_ports", "70000"}},
		{"connect ports empty", `connect_ports = []`, []string{"connect_ports", "empty"}},
		{"resolve syntax", `resolve = ["api.example.com:443=127.0.0.1:8443", "api.example.com=1.2.3.4"]`, []string{"resolve[1]", "HOST:PORT=ADDR"}},
		{"upstream ca empty", `upstream_ca = [""]`, []string{"upstream_ca[0]"}},
		{"unknown agent", `default_agent = "gpt"`, []string{"default_agent", "claude, codex, gemini"}},
		{"unknown backend", `default_backend = "podman"`, []string{"default_backend", "docker or kubernetes"}},
		{"image with space", `default_image = "a b"`, []string{"default_image"}},
		{"audit size", "[audit]\nmax_size_mb = 0", []string{"audit.max_size_mb"}},
		{"audit files", "[audit]\nmax_files = -1", []string{"audit.max_files"}},
		{"allow pattern", `allow = ["pypi.org", "*."]`, []string{"allow[1]", "invalid host pattern"}},
		{"allow prefix too wide", `allow = ["10.0.0.1", "10.0.0.0/4"]`, []string{"allow[1]", "too wide"}},
		{"web token short", "[web]\ntoken = \"short\"", []string{"web.token", "at least 16"}},
		{"namespace", "[kubernetes]\nnamespace = \"Bad_NS\"", []string{"kubernetes.namespace"}},
		{"proxy url scheme", "[kubernetes]\nproxy_url = \"ftp://x\"", []string{"kubernetes.proxy_url"}},
		{"proxy url with credentials", "[kubernetes]\nproxy_url = \"http://u:p@x:1\"", []string{"kubernetes.proxy_url"}},
		{"rule host pattern", ruleWith("hosts", `["api example.com"]`), []string{`rule #1 ("r")`, "hosts", "invalid host pattern"}},
		{"rule host non-ascii", ruleWith("hosts", `["\u212aey.example.com"]`), []string{"rule #1", "hosts", "xn--"}},
		{"rule host control char", ruleWith("hosts", `["a\u0000b.example.com"]`), []string{"rule #1", "hosts"}},
		{"rule wildcard tld", ruleWith("hosts", `["*.com"]`), []string{"rule #1", "hosts", "top-level domain"}},
		{"rule host carriage return", ruleWith("hosts", `["a\rb.example.com"]`), []string{"rule #1", "hosts"}},
		{"allow percent", `allow = ["exa%mple.com"]`, []string{"allow[0]"}},
		{"rule host and hosts", rule(`host = "x.example.com"`), []string{"rule #1", "host", "not both"}},
		{"rule no hosts", ruleWith("hosts", `[]`), []string{"rule #1", "hosts: missing"}},
		{"rule header token", ruleWith("header", `"X Key"`), []string{"rule #1", "header", "not a valid HTTP header name"}},
		{"rule header empty", ruleWith("header", `""`), []string{"rule #1", "header: missing"}},
		{"rule header reserved", ruleWith("header", `"host"`), []string{"rule #1", "header", "Host cannot be set"}},
		{"rule strip token", rule(`strip = ["a:b"]`), []string{"rule #1", "strip"}},
		{"rule value placeholder", ruleWith("value", `"Bearer ${token}"`), []string{"rule #1", "value", "unknown placeholder"}},
		{"rule value no secret", ruleWith("value", `"Bearer"`), []string{"rule #1", "value", "does not use ${secret}"}},
		{"rule value missing", ruleWith("value", `""`), []string{"rule #1", "value: missing"}},
		{"rule value line break", ruleWith("value", `"a\r\nX-Evil: ${secret}"`), []string{"rule #1", "value", "line break"}},
		{"rule secret kind", ruleWith("secret", `"vault:x"`), []string{"rule #1", "secret", "not env:NAME"}},
		{"rule secret empty", ruleWith("secret", `""`), []string{"rule #1", "secret: empty secret source"}},
		{"rule secret trailing pipe", ruleWith("secret", `"env:A|"`), []string{"rule #1", "secret", "ends with |"}},
		{"rule secret env name", ruleWith("secret", `"env:A-B"`), []string{"rule #1", "secret", "not a valid environment variable name"}},
		{"rule env name", rule(`env = ["1X"]`), []string{"rule #1", "env"}},
		{"rule env proxy", rule(`env = ["https_proxy"]`), []string{"rule #1", "env", "proxy settings"}},
		{"rule placeholder space", rule(`placeholder = "a b"`), []string{"rule #1", "placeholder"}},
		{"rule name", ruleWith("name", `"Bad Name"`), []string{"rule #1", "name"}},
		{"rule duplicate", rule("") + "\n" + rule(""), []string{`rule #2 ("r")`, "unique"}},
		{"two problems", "connect_ports = [0]\ndefault_backend = \"x\"", []string{"connect_ports", "default_backend"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse([]byte(tt.text), "/home/me/.clauderon/config.toml")
			if err == nil {
				t.Fatalf("accepted:\n%s\nas %#v", tt.text, c)
			}
			var ce *clauderon.Error
			if !errors.As(err, &ce) || ce.Code != clauderon.EINVALID {
				t.Fatalf("error %v (%T) is not EINVALID", err, err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "/home/me/.clauderon/config.toml: ") {
				t.Errorf("error %q does not start with the file", msg)
			}
			for _, w := range tt.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not contain %q", msg, w)
				}
			}
		})
	}
}

func TestWebTokenNotInErrors(t *testing.T) {
	_, err := Parse([]byte("[web]\ntoken = \"sekrit tok\""), "config.toml")
	if err == nil || strings.Contains(err.Error(), "sekrit") {
		t.Fatalf("error %v", err)
	}
}

func TestUnknownKeys(t *testing.T) {
	text := "proxy_lsten = \"x\"\n[audit]\nmax_size = 1\n[[rule]]\nname = \"r\"\nhots = [\"a.example\"]\n"
	_, err := Parse([]byte(text), "config.toml")
	if err == nil {
		t.Fatal("unknown keys accepted")
	}
	for _, k := range []string{"proxy_lsten", "audit.max_size", "rule.hots", "unknown key"} {
		if !strings.Contains(err.Error(), k) {
			t.Errorf("error %q does not name %q", err, k)
		}
	}
}

func TestMalformedTOMLGivesLine(t *testing.T) {
	tests := []struct{ text, want string }{
		{"proxy_listen = \"127.0.0.1:1\"\n\n\ndefault_agent = claude\n", "config.toml line 4:"},
		{"[audit]\nmax_files = 1\nmax_files = 2\n", "config.toml line 3:"},
		{"http_listen = \"a\n", "config.toml line 1:"},
		{"\n\nconnect_ports = \"443\"\n", "line 3"},  // a type mismatch
		{"\n[audit]\nmax_size_mb = 1.5\n", "line 3"}, // a float for an int
	}
	for _, tt := range tests {
		_, err := Parse([]byte(tt.text), "config.toml")
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want one containing %q", tt.text, err, tt.want)
		}
		if clauderon.ErrorCode(err) != clauderon.EINVALID {
			t.Errorf("%q: code %s", tt.text, clauderon.ErrorCode(err))
		}
	}
}

func TestLoadUnreadable(t *testing.T) {
	dir := t.TempDir() // a directory where the file should be
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), dir) {
		t.Fatalf("error %v does not name the path", err)
	}
}

func TestParseResolve(t *testing.T) {
	tests := []struct {
		in, hostport, addr string
	}{
		{"api.anthropic.com:443=127.0.0.1:8443", "api.anthropic.com:443", "127.0.0.1:8443"},
		{"API.Example.com:443=10.0.0.1", "api.example.com:443", "10.0.0.1:443"},
		{"api.example.com:443=::1", "api.example.com:443", "[::1]:443"},
		{"api.example.com:443=[::1]", "api.example.com:443", "[::1]:443"},
		{"api.example.com:443=[::1]:8443", "api.example.com:443", "[::1]:8443"},
		{"api.example.com:0443=localhost:8443", "api.example.com:443", "localhost:8443"},
		{"1.2.3.4:443=5.6.7.8", "1.2.3.4:443", "5.6.7.8:443"},
		{"[2001:db8::1]:443=127.0.0.1:1", "[2001:db8::1]:443", "127.0.0.1:1"},
	}
	for _, tt := range tests {
		hp, addr, err := ParseResolve(tt.in)
		if err != nil || hp != tt.hostport || addr != tt.addr {
			t.Errorf("ParseResolve(%q) = %q, %q, %v; want %q, %q", tt.in, hp, addr, err, tt.hostport, tt.addr)
		}
	}
	for _, in := range []string{
		"", "=", "api.example.com", "api.example.com=1.2.3.4", "api.example.com:443", "api.example.com:443=",
		"api.example.com:0=1.2.3.4", "api.example.com:65536=1.2.3.4", "api.example.com:https=1.2.3.4",
		":443=1.2.3.4", "*.example.com:443=1.2.3.4", "api.example.com:443=host", "api.example.com:443=h:0",
		"api.example.com:443=:8443", "api example.com:443=1.2.3.4", "api.example.com:+443=1.2.3.4",
	} {
		if hp, addr, err := ParseResolve(in); err == nil {
			t.Errorf("ParseResolve(%q) = %q, %q; want an error", in, hp, addr)
		} else if !strings.Contains(err.Error(), "HOST:PORT=ADDR") {
			t.Errorf("ParseResolve(%q) error %q does not show the syntax", in, err)
		}
	}
}

func TestShowMasksToken(t *testing.T) {
	const token = "tokCANARY5vXq9-abcdefghijklmnop"
	c := mustParse(t, "[web]\ntoken = \""+token+"\"\n")
	if c.Web.Token != token {
		t.Fatal("token not read")
	}
	outputs := []string{
		c.TOML(), c.String(), fmt.Sprint(c), fmt.Sprint(*c), fmt.Sprintf("%+v", c), fmt.Sprintf("%+v", *c),
		fmt.Sprintf("%#v", c), fmt.Sprintf("%#v", *c), fmt.Sprintf("%v %+v %#v", c.Web, c.Web, c.Web),
	}
	for _, out := range outputs {
		if strings.Contains(out, "CANARY") {
			t.Errorf("token shown in %q", out)
		}
	}
	if !strings.Contains(c.TOML(), `token = "[REDACTED 31 chars]"`) {
		t.Errorf("TOML does not show the token masked:\n%s", c.TOML())
	}
	// Every key shows, so users see what they can set.
	for _, k := range []string{"proxy_listen", "http_listen", "upstream_ca", "resolve", "connect_ports", "default_agent",
		"default_image", "default_backend", "allow", "[audit]", "max_size_mb", "max_files", "[web]", "[kubernetes]",
		"namespace", "storage_class", "proxy_url", "kubeconfig"} {
		if !strings.Contains(c.TOML(), k) {
			t.Errorf("TOML lacks %s", k)
		}
	}
	// The rendering is valid TOML that reads back (without a token).
	c.Web.Token = ""
	// (Empty lists read back as empty rather than nil, so compare renderings.)
	if back := mustParse(t, c.TOML()); back.TOML() != c.TOML() {
		t.Errorf("round trip:\n%s\nwant\n%s", back, c)
	}
}

func TestRuleListRoundTrip(t *testing.T) {
	c := mustParse(t, fullConfig)
	c.Web.Token = ""
	back := mustParse(t, c.TOML())
	r1, _ := c.RuleList()
	r2, err := back.RuleList()
	if err != nil || !reflect.DeepEqual(r1, r2) {
		t.Fatalf("rules differ after config show round trip: %v\n%#v\n%#v", err, r1, r2)
	}
}

func TestHome(t *testing.T) {
	t.Setenv(HomeEnv, "/srv/clauderon")
	if h, err := Home(); err != nil || h != "/srv/clauderon" {
		t.Errorf("Home() = %q, %v", h, err)
	}
	wd, _ := os.Getwd()
	t.Setenv(HomeEnv, "rel")
	if h, err := Home(); err != nil || h != filepath.Join(wd, "rel") {
		t.Errorf("relative Home() = %q, %v; want it made absolute", h, err)
	}
	t.Setenv(HomeEnv, "")
	t.Setenv("HOME", "/home/someone")
	if h, err := Home(); err != nil || h != "/home/someone/.clauderon" {
		t.Errorf("default Home() = %q, %v", h, err)
	}
}
